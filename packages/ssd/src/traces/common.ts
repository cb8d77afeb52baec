/**
 * What every trace parser shares: the request record, the checks each line's address and size
 * pass (so a replay never sees an address it cannot step through), and the error helper.
 * Upstream counterpart: MQSim's Host_Components/IO_Flow_Trace_Based.cpp, which reads one format
 * and trusts it; here every format's line is checked where it is read.
 */
import { SsdError } from '../errors.ts';
import type { TraceRequest } from '../trace.ts';

export const SECTOR = 512;
/** 2^53: the largest byte address a double holds exactly (Number.MAX_SAFE_INTEGER + 1). */
export const MAX_BYTE_ADDRESS = 2 ** 53;

export function parseError(where: string, message: string): never {
  throw new SsdError('TRACE_PARSE', `${where}: ${message}`);
}

/**
 * Checks a request's sector range before it becomes a request: integers, at least one sector,
 * and its end (in bytes) at most 2^53, so page numbers stay exact integers and a replay loop over
 * them always advances (an LBA of 10^20 once made the replay spin forever on p++).
 */
export function checkRange(where: string, sector: number, sectors: number, rawSector: string, rawSize: string): void {
  if (!Number.isInteger(sector) || sector < 0) parseError(where, `lba '${rawSector}' is not a non-negative integer`);
  if (!Number.isInteger(sectors) || sectors < 1) parseError(where, `size must be an integer ≥ 1 sector (got '${rawSize}')`);
  if (sectors * SECTOR > MAX_BYTE_ADDRESS) parseError(where, `size '${rawSize}' overflows: ${rawSize} sectors is more than 2^53 bytes`);
  if ((sector + sectors) * SECTOR > MAX_BYTE_ADDRESS) parseError(where, `lba '${rawSector}' + size '${rawSize}' ends beyond 2^53 bytes`);
}

/** Builds a request (isTrim only when set, so DiskSim requests keep their old shape). */
export function request(arrivalNs: number, device: number, sector: number, sectors: number, kind: 'read' | 'write' | 'trim', line: number): TraceRequest {
  const r: TraceRequest = { arrivalNs, device, sector, sectors, isRead: kind === 'read', line };
  return kind === 'trim' ? { ...r, isTrim: true } : r;
}

/** The lines of a trace: its text split at \n or \r\n, or lines already read (see load.ts readLines). */
export type TraceInput = string | Iterable<string>;

export function lines(input: TraceInput): Iterable<string> {
  return typeof input === 'string' ? input.split(/\r?\n/) : input;
}
