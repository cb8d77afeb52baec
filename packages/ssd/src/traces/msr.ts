/**
 * MSR Cambridge / SNIA IOTTA CSV block traces (Narayanan et al., "Write off-loading", FAST '08;
 * the SNIA IOTTA repository's MSR-Cambridge set): one request per line,
 * `Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime`, where Timestamp is a Windows
 * FILETIME (100 ns ticks since 1601), Type is Read or Write, Offset and Size are bytes and
 * ResponseTime is in 100 ns ticks. A header line naming the columns is allowed.
 */
import type { TraceRequest } from '../trace.ts';
import { MAX_BYTE_ADDRESS, SECTOR, checkRange, lines, parseError, request } from './common.ts';
import type { TraceInput } from './common.ts';

export const MSR_HEADER = 'Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime';

/** True when the line is the column header (any case, spaces allowed). */
export function isMsrHeader(line: string): boolean {
  return line.replace(/\s+/g, '').toLowerCase() === MSR_HEADER.toLowerCase();
}

/**
 * Parses MSR/SNIA CSV. Arrival times are relative to the earliest timestamp (ticks × 100 ns,
 * computed in BigInt: a FILETIME of ~1.3·10^17 is beyond a double's exact range). Byte ranges
 * that are not sector-aligned are widened to whole sectors.
 */
export function parseMsrCsv(text: TraceInput, fileName = '<trace>'): TraceRequest[] {
  // Timestamps as two exact doubles, ticks = high · 10^9 + low: FILETIMEs (~1.3·10^17) are beyond a
  // double's exact range, and BigInt per line costs more than the rest of the line.
  const parsed: { high: number; low: number; device: number; sector: number; sectors: number; read: boolean; line: number }[] = [];
  let minHigh = Infinity;
  let minLow = Infinity;
  let i = -1;
  for (const line of lines(text)) {
    i++;
    const raw = line.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    if (parsed.length === 0 && isMsrHeader(raw)) continue;
    const where = `${fileName}:${i + 1}`;
    const f = raw.split(',');
    if (f.length !== 7) parseError(where, `expected 7 comma-separated columns (${MSR_HEADER}), found ${f.length}`);
    const ts = f[0]!.trim();
    const disk = f[2]!.trim();
    const type = f[3]!.trim();
    const offset = f[4]!.trim();
    const size = f[5]!.trim();
    if (!DIGITS.test(ts)) parseError(where, `Timestamp '${ts}' is not a non-negative integer (100 ns ticks)`);
    if (!DIGITS.test(disk)) parseError(where, `DiskNumber '${disk}' is not a non-negative integer`);
    const read = type === 'Read' || type.toLowerCase() === 'read';
    if (!read && type !== 'Write' && type.toLowerCase() !== 'write') parseError(where, `Type must be Read or Write, got '${type}'`);
    if (!DIGITS.test(offset)) parseError(where, `Offset '${offset}' is not a non-negative integer (bytes)`);
    if (!DIGITS.test(size) || /^0+$/.test(size)) parseError(where, `Size '${size}' is not a positive integer (bytes)`);
    // Up to 15 digits a byte count is an exact double (< 2^53); longer ones go through BigInt.
    let sector: number;
    let sectors: number;
    if (offset.length <= 15 && size.length <= 15 && Number(offset) + Number(size) <= MAX_BYTE_ADDRESS) {
      const start = Number(offset);
      const end = start + Number(size);
      sector = Math.floor(start / SECTOR);
      sectors = Math.ceil(end / SECTOR) - sector;
    } else {
      const start = BigInt(offset);
      const end = start + BigInt(size);
      if (BigInt(size) > BigInt(MAX_BYTE_ADDRESS)) parseError(where, `Size '${size}' overflows: more than 2^53 bytes`);
      if (end > BigInt(MAX_BYTE_ADDRESS)) parseError(where, `Offset '${offset}' + Size '${size}' ends beyond 2^53 bytes`);
      sector = Number(start / BigInt(SECTOR));
      sectors = Number((end + BigInt(SECTOR - 1)) / BigInt(SECTOR)) - sector;
    }
    checkRange(where, sector, sectors, offset, size);
    const high = ts.length > 9 ? Number(ts.slice(0, -9)) : 0;
    const low = Number(ts.length > 9 ? ts.slice(-9) : ts);
    if (high < minHigh || (high === minHigh && low < minLow)) {
      minHigh = high;
      minLow = low;
    }
    parsed.push({ high, low, device: Number(disk), sector, sectors, read, line: i + 1 });
  }
  return parsed.map((p) => request(((p.high - minHigh) * 1e9 + (p.low - minLow)) * 100, p.device, p.sector, p.sectors, p.read ? 'read' : 'write', p.line));
}

const DIGITS = /^\d+$/;
