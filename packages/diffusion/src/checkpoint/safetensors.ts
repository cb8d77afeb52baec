import { DiffusionError } from '../errors.ts';
import type { NamedArray } from '../models/parameters.ts';

/**
 * The safetensors format (huggingface/safetensors), written and read here:
 *   bytes 0..8   N, the header length, unsigned 64-bit little-endian
 *   bytes 8..8+N a UTF-8 JSON object: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] },
 *                "__metadata__": { "<key>": "<string>" } } — padded with spaces to a multiple of 8
 *   then         the byte buffer; offsets are relative to its start, little-endian, row-major,
 *                and the tensors must cover it exactly with no overlap and no holes.
 * This file is browser-safe and owns the format's rules: the header validation and the dtype
 * conversions here are shared by the in-memory decoder below and the lazy file reader
 * (safetensors-file.ts, Node only). Written here: F32. Read: the float and integer dtypes of
 * SAFETENSORS_DTYPE_BYTES, converted to Float32Array.
 */
export interface SafetensorsFile {
  tensors: Map<string, NamedArray>;
  metadata: Record<string, string>;
}

/**
 * Bytes per element of every dtype read here. Integer dtypes appear in real files (e.g. the I64
 * `position_ids` buffer of older CLIP text encoders) and convert to float32 like the rest.
 */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};
const DTYPE_BYTES = SAFETENSORS_DTYPE_BYTES;

/** The reference implementation's limit on the header size (safetensors' MAX_HEADER_SIZE, 100 MB). */
export const SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024;

/** One tensor's header entry; `begin`/`end` are byte offsets relative to the start of the data buffer. */
export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Absolute byte offset of the data buffer (8 + header length). */
  dataStart: number;
  /** In the order of the header's JSON object. */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
}

export function encodeSafetensors(tensors: Map<string, NamedArray>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const expected = t.shape.reduce((a, b) => a * b, 1);
    if (expected !== t.data.length) {
      throw new DiffusionError('SHAPE_MISMATCH', `safetensors: "${name}" has ${t.data.length} values for shape [${t.shape}]`);
    }
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * t.data.length] };
    offset += 4 * t.data.length;
  }
  const headerBytes = encodeSafetensorsHeader(header);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    for (let i = 0; i < t.data.length; i++, position += 4) view.setFloat32(position, t.data[i], true);
  }
  return out;
}

/** The header's JSON as UTF-8, padded with spaces to a multiple of 8 (so the data buffer is 8-aligned). */
export function encodeSafetensorsHeader(header: Record<string, unknown>): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify(header));
  const padding = (8 - (bytes.length % 8)) % 8;
  if (padding === 0) return bytes;
  const padded = new Uint8Array(bytes.length + padding).fill(0x20);
  padded.set(bytes);
  return padded;
}

function corrupt(source: string, why: string): never {
  throw new DiffusionError('CHECKPOINT_CORRUPT', `${source}: ${why}`);
}

/**
 * Validate the 8-byte length prefix against the whole file's size and return the header length.
 * Shared by the in-memory decoder and the lazy file reader.
 */
export function safetensorsHeaderLength(prefix: Uint8Array, fileLength: number, source: string): number {
  if (fileLength < 8 || prefix.length < 8) corrupt(source, `truncated (${fileLength} bytes, need at least 8 for the header length)`);
  const headerLength = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(SAFETENSORS_MAX_HEADER, fileLength - 8))) {
    corrupt(source, `header length ${headerLength} exceeds the file (${fileLength} bytes) or the 100 MB limit — truncated or not a safetensors file`);
  }
  return Number(headerLength);
}

/**
 * Parse and validate the JSON header (the bytes after the length prefix). `fileLength` is the whole
 * file's size: every tensor must lie inside it, and the tensors must cover the data buffer exactly
 * (sorted by offset, each starts where the previous ended — no overlap, no hole, no trailing bytes).
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileLength: number, source: string): SafetensorsHeader {
  const fail = (why: string): never => corrupt(source, why);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    fail(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerBytes.length;
  const dataLength = fileLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) fail(`tensor "${name}": entry is not an object`);
    if (typeof info.dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, info.dtype)) {
      fail(`tensor "${name}": unsupported dtype ${JSON.stringify(info.dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    if (!Array.isArray(info.shape) || !info.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor "${name}": bad shape`);
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor "${name}": bad data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    const shape = info.shape as number[];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end < begin || end - begin !== count * DTYPE_BYTES[info.dtype as string]) {
      fail(`tensor "${name}": data_offsets [${begin}, ${end}] do not match shape [${shape}] × ${info.dtype}`);
    }
    if (end > dataLength) fail(`tensor "${name}": data_offsets end ${end} beyond the ${dataLength}-byte buffer (file truncated?)`);
    entries.push({ name, dtype: info.dtype as string, shape, begin, end });
  }
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin !== cursor) fail(`tensor "${e.name}": ${e.begin < cursor ? 'overlaps the previous tensor' : 'leaves a hole before it'}`);
    cursor = e.end;
  }
  if (cursor !== dataLength) fail(`${dataLength - cursor} trailing bytes after the last tensor`);
  return { dataStart, entries, metadata };
}

/** Parse and validate; every defect throws CHECKPOINT_CORRUPT naming `source` (a file name). */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): SafetensorsFile {
  const n = safetensorsHeaderLength(bytes, bytes.length, source);
  const { dataStart, entries, metadata } = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length, source);
  const tensors = new Map<string, NamedArray>();
  for (const e of entries) {
    const data = new Float32Array((e.end - e.begin) / DTYPE_BYTES[e.dtype]);
    convertToFloat32(bytes.subarray(dataStart + e.begin, dataStart + e.end), e.dtype, data, 0);
    tensors.set(e.name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
let halfTable: Float32Array | undefined;

/** All 65,536 IEEE half-precision values as float32 (256 KB, built once): a conversion is one lookup. */
function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

/**
 * Convert little-endian `bytes` of `dtype` (a whole number of elements) into `out[outOffset…]`.
 * F16 goes through a lookup table, BF16 is the top half of a float32 (a shift), F32 is a byte copy;
 * the rest (and unaligned or big-endian cases) read element by element through a DataView.
 */
export function convertToFloat32(bytes: Uint8Array, dtype: string, out: Float32Array, outOffset: number): void {
  const size = DTYPE_BYTES[dtype];
  if (size === undefined) throw new DiffusionError('CHECKPOINT_CORRUPT', `unsupported dtype ${dtype}`);
  const count = bytes.length / size;
  if (dtype === 'F32' && LITTLE_ENDIAN) {
    new Uint8Array(out.buffer, out.byteOffset + 4 * outOffset, bytes.length).set(bytes);
    return;
  }
  if ((dtype === 'F16' || dtype === 'BF16') && LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) {
    const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
    if (dtype === 'F16') {
      const table = halfToFloatTable();
      for (let i = 0; i < count; i++) out[outOffset + i] = table[halves[i]];
    } else {
      const words = new Uint32Array(out.buffer, out.byteOffset + 4 * outOffset, count);
      for (let i = 0; i < count; i++) words[i] = halves[i] << 16;
    }
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const read = elementReader(dtype, view);
  for (let i = 0; i < count; i++) out[outOffset + i] = read(i);
}

function elementReader(dtype: string, view: DataView): (i: number) => number {
  switch (dtype) {
    case 'F64':
      return (i) => view.getFloat64(8 * i, true);
    case 'F32':
      return (i) => view.getFloat32(4 * i, true);
    case 'F16': {
      const table = halfToFloatTable();
      return (i) => table[view.getUint16(2 * i, true)];
    }
    case 'BF16':
      return (i) => bfloat16ToFloat(view.getUint16(2 * i, true));
    case 'I64':
      return (i) => Number(view.getBigInt64(8 * i, true));
    case 'U64':
      return (i) => Number(view.getBigUint64(8 * i, true));
    case 'I32':
      return (i) => view.getInt32(4 * i, true);
    case 'U32':
      return (i) => view.getUint32(4 * i, true);
    case 'I16':
      return (i) => view.getInt16(2 * i, true);
    case 'U16':
      return (i) => view.getUint16(2 * i, true);
    case 'I8':
      return (i) => view.getInt8(i);
    default:
      return (i) => view.getUint8(i); // U8, BOOL
  }
}

/** IEEE 754 binary16 bits → number (subnormals, ±∞, NaN). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const wordScratch = new DataView(new ArrayBuffer(4));
function bfloat16ToFloat(b: number): number {
  wordScratch.setUint32(0, b << 16);
  return wordScratch.getFloat32(0);
}

const floatScratch = new Float32Array(1);
const floatScratchBits = new Uint32Array(floatScratch.buffer);
function float32Bits(value: number): number {
  floatScratch[0] = value;
  return floatScratchBits[0];
}

/** number → IEEE binary16 bits via float32, rounding to nearest even (overflow → ±∞, NaN stays NaN). */
export function floatToHalf(value: number): number {
  const x = float32Bits(value);
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // A half subnormal (or zero): shift the mantissa with its implicit 1 right, round to nearest even.
    if (e < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = 14 - e;
    const halfway = 2 ** (shift - 1);
    let m = Math.floor(full / 2 ** shift);
    const rest = full - m * 2 ** shift;
    if (rest > halfway || (rest === halfway && m & 1)) m++;
    return sign | m; // m may carry into the exponent field: that is the right smallest normal
  }
  let m = mantissa >>> 13;
  const rest = mantissa & 0x1fff;
  let biased = e;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      biased++;
      if (biased >= 31) return sign | 0x7c00;
    }
  }
  return sign | (biased << 10) | m;
}

/** number → bfloat16 bits via float32, rounding to nearest even (NaN stays a quiet NaN). */
export function floatToBfloat16(value: number): number {
  const x = float32Bits(value);
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  return (Math.floor((x + 0x7fff + ((x >>> 16) & 1)) / 65536) & 0xffff) >>> 0;
}
