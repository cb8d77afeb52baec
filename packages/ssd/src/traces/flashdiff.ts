/**
 * The project's own trace format (docs/SPEC.md "flashdiff trace v1"): DiskSim's columns without
 * the device and with a letter for the operation, so TRIM can be written down:
 *   # flashdiff-trace v1
 *   arrival_ns op lba_sector size_sectors      (op: R read, W write, T trim)
 * The first line is the header above (it is how the format is detected). '#' lines are comments.
 */
import type { TraceRequest } from '../trace.ts';
import { checkRange, lines, parseError, request } from './common.ts';
import type { TraceInput } from './common.ts';

export const FLASHDIFF_HEADER = '# flashdiff-trace v1';

export function parseFlashdiffTrace(text: TraceInput, fileName = '<trace>'): TraceRequest[] {
  const out: TraceRequest[] = [];
  let header = false;
  let i = -1;
  for (const line of lines(text)) {
    i++;
    const raw = line.trim();
    if (!header) {
      if (raw === '') continue;
      if (raw !== FLASHDIFF_HEADER) parseError(`${fileName}:${i + 1}`, `a flashdiff trace starts with '${FLASHDIFF_HEADER}'`);
      header = true;
      continue;
    }
    if (raw === '' || raw.startsWith('#')) continue;
    const where = `${fileName}:${i + 1}`;
    const f = raw.split(/\s+/);
    if (f.length !== 4) parseError(where, `expected 4 columns (arrival_ns op lba size), found ${f.length}`);
    const [t, op, lba, size] = f as [string, string, string, string];
    if (!/^\d+(\.\d+)?$/.test(t)) parseError(where, `arrival time '${t}' is not a non-negative number`);
    const kind = op === 'R' ? 'read' : op === 'W' ? 'write' : op === 'T' ? 'trim' : parseError(where, `op must be R, W or T, got '${op}'`);
    if (!/^\d+$/.test(lba)) parseError(where, `lba '${lba}' is not a non-negative integer`);
    if (!/^\d+$/.test(size)) parseError(where, `size '${size}' is not a positive integer`);
    checkRange(where, Number(lba), Number(size), lba, size);
    out.push(request(Number(t), 0, Number(lba), Number(size), kind, i + 1));
  }
  if (!header) parseError(`${fileName}:1`, `a flashdiff trace starts with '${FLASHDIFF_HEADER}'`);
  return out;
}

/** Writes requests in this format (used to convert traces; round-trips with the parser). */
export function formatFlashdiffTrace(requests: readonly TraceRequest[]): string {
  const body = requests.map((r) => `${r.arrivalNs} ${r.isTrim ? 'T' : r.isRead ? 'R' : 'W'} ${r.sector} ${r.sectors}`);
  return [FLASHDIFF_HEADER, ...body].join('\n') + '\n';
}
