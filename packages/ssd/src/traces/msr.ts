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
  const parsed: { ticks: bigint; device: number; sector: number; sectors: number; read: boolean; line: number }[] = [];
  let min: bigint | null = null;
  let i = -1;
  for (const line of lines(text)) {
    i++;
    const raw = line.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    if (parsed.length === 0 && isMsrHeader(raw)) continue;
    const where = `${fileName}:${i + 1}`;
    const f = raw.split(',').map((s) => s.trim());
    if (f.length !== 7) parseError(where, `expected 7 comma-separated columns (${MSR_HEADER}), found ${f.length}`);
    const [ts, , disk, type, offset, size] = f as [string, string, string, string, string, string, string];
    if (!/^\d+$/.test(ts)) parseError(where, `Timestamp '${ts}' is not a non-negative integer (100 ns ticks)`);
    if (!/^\d+$/.test(disk)) parseError(where, `DiskNumber '${disk}' is not a non-negative integer`);
    const t = type.toLowerCase();
    if (t !== 'read' && t !== 'write') parseError(where, `Type must be Read or Write, got '${type}'`);
    if (!/^\d+$/.test(offset)) parseError(where, `Offset '${offset}' is not a non-negative integer (bytes)`);
    if (!/^\d+$/.test(size) || BigInt(size) === 0n) parseError(where, `Size '${size}' is not a positive integer (bytes)`);
    const start = BigInt(offset);
    const end = start + BigInt(size);
    if (BigInt(size) > BigInt(MAX_BYTE_ADDRESS)) parseError(where, `Size '${size}' overflows: more than 2^53 bytes`);
    if (end > BigInt(MAX_BYTE_ADDRESS)) parseError(where, `Offset '${offset}' + Size '${size}' ends beyond 2^53 bytes`);
    const sector = Number(start / BigInt(SECTOR));
    const sectors = Number((end + BigInt(SECTOR - 1)) / BigInt(SECTOR)) - sector;
    checkRange(where, sector, sectors, offset, size);
    const ticks = BigInt(ts);
    if (min === null || ticks < min) min = ticks;
    parsed.push({ ticks, device: Number(disk), sector, sectors, read: t === 'read', line: i + 1 });
  }
  return parsed.map((p) => request(Number((p.ticks - min!) * 100n), p.device, p.sector, p.sectors, p.read ? 'read' : 'write', p.line));
}
