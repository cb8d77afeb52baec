/**
 * DiskSim ASCII read straight from the file's bytes: one pass over each chunk read from the file,
 * no string per line and no split: the common line (five fields of ASCII digits separated by
 * spaces or tabs) is matched by one sticky regular expression over the chunk as Latin-1 text
 * (native code from the start, where a byte loop runs interpreted through most of a small trace),
 * checked and made a request; a blank or '#' line is skipped, and any other line is decoded and
 * handed to the checked per-line parser in disksim.ts, so this path accepts exactly the lines that one accepts, with
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
const MAX_SECTOR_END = MAX_BYTE_ADDRESS / SECTOR;

/**
 * The common line (disksim.ts fastRequest's shape): spaces or tabs, five
 * fields of ASCII digits separated by spaces or tabs (the first maybe with one fraction: digits,
 * a dot, digits), spaces or tabs, one \r maybe, then \n (group 6) or the end of the text. The
 * values are Number() of each field's text.
 */
const COMMON_LINE = /[ \t]*(\d+(?:\.\d+)?)[ \t]+(\d+)[ \t]+(\d+)[ \t]+(\d+)[ \t]+(\d+)[ \t]*\r?(\n|$)/y;

/** Per-line decoder of the lines the byte path hands over (a BOM inside the file is kept, as readLines keeps it). */
const lineDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Reading state across chunks. */
interface State {
  line: number;
  readonly out: TraceRequest[];
  readonly fileName: string;
}

/** The checked parser on the decoded line (it throws TRACE_PARSE naming the line, or returns the request or null). */
function slow(bytes: Uint8Array, a: number, b: number, s: State): void {
  const r = parseDiskSimLine(lineDecoder.decode(bytes.subarray(a, b)), s.line, s.fileName);
  if (r !== null) s.out.push(r);
}

/**
 * The common lines from byte `a` on (COMMON_LINE over `text`, bytes [from, …) as Latin-1), each
 * checked (disksim.ts fastRequest's rules: size ≥ 1, type 0 or 1, integers where they must be,
 * the range within 2^53 bytes) and made a request, or handed to the checked parser; returns the first line's start that is not one (or the end of the file). A small
 * function of its own: V8 optimises its loop while it runs, where parseLines' whole body would be.
 */
function commonLines(text: string, bytes: Uint8Array, from: number, a: number, last: boolean, s: State): number {
  const re = COMMON_LINE;
  for (;;) {
    re.lastIndex = a - from;
    const m = re.exec(text);
    // Matched up to its \n, or to the end of the file (an unfinished line waits for the next chunk).
    if (m === null || (m[6] === '' && !last)) return a;
    const arrivalNs = Number(m[1]);
    const device = Number(m[2]);
    const sector = Number(m[3]);
    const sectors = Number(m[4]);
    const type = Number(m[5]);
    const b = from + re.lastIndex - (m[6] !== '' ? 1 : 0);
    s.line++;
    if (Number.isFinite(arrivalNs) && Number.isSafeInteger(device) && sectors >= 1 && (type === 0 || type === 1) &&
      Number.isSafeInteger(sector) && Number.isSafeInteger(sectors) && sector + sectors <= MAX_SECTOR_END) {
      s.out.push(request(arrivalNs, device, sector, sectors, type === 1 ? 'read' : 'write', s.line));
    } else {
      slow(bytes, a, b > a && bytes[b - 1] === CR ? b - 1 : b, s);
    }
    a = b + 1;
  }
}

/**
 * Parses the lines of bytes [from, to) (`last`: the file ends at `to`; otherwise an incomplete last
 * line waits for the next chunk). The common lines go through commonLines; of any other line, one
 * of spaces and tabs, or one whose first other character is '#', is skipped, and the rest (its one
 * \r before the \n dropped) go to the checked parser. Returns where it stopped.
 */
function parseLines(bytes: Uint8Array, from: number, to: number, last: boolean, s: State): number {
  // COMMON_LINE runs over the bytes as Latin-1 text (one character a byte: the same offsets): the
  // regular expression is native code from its first use, where a byte loop runs interpreted for
  // most of a small trace (tpcc-small's 7,000 lines: ~25 ms cold that way, ~12 ms this way).
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString('latin1');
  let a = from;
  while (a < to) {
    a = commonLines(text, bytes, from, a, last, s);
    if (a >= to) break;
    let b = bytes.indexOf(LF, a);
    if (b < 0 || b > to) b = to;
    if (b === to && !last) return a;
    s.line++;
    let at = a;
    while (at < b && (bytes[at] === SPACE || bytes[at] === TAB)) at++;
    if (at < b && bytes[at] !== HASH) slow(bytes, a, b > a && bytes[b - 1] === CR ? b - 1 : b, s);
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
