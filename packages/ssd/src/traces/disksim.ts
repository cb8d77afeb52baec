/**
 * DiskSim ASCII traces, the format MQSim and SSDsim read (MQSim's IO_Flow_Trace_Based.cpp,
 * SSDsim's example.ascii): one request per line, five whitespace-separated columns
 * `arrival_ns device lba_sector size_sectors type`, type 0 = write, 1 = read.
 */
import type { TraceRequest } from '../trace.ts';
import { MAX_BYTE_ADDRESS, SECTOR, checkRange, lines, parseError, request } from './common.ts';
import type { TraceInput } from './common.ts';

const NAMES = ['arrival time', 'device', 'lba', 'size', 'type'];

/** Character codes the fast path reads. */
const SPACE = 32;
const TAB = 9;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
/** Largest sector end: (sector + sectors) · 512 ≤ 2^53 (common.ts checkRange). */
const MAX_SECTOR_END = MAX_BYTE_ADDRESS / SECTOR;

/**
 * The common line in one pass: five fields of digits (the arrival time may have a fraction)
 * separated by spaces or tabs, integer sector and size, size ≥ 1, type 0 or 1, the range within
 * 2^53 bytes. Returns the request, or null for anything else: the checked path below then
 * parses the line and names what is wrong (so both paths accept exactly the same lines).
 */
function fastRequest(raw: string, line: number): TraceRequest | null {
  const n = raw.length;
  let arrivalNs = 0;
  let device = 0;
  let sector = 0;
  let sectors = 0;
  let type = 0;
  let at = 0;
  for (let field = 0; field < 5; field++) {
    if (field > 0) {
      const gap = at;
      while (at < n && (raw.charCodeAt(at) === SPACE || raw.charCodeAt(at) === TAB)) at++;
      if (at === gap) return null;
    }
    const start = at;
    let dot = -1;
    let digits = 0;
    while (at < n) {
      const c = raw.charCodeAt(at);
      if (c >= ZERO && c <= NINE) {
        digits = digits * 10 + (c - ZERO);
        at++;
      } else if (c === DOT && dot < 0 && field === 0) dot = at++;
      else break;
    }
    // At least one digit, none missing after a dot.
    if (at === start || dot === start || dot === at - 1) return null;
    // Up to 15 digits and no fraction, the digits summed as read are the exact integer Number()
    // gives (every partial sum stays below 2^53); anything else is read by Number().
    const value = dot < 0 && at - start <= 15 ? digits : Number(raw.slice(start, at));
    if (field === 0) arrivalNs = value;
    else if (field === 1) device = value;
    else if (field === 2) sector = value;
    else if (field === 3) sectors = value;
    else type = value;
  }
  if (at !== n) return null;
  if (!Number.isFinite(arrivalNs) || !Number.isSafeInteger(device) || sectors < 1 || !(type === 0 || type === 1)) return null;
  if (!Number.isSafeInteger(sector) || !Number.isSafeInteger(sectors) || sector + sectors > MAX_SECTOR_END) return null;
  return request(arrivalNs, device, sector, sectors, type === 1 ? 'read' : 'write', line);
}

/**
 * One line of DiskSim ASCII (1-based `line`): the request, or null for a blank line or a '#'
 * comment. A malformed line throws SsdError TRACE_PARSE naming `fileName:line`.
 */
export function parseDiskSimLine(line: string, lineNo: number, fileName: string): TraceRequest | null {
  const raw = line.trim();
  if (raw === '' || raw.startsWith('#')) return null;
  const fast = fastRequest(raw, lineNo);
  if (fast !== null) return fast;
  const where = `${fileName}:${lineNo}`;
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
  return request(arrivalNs, device, sector, sectors, type === 1 ? 'read' : 'write', lineNo);
}

/**
 * Parses DiskSim ASCII. Blank lines and lines starting with '#' are skipped. A malformed line
 * throws SsdError TRACE_PARSE naming `fileName:line`. (A file is read from its bytes by
 * disksim-bytes.ts, which hands this module's per-line parser every line it does not read itself.)
 */
export function parseDiskSim(text: TraceInput, fileName = '<trace>'): TraceRequest[] {
  const out: TraceRequest[] = [];
  let i = 0;
  for (const line of lines(text)) {
    i++;
    const r = parseDiskSimLine(line, i, fileName);
    if (r !== null) out.push(r);
  }
  return out;
}
