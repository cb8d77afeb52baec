import { DiffusionError } from '../errors.ts';
import type { NamedArray } from '../models/parameters.ts';

/**
 * The safetensors format (huggingface/safetensors), written and read here:
 *   bytes 0..8   N, the header length, unsigned 64-bit little-endian
 *   bytes 8..8+N a UTF-8 JSON object: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] },
 *                "__metadata__": { "<key>": "<string>" } } — padded with spaces to a multiple of 8
 *   then         the byte buffer; offsets are relative to its start, little-endian, row-major,
 *                and the tensors must cover it exactly with no overlap and no holes.
 * Written: F32. Read: F32, F64, F16, BF16 (converted to Float32Array).
 */
export interface SafetensorsFile {
  tensors: Map<string, NamedArray>;
  metadata: Record<string, string>;
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2 };
const MAX_HEADER = 100 * 1024 * 1024;

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
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  let headerBytes = encoder.encode(json);
  const padding = (8 - (headerBytes.length % 8)) % 8;
  if (padding) {
    json += ' '.repeat(padding);
    headerBytes = encoder.encode(json);
  }
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

/** Parse and validate; every defect throws CHECKPOINT_CORRUPT naming `source` (a file name). */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): SafetensorsFile {
  const fail = (why: string): never => {
    throw new DiffusionError('CHECKPOINT_CORRUPT', `${source}: ${why}`);
  };
  if (bytes.length < 8) fail(`truncated (${bytes.length} bytes, need at least 8 for the header length)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) {
    fail(`header length ${headerLength} exceeds the file (${bytes.length} bytes) or the 100 MB limit — truncated or not a safetensors file`);
  }
  const n = Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (err) {
    fail(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Array<{ name: string; dtype: string; shape: number[]; begin: number; end: number }> = [];
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
    if (typeof info.dtype !== 'string' || !(info.dtype in DTYPE_BYTES)) fail(`tensor "${name}": unsupported dtype ${JSON.stringify(info.dtype)}`);
    if (!Array.isArray(info.shape) || !info.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor "${name}": bad shape`);
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
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
  // The buffer must be covered exactly: sorted by offset, each tensor starts where the previous ended.
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin !== cursor) fail(`tensor "${e.name}": ${e.begin < cursor ? 'overlaps the previous tensor' : 'leaves a hole before it'}`);
    cursor = e.end;
  }
  if (cursor !== dataLength) fail(`${dataLength - cursor} trailing bytes after the last tensor`);
  const tensors = new Map<string, NamedArray>();
  for (const e of entries) {
    const count = (e.end - e.begin) / DTYPE_BYTES[e.dtype];
    const data = new Float32Array(count);
    const base = dataStart + e.begin;
    for (let i = 0; i < count; i++) {
      if (e.dtype === 'F32') data[i] = view.getFloat32(base + 4 * i, true);
      else if (e.dtype === 'F64') data[i] = view.getFloat64(base + 8 * i, true);
      else if (e.dtype === 'F16') data[i] = halfToFloat(view.getUint16(base + 2 * i, true));
      else data[i] = bfloat16ToFloat(view.getUint16(base + 2 * i, true));
    }
    tensors.set(e.name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function bfloat16ToFloat(b: number): number {
  const buffer = new DataView(new ArrayBuffer(4));
  buffer.setUint32(0, b << 16);
  return buffer.getFloat32(0);
}
