import { readFileSync } from 'node:fs';
import { SsdError } from './errors.ts';
import { parseDiskSim } from './traces/disksim.ts';

/** One request of a block trace (any format in traces/). */
export interface TraceRequest {
  /** Arrival time, ns from the start of the trace. */
  readonly arrivalNs: number;
  readonly device: number;
  /** Start address in 512-byte sectors. */
  readonly sector: number;
  /** Length in 512-byte sectors. */
  readonly sectors: number;
  readonly isRead: boolean;
  /** A TRIM / discard of the range (isRead is false); absent in formats that cannot say TRIM. */
  readonly isTrim?: boolean;
  /** 1-based line number in the file. */
  readonly line: number;
}

export const SECTOR_BYTES = 512;

/**
 * Parses the DiskSim ASCII format that MQSim and SSDsim read (see traces/disksim.ts; the other
 * formats and the format detection live in traces/load.ts). A malformed line throws SsdError
 * TRACE_PARSE naming `fileName:line`.
 */
export function parseTrace(text: string, fileName = '<trace>'): TraceRequest[] {
  return parseDiskSim(text, fileName);
}

/** Reads and parses a DiskSim trace file (TRACE_IO when it cannot be read). */
export function readTraceFile(path: string): TraceRequest[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SsdError('TRACE_IO', `${path}: cannot read the trace (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseTrace(text, path);
}
