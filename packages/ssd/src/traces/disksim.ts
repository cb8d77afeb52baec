/**
 * DiskSim ASCII traces, the format MQSim and SSDsim read (MQSim's IO_Flow_Trace_Based.cpp,
 * SSDsim's example.ascii): one request per line, five whitespace-separated columns
 * `arrival_ns device lba_sector size_sectors type`, type 0 = write, 1 = read.
 */
import type { TraceRequest } from '../trace.ts';
import { checkRange, lines, parseError, request } from './common.ts';
import type { TraceInput } from './common.ts';

const NAMES = ['arrival time', 'device', 'lba', 'size', 'type'];

/**
 * Parses DiskSim ASCII. Blank lines and lines starting with '#' are skipped. A malformed line
 * throws SsdError TRACE_PARSE naming `fileName:line`.
 */
export function parseDiskSim(text: TraceInput, fileName = '<trace>'): TraceRequest[] {
  const out: TraceRequest[] = [];
  let i = -1;
  for (const line of lines(text)) {
    i++;
    const raw = line.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const where = `${fileName}:${i + 1}`;
    const fields = raw.split(/\s+/);
    if (fields.length !== 5) parseError(where, `expected 5 columns (arrival device lba size type), found ${fields.length}`);
    const nums = fields.map(Number);
    for (let k = 0; k < 5; k++) {
      if (!/^\d+(\.\d+)?$/.test(fields[k]!) || !Number.isFinite(nums[k]!)) parseError(where, `${NAMES[k]} '${fields[k]}' is not a non-negative number`);
    }
    const [arrivalNs, device, sector, sectors, type] = nums as [number, number, number, number, number];
    if (!Number.isInteger(sector) || !Number.isInteger(sectors) || sectors < 1) {
      parseError(where, `lba and size must be integers and size ≥ 1 (got ${fields[2]} ${fields[3]})`);
    }
    checkRange(where, sector, sectors, fields[2]!, fields[3]!);
    if (type !== 0 && type !== 1) parseError(where, `type must be 0 (write) or 1 (read), got '${fields[4]}'`);
    out.push(request(arrivalNs, device, sector, sectors, type === 1 ? 'read' : 'write', i + 1));
  }
  return out;
}
