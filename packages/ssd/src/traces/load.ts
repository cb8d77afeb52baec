/**
 * Reading a trace the way a user hands one over: the format detected from the content (or named),
 * then the rules every format shares — an empty trace is an error (or a warning), arrival times
 * that go backwards are an error naming the line (or the trace is sorted), and requests longer
 * than the device are split into device-sized pieces ({@link fitToDevice}).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { SsdError } from '../errors.ts';
import type { TraceRequest } from '../trace.ts';
import { BLKPARSE_LINE, parseBlkparse } from './blkparse.ts';
import type { BlkparseEvent } from './blkparse.ts';
import { SECTOR } from './common.ts';
import type { TraceInput } from './common.ts';
import { parseDiskSim } from './disksim.ts';
import { parseDiskSimFile } from './disksim-bytes.ts';
import { FLASHDIFF_HEADER, parseFlashdiffTrace } from './flashdiff.ts';
import { isMsrHeader, parseMsrCsv } from './msr.ts';

export type TraceFormat = 'disksim' | 'msr' | 'blkparse' | 'flashdiff';
export const TRACE_FORMATS: readonly TraceFormat[] = ['disksim', 'msr', 'blkparse', 'flashdiff'];

export interface TraceLoadOptions {
  /** The format, or 'auto' / undefined to detect it from the first lines. */
  readonly format?: TraceFormat | 'auto';
  /** Sort requests by arrival time (stable) instead of failing on one that goes backwards. */
  readonly sort?: boolean;
  /** An empty trace is a warning instead of an error. */
  readonly allowEmpty?: boolean;
  /** blkparse: the action replayed (default D, else Q, else C). */
  readonly blkparseEvent?: BlkparseEvent;
}

export interface LoadedTrace {
  readonly requests: TraceRequest[];
  readonly format: TraceFormat;
  /** True when the requests were reordered by --sort. */
  readonly sorted: boolean;
  /** blkparse: the action replayed. */
  readonly blkparseEvent?: BlkparseEvent;
  /** Things the user should hear about (an empty trace allowed, a sort done). */
  readonly warnings: string[];
}

/**
 * The format of a trace from its first non-comment lines: the flashdiff header; a blkparse event
 * line; a CSV header or 7 comma-separated columns whose 4th is Read/Write (MSR/SNIA); 5 numeric
 * columns (DiskSim). Anything else is TRACE_PARSE asking for --format.
 */
export function detectTraceFormat(text: string, fileName = '<trace>'): TraceFormat {
  const head = text.slice(0, 64 * 1024).split(/\r?\n/);
  let seen = 0;
  for (let i = 0; i < head.length && seen < 20; i++) {
    const line = head[i]!.trim();
    if (line === '') continue;
    if (line === FLASHDIFF_HEADER) return 'flashdiff';
    if (line.startsWith('#')) continue;
    seen++;
    if (BLKPARSE_LINE.test(line)) return 'blkparse';
    if (isMsrHeader(line)) return 'msr';
    const csv = line.split(',');
    if (csv.length === 7 && /^(read|write)$/i.test(csv[3]!.trim())) return 'msr';
    if (/^\d+(\.\d+)?(\s+\d+){4}$/.test(line)) return 'disksim';
    throw new SsdError(
      'TRACE_PARSE',
      `${fileName}:${i + 1}: cannot tell the trace format from this line ('${line.slice(0, 60)}'); name it with --format ${TRACE_FORMATS.join('|')}`,
    );
  }
  // Nothing but blank lines and comments: an empty trace in any format.
  return 'disksim';
}

/** Parses trace text (format detected unless given) and applies the ordering and emptiness rules. */
export function parseTraceText(text: string, fileName = '<trace>', options: TraceLoadOptions = {}): LoadedTrace {
  return parseTraceLines(text, text.slice(0, 64 * 1024), fileName, options);
}

/** The trace's text, or a file read lazily: its lines for most formats, its bytes for DiskSim (disksim-bytes.ts). */
type TraceSource = TraceInput | { readonly path: string };

function parseTraceLines(source: TraceSource, head: string, fileName: string, options: TraceLoadOptions): LoadedTrace {
  const input = (): TraceInput => (typeof source === 'object' && 'path' in source ? readLines(source.path) : source);
  const format = options.format === undefined || options.format === 'auto' ? detectTraceFormat(head, fileName) : options.format;
  if (!TRACE_FORMATS.includes(format)) throw new SsdError('INVALID_CONFIG', `trace format '${String(format)}' is not one of ${TRACE_FORMATS.join(', ')}`);
  let requests: TraceRequest[];
  let blkparseEvent: BlkparseEvent | undefined;
  if (format === 'blkparse') {
    const r = parseBlkparse(input(), fileName, options.blkparseEvent);
    requests = r.requests;
    blkparseEvent = r.event;
  } else if (format === 'msr') requests = parseMsrCsv(input(), fileName);
  else if (format === 'flashdiff') requests = parseFlashdiffTrace(input(), fileName);
  else if (typeof source === 'object' && 'path' in source) requests = parseDiskSimFile(source.path, (e) => traceIoError(source.path, e), fileName);
  else requests = parseDiskSim(source, fileName);
  const warnings: string[] = [];
  if (requests.length === 0) {
    if (!options.allowEmpty) throw new SsdError('TRACE_EMPTY', `${fileName}: the trace has no requests (pass --allow-empty to replay it anyway)`);
    warnings.push(`${fileName}: the trace has no requests`);
  }
  let sorted = false;
  for (let i = 1; i < requests.length; i++) {
    const prev = requests[i - 1]!;
    const cur = requests[i]!;
    if (cur.arrivalNs >= prev.arrivalNs) continue;
    if (!options.sort) {
      throw new SsdError(
        'TRACE_ORDER',
        `${fileName}:${cur.line}: arrival time ${cur.arrivalNs} ns goes backwards (line ${prev.line} arrives at ${prev.arrivalNs} ns); pass --sort to sort the trace`,
      );
    }
    // Array.prototype.sort is stable (ES2019), so requests that arrive together keep their order.
    requests.sort((a, b) => a.arrivalNs - b.arrivalNs);
    sorted = true;
    warnings.push(`${fileName}: requests sorted by arrival time (the first out of order at line ${cur.line})`);
    break;
  }
  return { requests, format, sorted, warnings, ...(blkparseEvent !== undefined ? { blkparseEvent } : {}) };
}

function traceIoError(path: string, e: unknown): SsdError {
  return new SsdError('TRACE_IO', `${path}: cannot read the trace (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
}

/**
 * The lines of a file, read in 1 MiB pieces: a trace of several GB never becomes one string
 * (V8 caps a string at 512 MiB); only its requests are kept.
 */
export function* readLines(path: string, chunkBytes = 1 << 20): Generator<string> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw traceIoError(path, e);
  }
  try {
    const buffer = Buffer.allocUnsafe(chunkBytes);
    const decoder = new TextDecoder('utf-8');
    let rest = '';
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buffer, 0, chunkBytes, null);
      } catch (e) {
        throw traceIoError(path, e);
      }
      if (n === 0) break;
      const parts = (rest + decoder.decode(buffer.subarray(0, n), { stream: true })).split('\n');
      rest = parts.pop()!;
      for (const p of parts) yield p.endsWith('\r') ? p.slice(0, -1) : p;
    }
    rest += decoder.decode();
    yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
  } finally {
    closeSync(fd);
  }
}

/** The first `bytes` of a file as text (for format detection). */
function readHead(path: string, bytes = 64 * 1024): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw traceIoError(path, e);
  }
  try {
    const buffer = Buffer.alloc(bytes);
    const n = readSync(fd, buffer, 0, bytes, 0);
    return buffer.subarray(0, n).toString('utf8');
  } catch (e) {
    throw traceIoError(path, e);
  } finally {
    closeSync(fd);
  }
}

/** Reads a trace file line by line (TRACE_IO when it cannot be read) and parses it like {@link parseTraceText}. */
export function loadTrace(path: string, options: TraceLoadOptions = {}): LoadedTrace {
  return parseTraceLines({ path }, readHead(path), path, options);
}

/**
 * Splits every request longer than `maxBytes` (the device's user capacity) into consecutive
 * pieces of at most that many bytes (whole sectors), each with the request's arrival time and
 * line, so a replay never wraps one request around the device onto itself. Returns the input
 * array when nothing needs splitting.
 */
export function fitToDevice(requests: TraceRequest[], maxBytes: number): { requests: TraceRequest[]; split: number } {
  const maxSectors = Math.floor(maxBytes / SECTOR);
  if (maxSectors < 1) throw new SsdError('INVALID_CONFIG', `device capacity ${maxBytes} bytes is below one sector`);
  let split = 0;
  for (const r of requests) if (r.sectors > maxSectors) split++;
  if (split === 0) return { requests, split };
  const out: TraceRequest[] = [];
  for (const r of requests) {
    if (r.sectors <= maxSectors) {
      out.push(r);
      continue;
    }
    for (let s = 0; s < r.sectors; s += maxSectors) out.push({ ...r, sector: r.sector + s, sectors: Math.min(maxSectors, r.sectors - s) });
  }
  return { requests: out, split };
}

/** Host pages a trace writes on a device of `pageSize` bytes (the time-series interval comes from this). */
export function tracePageWrites(requests: readonly TraceRequest[], pageSize: number): number {
  let pages = 0;
  for (const r of requests) {
    if (r.isRead || r.isTrim) continue;
    pages += Math.floor(((r.sector + r.sectors) * SECTOR - 1) / pageSize) - Math.floor((r.sector * SECTOR) / pageSize) + 1;
  }
  return pages;
}
