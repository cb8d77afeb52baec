import { DiffusionError } from '../errors.ts';

/**
 * NumPy .npy (format v1.0/v2.0/v3.0): magic "\x93NUMPY", major, minor, header length (u16 LE for
 * v1, u32 LE for v2/v3), then an ASCII/UTF-8 Python dict literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (N, H, W, C), } padded to a multiple of 64,
 * then the raw C-order data. Supported descr: |u1 <u1 <f4 <f8 <i4 <i8 (labels) — enough for images
 * and label arrays. Browser-safe (bytes in, typed array out).
 */
export interface NpyArray {
  descr: string;
  shape: number[];
  data: Uint8Array | Float32Array | Float64Array | Int32Array;
}

const ITEM_SIZES: Record<string, number> = { '|u1': 1, '<u1': 1, '|i1': 1, '<f4': 4, '<f8': 8, '<i4': 4, '<i8': 8 };

export function parseNpy(bytes: Uint8Array, source = 'npy'): NpyArray {
  const fail = (why: string): never => {
    throw new DiffusionError('DATA_INVALID', `${source}: ${why}`);
  };
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) fail('not a .npy file (bad magic)');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated header');
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    return fail(`unsupported .npy format version ${major}.${bytes[7]}`);
  }
  if (headerStart + headerLength > bytes.length) fail('truncated header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, headerStart + headerLength));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) fail(`malformed header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') fail('fortran_order arrays are not supported (save with C order)');
  if (!((descr as string) in ITEM_SIZES)) fail(`unsupported dtype '${descr}' (supported: ${Object.keys(ITEM_SIZES).join(' ')})`);
  const shape = (shapeText as string)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const v = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(v) || v < 0) fail(`bad shape entry '${s}'`);
      return v;
    });
  const count = shape.reduce((a, b) => a * b, 1);
  const itemSize = ITEM_SIZES[descr as string];
  const dataStart = headerStart + headerLength;
  if (bytes.length - dataStart !== count * itemSize) {
    fail(`data has ${bytes.length - dataStart} bytes, shape (${shape.join(', ')}) × ${descr} needs ${count * itemSize}`);
  }
  const d = descr as string;
  let data: NpyArray['data'];
  if (d.endsWith('u1') || d === '|i1') {
    data = bytes.slice(dataStart, dataStart + count);
    if (d === '|i1') data = Int32Array.from(new Int8Array(data.buffer, data.byteOffset, count));
  } else if (d === '<f4') {
    data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + 4 * i, true);
  } else if (d === '<f8') {
    data = new Float64Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat64(dataStart + 8 * i, true);
  } else if (d === '<i4') {
    data = new Int32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getInt32(dataStart + 4 * i, true);
  } else {
    data = new Int32Array(count);
    for (let i = 0; i < count; i++) data[i] = Number(view.getBigInt64(dataStart + 8 * i, true));
  }
  return { descr: d, shape, data };
}

/** Write a v1.0 .npy (used by tests and to export samples). */
export function encodeNpy(descr: '<f4' | '|u1' | '<i4', shape: number[], data: Float32Array | Uint8Array | Int32Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const itemSize = descr === '|u1' ? 1 : 4;
  const out = new Uint8Array(10 + header.length + data.length * itemSize);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
