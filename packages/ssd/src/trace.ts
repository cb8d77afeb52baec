import { readFileSync } from 'node:fs';
import { SsdError } from './errors.ts';

/** One request of a DiskSim ASCII trace. */
export interface TraceRequest {
  /** Arrival time, ns from the start of the trace. */
  readonly arrivalNs: number;
  readonly device: number;
  /** Start address in 512-byte sectors. */
  readonly sector: number;
  /** Length in 512-byte sectors. */
  readonly sectors: number;
  readonly isRead: boolean;
  /** 1-based line number in the file. */
  readonly line: number;
}

export const SECTOR_BYTES = 512;

/**
 * Parses the DiskSim ASCII format that MQSim and SSDsim read: one request per line, five
 * whitespace-separated columns `arrival_ns device lba_sector size_sectors type` (type 0 = write,
 * 1 = read). Blank lines and lines starting with '#' are skipped. A malformed line throws
 * SsdError TRACE_PARSE naming `fileName:line`.
 */
export function parseTrace(text: string, fileName = '<trace>'): TraceRequest[] {
  const out: TraceRequest[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const where = `${fileName}:${i + 1}`;
    const fields = raw.split(/\s+/);
    if (fields.length !== 5) {
      throw new SsdError('TRACE_PARSE', `${where}: expected 5 columns (arrival device lba size type), found ${fields.length}`);
    }
    const nums = fields.map(Number);
    const names = ['arrival time', 'device', 'lba', 'size', 'type'];
    for (let k = 0; k < 5; k++) {
      if (!/^\d+(\.\d+)?$/.test(fields[k]!) || !Number.isFinite(nums[k]!)) {
        throw new SsdError('TRACE_PARSE', `${where}: ${names[k]} '${fields[k]}' is not a non-negative number`);
      }
    }
    const [arrivalNs, device, sector, sectors, type] = nums as [number, number, number, number, number];
    if (!Number.isInteger(sector) || !Number.isInteger(sectors) || sectors < 1) {
      throw new SsdError('TRACE_PARSE', `${where}: lba and size must be integers and size ≥ 1 (got ${fields[2]} ${fields[3]})`);
    }
    if (type !== 0 && type !== 1) throw new SsdError('TRACE_PARSE', `${where}: type must be 0 (write) or 1 (read), got '${fields[4]}'`);
    out.push({ arrivalNs, device, sector, sectors, isRead: type === 1, line: i + 1 });
  }
  return out;
}

/** Reads and parses a trace file (TRACE_IO when it cannot be read). */
export function readTraceFile(path: string): TraceRequest[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SsdError('TRACE_IO', `${path}: cannot read the trace (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseTrace(text, path);
}
