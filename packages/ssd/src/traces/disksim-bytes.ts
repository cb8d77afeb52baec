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

/**
 * The line of bytes [a, b) (its \n and \r gone): a request, or nothing for a blank line or a
 * comment; anything but the common shape goes to the checked parser.
 */
function parseLine(bytes: Uint8Array, a: number, b: number, s: State): void {
  let at = a;
  while (at < b && (bytes[at] === SPACE || bytes[at] === TAB)) at++;
  if (at === b) return;
  if (bytes[at] === HASH) return;
  let arrivalNs = 0;
  let device = 0;
  let sector = 0;
  let sectors = 0;
  let type = 0;
  for (let field = 0; field < 5; field++) {
    if (field > 0) {
      const gap = at;
      while (at < b && (bytes[at] === SPACE || bytes[at] === TAB)) at++;
      if (at === gap) return slow(bytes, a, b, s);
    }
    const start = at;
    let dot = -1;
    let digits = 0;
    while (at < b) {
      const c = bytes[at]!;
      if (c >= ZERO && c <= NINE) {
        digits = digits * 10 + (c - ZERO);
        at++;
      } else if (c === DOT && dot < 0 && field === 0) dot = at++;
      else break;
    }
    if (at === start || dot === start || dot === at - 1) return slow(bytes, a, b, s);
    // Up to 15 digits without a fraction the sum is exact (below 2^53); otherwise Number() reads it.
    const value = dot < 0 && at - start <= 15 ? digits : numberOf(bytes, start, at);
    if (field === 0) arrivalNs = value;
    else if (field === 1) device = value;
    else if (field === 2) sector = value;
    else if (field === 3) sectors = value;
    else type = value;
  }
  while (at < b && (bytes[at] === SPACE || bytes[at] === TAB)) at++;
  if (at !== b) return slow(bytes, a, b, s);
  if (!Number.isFinite(arrivalNs) || !Number.isSafeInteger(device) || sectors < 1 || !(type === 0 || type === 1)) return slow(bytes, a, b, s);
  if (!Number.isSafeInteger(sector) || !Number.isSafeInteger(sectors) || sector + sectors > MAX_SECTOR_END) return slow(bytes, a, b, s);
  s.out.push(request(arrivalNs, device, sector, sectors, type === 1 ? 'read' : 'write', s.line));
}

/** The checked parser on the decoded line (it throws TRACE_PARSE naming the line, or returns the request). */
function slow(bytes: Uint8Array, a: number, b: number, s: State): void {
  const r = parseDiskSimLine(lineDecoder.decode(bytes.subarray(a, b)), s.line, s.fileName);
  if (r !== null) s.out.push(r);
}

/** Parses the complete lines of bytes [from, to) (to just past a \n, or the end of the file); returns where it stopped. */
function parseLines(bytes: Uint8Array, from: number, to: number, last: boolean, s: State): number {
  let a = from;
  for (;;) {
    let b = bytes.indexOf(LF, a);
    if (b < 0 || b >= to) {
      if (!last) return a;
      b = to;
    }
    s.line++;
    const end = b > a && bytes[b - 1] === CR ? b - 1 : b;
    parseLine(bytes, a, end, s);
    if (b === to) return to;
    a = b + 1;
  }
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
