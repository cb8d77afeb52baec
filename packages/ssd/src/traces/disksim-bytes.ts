/**
 * DiskSim ASCII read straight from the file's bytes: one pass over each chunk read from the file,
 * no string per line, no split or regular expression; a line that is not the common shape (five
 * fields of ASCII digits separated by spaces or tabs) is decoded and handed to the checked
 * per-line parser in disksim.ts, so this path accepts exactly the lines that one accepts, with
 * the same requests and the same errors (test/trace-parse-equivalence.test.ts). The lines are
 * those of readLines in load.ts: split at \n, one \r before it dropped, a leading UTF-8 BOM
 * dropped. Upstream counterpart: MQSim's Host_Components/IO_Flow_Trace_Based.cpp, which reads
 * the same format with std::getline and a tokenizer per line.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { TraceRequest } from '../trace.ts';
import { MAX_BYTE_ADDRESS, SECTOR, request } from './common.ts';
import { parseDiskSimLine } from './disksim.ts';

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const HASH = 35;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const MAX_SECTOR_END = MAX_BYTE_ADDRESS / SECTOR;

/** Per-line decoder of the lines the byte path hands over (a BOM inside the file is kept, as readLines keeps it). */
const lineDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Reading state across chunks. */
interface State {
  line: number;
  readonly out: TraceRequest[];
  readonly fileName: string;
}

/** Reads the field value of bytes [start, end) (digits, the arrival time maybe with one dot) as Number() reads the text. */
function numberOf(bytes: Uint8Array, start: number, end: number): number {
  return Number(String.fromCharCode.apply(null, Array.from(bytes.subarray(start, end))));
}

/** The checked parser on the decoded line (it throws TRACE_PARSE naming the line, or returns the request or null). */
function slow(bytes: Uint8Array, a: number, b: number, s: State): void {
  const r = parseDiskSimLine(lineDecoder.decode(bytes.subarray(a, b)), s.line, s.fileName);
  if (r !== null) s.out.push(r);
}

/**
 * Parses the lines of bytes [from, to) in one loop (`last`: the file ends at `to`; otherwise an
 * incomplete last line waits for the next chunk). Each line is read field by field up to its \n:
 * the common line (disksim.ts fastRequest's rules: five fields of digits separated by spaces or
 * tabs, the arrival time maybe with a fraction, integer sector and size, size ≥ 1, type 0 or 1,
 * the range within 2^53 bytes; one \r before the \n) becomes a request at once; a line of
 * spaces and tabs, or one whose first other character is '#', is skipped; any other line (its
 * one \r before the \n dropped) goes to the checked parser. Returns where it stopped.
 */
function parseLines(bytes: Uint8Array, from: number, to: number, last: boolean, s: State): number {
  let a = from;
  while (a < to) {
    let at = a;
    while (at < to && (bytes[at] === SPACE || bytes[at] === TAB)) at++;
    let fast = at < to && bytes[at] !== LF && bytes[at] !== HASH;
    const skip = !fast && (at === to || bytes[at] === LF || bytes[at] === HASH);
    let arrivalNs = 0;
    let device = 0;
    let sector = 0;
    let sectors = 0;
    let type = 0;
    for (let field = 0; fast && field < 5; field++) {
      if (field > 0) {
        const gap = at;
        while (at < to && (bytes[at] === SPACE || bytes[at] === TAB)) at++;
        if (at === gap) fast = false;
      }
      const start = at;
      let dot = -1;
      let digits = 0;
      while (at < to) {
        const c = bytes[at]!;
        if (c >= ZERO && c <= NINE) {
          digits = digits * 10 + (c - ZERO);
          at++;
        } else if (c === DOT && dot < 0 && field === 0) dot = at++;
        else break;
      }
      if (at === start || dot === start || dot === at - 1) fast = false;
      // Up to 15 digits without a fraction the sum is exact (below 2^53); otherwise Number() reads it.
      const value = !fast ? 0 : dot < 0 && at - start <= 15 ? digits : numberOf(bytes, start, at);
      if (field === 0) arrivalNs = value;
      else if (field === 1) device = value;
      else if (field === 2) sector = value;
      else if (field === 3) sectors = value;
      else type = value;
    }
    if (fast) {
      while (at < to && (bytes[at] === SPACE || bytes[at] === TAB)) at++;
      // The line ends here: at \n, at \r\n, or at the end of the file.
      if (at < to && bytes[at] === CR && (at + 1 === to ? last : bytes[at + 1] === LF)) at++;
      if (at < to ? bytes[at] !== LF : !last) fast = false;
    }
    let b = fast ? at : bytes.indexOf(LF, at);
    if (b < 0 || b > to) b = to;
    if (b === to && !last) return a;
    s.line++;
    if (fast && Number.isFinite(arrivalNs) && Number.isSafeInteger(device) && sectors >= 1 && (type === 0 || type === 1) &&
      Number.isSafeInteger(sector) && Number.isSafeInteger(sectors) && sector + sectors <= MAX_SECTOR_END) {
      s.out.push(request(arrivalNs, device, sector, sectors, type === 1 ? 'read' : 'write', s.line));
    } else if (!skip) {
      slow(bytes, a, b > a && bytes[b - 1] === CR ? b - 1 : b, s);
    }
    a = b + 1;
  }
  return last ? to : a;
}

/** Parses DiskSim ASCII bytes (the whole file in memory). */
export function parseDiskSimBytes(bytes: Uint8Array, fileName = '<trace>'): TraceRequest[] {
  const s: State = { line: 0, out: [], fileName };
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  parseLines(bytes, bom, bytes.length, true, s);
  return s.out;
}

/**
 * Reads a DiskSim file in chunks of `chunkBytes` (a file of several GB is never held whole; a
 * line longer than a chunk grows the buffer) and parses it as {@link parseDiskSimBytes} does.
 * `ioError` makes the error for a read that fails.
 */
export function parseDiskSimFile(path: string, ioError: (e: unknown) => Error, fileName = path, chunkBytes = 4 << 20): TraceRequest[] {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioError(e);
  }
  const s: State = { line: 0, out: [], fileName };
  try {
    let buffer = Buffer.allocUnsafe(Math.max(1, chunkBytes));
    let filled = 0;
    let first = true;
    for (;;) {
      if (filled === buffer.length) {
        const grown = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(grown, 0, 0, filled);
        buffer = grown;
      }
      let n: number;
      try {
        n = readSync(fd, buffer, filled, buffer.length - filled, null);
      } catch (e) {
        throw ioError(e);
      }
      filled += n;
      let from = 0;
      if (first && (filled >= 3 || n === 0)) {
        first = false;
        if (filled >= 3 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf) from = 3;
      } else if (first) continue;
      const done = parseLines(buffer, from, filled, n === 0, s);
      if (n === 0) break;
      buffer.copy(buffer, 0, done, filled);
      filled -= done;
    }
  } finally {
    closeSync(fd);
  }
  return s.out;
}
