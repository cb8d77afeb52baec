import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeSafetensors, encodeSafetensors } from '../src/checkpoint/safetensors.ts';
import { encodeNpy, parseNpy } from '../src/data/npy.ts';
import { loadNpyDataset, loadPngFolder } from '../src/data/load-node.ts';
import { loadMnist } from '../src/data/mnist.ts';
import { DiffusionError } from '../src/errors.ts';
import { imagesToGrid } from '../src/image/grid.ts';
import { encodePng } from '../src/image/png-node.ts';
import type { NamedArray } from '../src/models/parameters.ts';
import { Random } from '../src/rng.ts';

const dir = mkdtempSync(join(tmpdir(), 'diffusion-formats-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const isCode = (code: string) => (e: unknown) => e instanceof DiffusionError && e.code === code;

describe('safetensors', () => {
  const random = new Random(2);
  const tensors = new Map<string, NamedArray>([
    ['conv.weight', { shape: [3, 3, 2, 4], data: random.normalArray(72) }],
    ['conv.bias', { shape: [4], data: random.normalArray(4) }],
    ['scalar', { shape: [], data: Float32Array.of(1.5) }],
  ]);

  test('round-trip keeps names, shapes, values and metadata; the header is 8-byte aligned', () => {
    const bytes = encodeSafetensors(tensors, { step: '42' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(headerLength % 8, 0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    assert.deepEqual(header['conv.bias'], { dtype: 'F32', shape: [4], data_offsets: [288, 304] });
    const back = decodeSafetensors(bytes);
    assert.deepEqual(back.metadata, { step: '42' });
    assert.deepEqual([...back.tensors.keys()], [...tensors.keys()]);
    for (const [name, t] of tensors) {
      assert.deepEqual(back.tensors.get(name)?.shape, t.shape);
      assert.deepEqual(Array.from(back.tensors.get(name)?.data ?? []), Array.from(t.data));
    }
  });

  test('reads F16, BF16 and F64 written by other tools', () => {
    const header = JSON.stringify({ a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] }, c: { dtype: 'F64', shape: [1], data_offsets: [6, 14] } });
    const h = new TextEncoder().encode(header);
    const bytes = new Uint8Array(8 + h.length + 14);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0, BigInt(h.length), true);
    bytes.set(h, 8);
    const d = 8 + h.length;
    view.setUint16(d, 0x3c00, true); // 1.0
    view.setUint16(d + 2, 0xc000, true); // −2.0
    view.setUint16(d + 4, 0x4049, true); // bf16 ≈ 3.140625
    view.setFloat64(d + 6, -0.25, true);
    const back = decodeSafetensors(bytes);
    assert.deepEqual(Array.from(back.tensors.get('a')?.data ?? []), [1, -2]);
    assert.equal(back.tensors.get('b')?.data[0], 3.140625);
    assert.equal(back.tensors.get('c')?.data[0], -0.25);
  });

  test('every kind of corruption is a CHECKPOINT_CORRUPT error naming the file', () => {
    const good = encodeSafetensors(tensors);
    const name = 'ckpt/model.safetensors';
    const cases: Array<[string, Uint8Array]> = [
      ['empty', new Uint8Array(0)],
      ['truncated data', good.subarray(0, good.length - 5)],
      ['truncated header', good.subarray(0, 20)],
      ['trailing bytes', new Uint8Array([...good, 0, 0, 0, 0])],
    ];
    const badJson = good.slice();
    badJson[8] = 0x5b; // '[' instead of '{'
    cases.push(['bad JSON', badJson]);
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    cases.push(['huge header length', huge]);
    const mk = (header: object, dataBytes: number): Uint8Array => {
      const h = new TextEncoder().encode(JSON.stringify(header));
      const b = new Uint8Array(8 + h.length + dataBytes);
      new DataView(b.buffer).setBigUint64(0, BigInt(h.length), true);
      b.set(h, 8);
      return b;
    };
    cases.push(['wrong size for shape', mk({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8)]);
    cases.push(['overlap', mk({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8)]);
    cases.push(['hole', mk({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8)]);
    cases.push(['unknown dtype', mk({ a: { dtype: 'Q4', shape: [1], data_offsets: [0, 4] } }, 4)]);
    cases.push(['negative shape', mk({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4)]);
    for (const [why, bytes] of cases) {
      assert.throws(
        () => decodeSafetensors(bytes, name),
        (e: unknown) => isCode('CHECKPOINT_CORRUPT')(e) && (e as Error).message.startsWith(name),
        why,
      );
    }
  });
});

describe('.npy', () => {
  test('v1 uint8 (N,H,W) and float32 (N,H,W,C) round-trip through encodeNpy/parseNpy', () => {
    const u8 = Uint8Array.from({ length: 2 * 4 * 4 }, (_, i) => i * 7);
    const a = parseNpy(encodeNpy('|u1', [2, 4, 4], u8));
    assert.deepEqual(a.shape, [2, 4, 4]);
    assert.deepEqual(Array.from(a.data), Array.from(u8));
    const f = new Random(1).normalArray(2 * 4 * 4 * 3);
    const b = parseNpy(encodeNpy('<f4', [2, 4, 4, 3], f));
    assert.equal(b.descr, '<f4');
    assert.deepEqual(Array.from(b.data), Array.from(f));
  });

  test('v2 headers (u32 length) parse', () => {
    const v1 = encodeNpy('<f4', [3], Float32Array.of(1, 2, 3));
    const headerLength = new DataView(v1.buffer).getUint16(8, true);
    const header = v1.subarray(10, 10 + headerLength);
    const v2 = new Uint8Array(12 + header.length + 12);
    v2.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]);
    new DataView(v2.buffer).setUint32(8, header.length, true);
    v2.set(header, 12);
    v2.set(v1.subarray(10 + headerLength), 12 + header.length);
    assert.deepEqual(Array.from(parseNpy(v2).data), [1, 2, 3]);
  });

  test('malformed files are DATA_INVALID errors naming the file', () => {
    const good = encodeNpy('<f4', [2, 2], Float32Array.of(1, 2, 3, 4));
    assert.throws(() => parseNpy(new Uint8Array([1, 2, 3]), 'x.npy'), (e: unknown) => isCode('DATA_INVALID')(e) && /x\.npy: not a \.npy/.test((e as Error).message));
    assert.throws(() => parseNpy(good.subarray(0, good.length - 1), 'x.npy'), /x\.npy: data has/);
    const fortran = new TextDecoder('latin1').decode(good).replace("'fortran_order': False", "'fortran_order': True ");
    assert.throws(() => parseNpy(Uint8Array.from(fortran, (c) => c.charCodeAt(0)), 'x.npy'), /fortran_order/);
    const c16 = new TextDecoder('latin1').decode(good).replace("'<f4'", "'<c8'");
    assert.throws(() => parseNpy(Uint8Array.from(c16, (c) => c.charCodeAt(0)), 'x.npy'), /unsupported dtype/);
  });

  test('dataset loader: uint8 → [−1, 1], labels checked against the image count', () => {
    const images = join(dir, 'imgs.npy');
    writeFileSync(images, encodeNpy('|u1', [3, 4, 4], Uint8Array.from({ length: 48 }, (_, i) => (i % 2 ? 255 : 0))));
    const labels = join(dir, 'labels.npy');
    writeFileSync(labels, encodeNpy('<i4', [3], Int32Array.of(0, 2, 1)));
    const d = loadNpyDataset(images, labels);
    assert.equal(d.numClasses, 3);
    assert.deepEqual(Array.from(d.images.subarray(0, 2)), [-1, 1]);
    const wrong = join(dir, 'wrong.npy');
    writeFileSync(wrong, encodeNpy('<i4', [2], Int32Array.of(0, 1)));
    assert.throws(() => loadNpyDataset(images, wrong), /expected \(3,\)/);
    const outOfRange = join(dir, 'range.npy');
    writeFileSync(outOfRange, encodeNpy('<f4', [1, 2, 2], Float32Array.of(0, 5, 1, 1)));
    assert.throws(() => loadNpyDataset(outOfRange), /span \[0, 5\]/);
  });
});

describe('other data sources', () => {
  test('PNG folder: classes from sub-folder names, grey detected, sizes checked', () => {
    const root = join(dir, 'pngs');
    for (const [cls, value] of [
      ['cat', 0],
      ['dog', 255],
    ] as const) {
      const sub = join(root, cls);
      mkdirSync(sub, { recursive: true });
      // two 4×4 grey images per class
      for (let i = 0; i < 2; i++) {
        const images = new Float32Array(16).fill(value === 0 ? -1 : 1);
        const grid = imagesToGrid(images, 1, 4, 4, 1, 1, 0);
        writeFileSync(join(sub, `${i}.png`), encodePng(grid));
      }
    }
    const d = loadPngFolder(root);
    assert.deepEqual(d.classNames, ['cat', 'dog']);
    assert.equal(d.channels, 1);
    assert.equal(d.count, 4);
    assert.deepEqual(Array.from(d.labels ?? []), [0, 0, 1, 1]);
    assert.equal(d.images[0], -1);
    assert.equal(d.images[d.images.length - 1], 1);
    writeFileSync(join(root, 'dog', 'bad.png'), 'not a png');
    assert.throws(() => loadPngFolder(root), (e: unknown) => isCode('DATA_INVALID')(e) && /bad\.png/.test((e as Error).message));
  });

  test('MNIST: 10 classes, sizes 16/28/32, values in [−1, 1], padding keeps the border black', () => {
    const d32 = loadMnist(32, 100);
    assert.equal(d32.numClasses, 10);
    assert.equal(d32.count, 100);
    for (let x = 0; x < 32; x++) assert.equal(d32.images[x], -1);
    const d16 = loadMnist(16, 100);
    assert.equal(d16.height, 16);
    let min = Infinity;
    let max = -Infinity;
    for (const v of d16.images) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    assert.ok(min >= -1 && max <= 1 && max > 0.5);
    assert.throws(() => loadMnist(20), /image-size/);
  });
});

