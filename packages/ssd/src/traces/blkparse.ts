/**
 * blkparse's default text output (blktrace(8)/blkparse(1), the Linux block layer tracer):
 *   `  8,0    3        1     0.000000000   697  Q   W 223490 + 8 [kjournald]`
 * = device major,minor · cpu · sequence · seconds.nanoseconds · pid · action · RWBS ·
 * sector + sectors · [process]. Actions kept: Q (queued), D (issued to the device), C (completed);
 * one of them is replayed (default: D if the trace has any, else Q, else C). RWBS letters: R read,
 * W write, D discard (replayed as TRIM), F flush/FUA, S sync, M metadata, A read-ahead, N no data,
 * E secure erase (also a TRIM). Events without a sector range (flushes, plugs, notes) are skipped;
 * the per-CPU summary blkparse prints at the end ("CPU0 (8,0):", "Total (8,0):") ends the events.
 */
import type { TraceRequest } from '../trace.ts';
import { checkRange, lines, parseError, request } from './common.ts';
import type { TraceInput } from './common.ts';

export type BlkparseEvent = 'Q' | 'D' | 'C';
export const BLKPARSE_EVENTS: readonly BlkparseEvent[] = ['Q', 'D', 'C'];

/** dev cpu seq time pid action (what detection looks for). */
export const BLKPARSE_LINE = /^\s*\d+,\d+\s+\d+\s+\d+\s+\d+\.\d+\s+\d+\s+[A-Za-z]{1,2}\b/;
const SUMMARY = /^\s*(CPU\d+|Total)\s+\(/;

export interface BlkparseResult {
  requests: TraceRequest[];
  /** The action replayed. */
  event: BlkparseEvent;
}

/** Parses blkparse text; `event` forces the action replayed. */
export function parseBlkparse(text: TraceInput, fileName = '<trace>', event?: BlkparseEvent): BlkparseResult {
  const byEvent: Record<BlkparseEvent, TraceRequest[]> = { Q: [], D: [], C: [] };
  let i = -1;
  for (const raw of lines(text)) {
    i++;
    if (raw.trim() === '') continue;
    if (SUMMARY.test(raw)) break;
    const where = `${fileName}:${i + 1}`;
    if (!BLKPARSE_LINE.test(raw)) parseError(where, `not a blkparse event line (device cpu sequence seconds.ns pid action ...): '${raw.trim().slice(0, 60)}'`);
    const f = raw.trim().split(/\s+/);
    const action = f[5]! as BlkparseEvent;
    if (action !== 'Q' && action !== 'D' && action !== 'C') continue;
    if (event !== undefined && action !== event) continue;
    const rwbs = f[6] ?? '';
    // A sector range is "sector + count"; flushes and barriers have none.
    if (f[8] !== '+' || f[7] === undefined || f[9] === undefined) continue;
    if (!/^[RWDFSMANEB]+$/.test(rwbs)) parseError(where, `RWBS field '${rwbs}' has letters outside R W D F S M A N E B`);
    const kind = rwbs.includes('D') || rwbs.includes('E') ? 'trim' : rwbs.includes('W') ? 'write' : rwbs.includes('R') ? 'read' : null;
    if (kind === null) continue;
    if (!/^\d+$/.test(f[7]) || !/^\d+$/.test(f[9])) parseError(where, `sector range '${f[7]} + ${f[9]}' is not two non-negative integers`);
    const sectors = Number(f[9]);
    if (sectors === 0) continue;
    const sector = Number(f[7]);
    checkRange(where, sector, sectors, f[7], f[9]);
    const [secs, frac = ''] = f[3]!.split('.');
    const arrivalNs = Number(secs) * 1e9 + Number(frac.padEnd(9, '0').slice(0, 9));
    const [major, minor] = f[0]!.split(',').map(Number) as [number, number];
    byEvent[action].push(request(arrivalNs, major * 256 + minor, sector, sectors, kind, i + 1));
  }
  const chosen = event ?? (byEvent.D.length > 0 ? 'D' : byEvent.Q.length > 0 ? 'Q' : 'C');
  return { requests: byEvent[chosen], event: chosen };
}
