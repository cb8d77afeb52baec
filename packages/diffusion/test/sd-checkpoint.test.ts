/** The safetensors file reader and writer, the dtype conversions, and loadParameters (src/checkpoint/). */
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { encodeSafetensorsHeader, floatToBfloat16, floatToHalf, halfToFloat } from '../src/checkpoint/safetensors.ts';
import { type TensorToWrite, openSafetensorsFile, writeSafetensorsFile } from '../src/checkpoint/safetensors-file.ts';
import {
  type ParameterMapping,
  SafetensorsBytesSource,
  type TensorSource,
  conv2dHWIOtoOIHW,
  conv2dOIHWtoHWIO,
  layoutMapping,
  linearInOutToOutIn,
  linearOutInToInOut,
  loadParameters,
  mappingFromLayouts,
  torchTensorsFromStore,
} from '../src/checkpoint/tensor-source.ts';
import { isPositionIds } from '../src/checkpoint/single-file.ts';
import { ParameterStore } from '../src/models/parameters.ts';
import { initBackend } from '../src/backend-node.ts';
import { Random } from '../src/rng.ts';
import { isCode, randomArray, tempArea } from './sd-checkpoint-helpers.ts';

const { root, tmp } = tempArea('sd-checkpoint-test-');

/** A raw safetensors file from a header object and a data byte count (contents zero). */
function rawFile(header: object, dataBytes: number, extra?: (bytes: Uint8Array, dataStart: number) => void): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(8 + h.length + dataBytes);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(h.length), true);
  bytes.set(h, 8);
  extra?.(bytes, 8 + h.length);
  return bytes;
}


describe('half and bfloat16 conversions', () => {
  test('floatToHalf rounds to nearest even and inverts halfToFloat on every half value', () => {
    for (let h = 0; h < 65536; h++) {
      const f = halfToFloat(h);
      if (Number.isNaN(f)) assert.ok(Number.isNaN(halfToFloat(floatToHalf(f))));
      else assert.equal(floatToHalf(f), h, `half 0x${h.toString(16)}`);
    }
    assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00); // a tie rounds to the even mantissa
    assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02);
    assert.equal(floatToHalf(65520), 0x7c00); // rounds past the largest half → ∞
    assert.equal(floatToHalf(2 ** -25), 0); // half the smallest subnormal, a tie → 0
    assert.equal(floatToHalf(-3 * 2 ** -25), 0x8002);
    assert.equal(floatToBfloat16(1), 0x3f80);
    assert.equal(floatToBfloat16(1 + 2 ** -8), 0x3f80); // tie → even
    assert.equal(floatToBfloat16(1 + 3 * 2 ** -8), 0x3f82);
  });
});

describe('lazy safetensors file reader and streaming writer', () => {
  const tensors = [
    { name: 'conv.weight', shape: [4, 3, 3, 3], data: randomArray(108, 1) },
    { name: 'conv.bias', shape: [4], data: randomArray(4, 2) },
    { name: 'empty', shape: [0, 5], data: new Float32Array(0) },
    { name: 'scalar', shape: [], data: Float32Array.of(0.5) },
  ];

  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    test(`${dtype} round trip: header, metadata and values (to the dtype's rounding)`, () => {
      const path = tmp(`${dtype}.safetensors`);
      writeSafetensorsFile(path, tensors, { dtype, metadata: { format: 'pt', note: dtype } });
      const source = openSafetensorsFile(path);
      try {
        assert.deepEqual(source.names(), tensors.map((t) => t.name));
        assert.deepEqual(source.metadata, { format: 'pt', note: dtype });
        for (const t of tensors) {
          assert.deepEqual(source.info(t.name), { shape: t.shape, dtype });
          const back = source.read(t.name);
          assert.equal(back.length, t.data.length);
          for (let i = 0; i < t.data.length; i++) {
            const expected = dtype === 'F32' ? t.data[i] : dtype === 'F16' ? halfToFloat(floatToHalf(t.data[i])) : new Float32Array(new Uint32Array([floatToBfloat16(t.data[i]) << 16]).buffer)[0];
            assert.equal(back[i], expected, `${t.name}[${i}]`);
          }
        }
        // The header is padded to a multiple of 8 (so data is aligned), as the reference writes it.
        const bytes = readFileSync(path);
        assert.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0);
        // The in-memory reader agrees with the file reader.
        const inMemory = new SafetensorsBytesSource(new Uint8Array(bytes), path);
        for (const t of tensors) assert.deepEqual(inMemory.read(t.name), source.read(t.name));
      } finally {
        source.close();
      }
      assert.deepEqual(readdirSync(root).filter((f) => f.includes('.tmp-')), [], 'no temp file left');
    });
  }

  test('F64 and integer tensors (e.g. an I64 position_ids buffer) read as float32', () => {
    const header = {
      a: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
      ids: { dtype: 'I64', shape: [1, 3], data_offsets: [16, 40] },
      b: { dtype: 'U8', shape: [2], data_offsets: [40, 42] },
    };
    const path = tmp('mixed.safetensors');
    writeFileSync(
      path,
      rawFile(header, 42, (bytes, d) => {
        const v = new DataView(bytes.buffer);
        v.setFloat64(d, -0.25, true);
        v.setFloat64(d + 8, 1e10, true);
        for (let i = 0; i < 3; i++) v.setBigInt64(d + 16 + 8 * i, BigInt(i), true);
        bytes[d + 40] = 7;
        bytes[d + 41] = 255;
      }),
    );
    const source = openSafetensorsFile(path);
    assert.deepEqual([...source.read('a')], [-0.25, Math.fround(1e10)]);
    assert.deepEqual([...source.read('ids')], [0, 1, 2]);
    assert.deepEqual([...source.read('b')], [7, 255]);
    source.close();
    assert.throws(() => source.read('a'), isCode('INVALID_ARGUMENT', /after close/));
  });

  test('lazy: reading one small tensor of a sparse 2 GB file reads only the header and that tensor', () => {
    // A file whose header declares a 2 GiB F16 tensor before a 16-byte one; the big part is a hole
    // (ftruncate-style sparse file), so nothing is ever written to disk.
    const big = 2 ** 30; // F16 elements → 2 GiB
    const header = encodeSafetensorsHeader({ big: { dtype: 'F16', shape: [big], data_offsets: [0, 2 * big] }, small: { dtype: 'F32', shape: [4], data_offsets: [2 * big, 2 * big + 16] } });
    const path = tmp('sparse.safetensors');
    const fd = openSync(path, 'w');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(header.length));
    writeSync(fd, prefix, 0, 8, 0);
    writeSync(fd, header, 0, header.length, 8);
    const small = Float32Array.of(1, -2, 3.5, 1e-3);
    writeSync(fd, new Uint8Array(small.buffer), 0, 16, 8 + header.length + 2 * big);
    closeSync(fd);
    const rssBefore = process.memoryUsage().rss;
    const source = openSafetensorsFile(path);
    assert.deepEqual(source.info('big'), { shape: [big], dtype: 'F16' });
    assert.deepEqual(source.read('small'), small);
    assert.equal(source.bytesRead, 8 + header.length + 16, 'read the header and one tensor only');
    assert.ok(process.memoryUsage().rss - rssBefore < 256 * 2 ** 20, 'RSS grew by far less than the file');
    source.close();
  });

  test('every kind of corruption is CHECKPOINT_CORRUPT naming the file (and the tensor)', () => {
    const good = tmp('good.safetensors');
    writeSafetensorsFile(good, tensors);
    const goodBytes = new Uint8Array(readFileSync(good));
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['empty', new Uint8Array(0), /truncated/],
      ['only part of the length', goodBytes.subarray(0, 5), /truncated/],
      ['truncated header', goodBytes.subarray(0, 40), /header length/],
      ['truncated data', goodBytes.subarray(0, goodBytes.length - 3), /"(scalar|conv\.\w+)".*beyond|trailing/],
      ['trailing bytes', new Uint8Array([...goodBytes, 0, 0, 0, 0]), /trailing bytes/],
      ['header not JSON', rawFile({}, 0, (b) => b.set(new TextEncoder().encode('{x'), 8)), /not valid UTF-8 JSON/],
      ['header an array', new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0x5b, 0x5d]), /not a JSON object/],
      ['overlap', rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /"b": overlaps/],
      ['hole', rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /"a": leaves a hole/],
      ['out of range', rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8), /"a": data_offsets end 16 beyond/],
      ['size does not match shape', rawFile({ a: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } }, 8), /"a": data_offsets \[0, 8\] do not match shape \[3\] × F16/],
      ['unknown dtype', rawFile({ a: { dtype: 'Q4', shape: [1], data_offsets: [0, 4] } }, 4), /"a": unsupported dtype "Q4"/],
      ['negative dimension', rawFile({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /"a": bad shape/],
      ['bad offsets', rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4), /"a": bad data_offsets/],
      ['bad metadata', rawFile({ __metadata__: { n: 3 } }, 0), /__metadata__\.n is not a string/],
    ];
    const huge = goodBytes.slice();
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    cases.push(['huge header length', huge, /exceeds the file/]);
    for (const [why, bytes, pattern] of cases) {
      const path = tmp('corrupt.safetensors');
      writeFileSync(path, bytes);
      assert.throws(() => openSafetensorsFile(path), isCode('CHECKPOINT_CORRUPT', new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `), pattern), why);
    }
    assert.throws(() => openSafetensorsFile(join(root, 'nope.safetensors')), isCode('CHECKPOINT_MISSING', /nope\.safetensors: no such file/));
    assert.throws(() => openSafetensorsFile(root), isCode('CHECKPOINT_CORRUPT', /is a directory/));
  });

  test('a file truncated after opening fails on read, naming the file and the tensor', () => {
    const path = tmp('shrinks.safetensors');
    writeSafetensorsFile(path, tensors, { dtype: 'F16' });
    const source = openSafetensorsFile(path, 'model (unet)');
    writeFileSync(path, readFileSync(path).subarray(0, 100));
    assert.throws(() => source.read('conv.bias'), isCode('CHECKPOINT_CORRUPT', /^model \(unet\): truncated while reading tensor "conv\.bias"/));
    source.close();
  });

  test('a one-pass generator is written in order, converting one tensor at a time (spooled, same bytes)', () => {
    const produced: string[] = [];
    function* generate(): Generator<TensorToWrite> {
      for (const t of tensors) {
        produced.push(t.name);
        yield { name: t.name, shape: t.shape, data: t.data.slice() };
      }
    }
    for (const dtype of ['F32', 'BF16'] as const) {
      const fromList = tmp('list.safetensors');
      const fromGenerator = tmp('generator.safetensors');
      writeSafetensorsFile(fromList, tensors, { dtype, metadata: { format: 'pt' } });
      produced.length = 0;
      writeSafetensorsFile(fromGenerator, generate(), { dtype, metadata: { format: 'pt' } });
      assert.deepEqual(produced, tensors.map((t) => t.name));
      assert.deepEqual(readFileSync(fromGenerator), readFileSync(fromList));
    }
    function* failing(): Generator<TensorToWrite> {
      yield tensors[0];
      throw new Error('conversion failed');
    }
    assert.throws(() => writeSafetensorsFile(tmp('never.safetensors'), failing()), /conversion failed/);
    assert.deepEqual(readdirSync(root).filter((f) => f.includes('.tmp-') || f.includes('never')), [], 'no temp, spool or target file');
  });

  test('the writer is atomic: a failure leaves the old file and no temp file', () => {
    const path = tmp('atomic.safetensors');
    writeSafetensorsFile(path, [tensors[1]]);
    const before = readFileSync(path);
    const bad = [
      tensors[0],
      {
        name: 'lazy',
        shape: [3],
        data: (): Float32Array => {
          throw new Error('producer failed');
        },
      },
    ];
    assert.throws(() => writeSafetensorsFile(path, bad), /producer failed/);
    assert.throws(() => writeSafetensorsFile(path, [{ name: 'x', shape: [2, 2], data: new Float32Array(3) }]), isCode('SHAPE_MISMATCH', /"x" has 3 values for shape \[2,2\]/));
    assert.throws(() => writeSafetensorsFile(path, [tensors[1], tensors[1]]), isCode('INVALID_ARGUMENT', /used twice/));
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(readdirSync(root).filter((f) => f.includes('.tmp-')), []);
    assert.ok(existsSync(path));
  });
});


describe('loadParameters: PyTorch-layout tensors into a ParameterStore', () => {
  const build = async (seed: number): Promise<{ store: ParameterStore; mapping: ParameterMapping[] }> => {
    const engine = await initBackend('cpu');
    const store = new ParameterStore(engine, new Random(seed));
    const layouts: Array<[string, number[], 'conv' | 'linear' | 'plain']> = [
      ['conv.weight', [3, 3, 2, 4], 'conv'],
      ['conv.bias', [4], 'plain'],
      ['proj.weight', [3, 5], 'linear'],
      ['norm.weight', [5], 'plain'],
    ];
    for (const [name, shape] of layouts) store.create(name, shape, { kind: 'normal', std: 1 });
    const mapping = layouts.map(([name, shape, layout]) => layoutMapping(layout, name, shape));
    assert.deepEqual(mappingFromLayouts(store, new Map(layouts.map(([name, , layout]) => [name, layout]))), mapping);
    return { store, mapping };
  };

  test('the converters move each element where PyTorch keeps it (conv OIHW ↔ HWIO, linear [out,in] ↔ [in,out])', () => {
    const [o, i, kh, kw] = [70, 40, 2, 3]; // past one 32×32 tile in both channel dimensions
    const torch = Float32Array.from({ length: o * i * kh * kw }, (_, n) => n);
    const ours = conv2dOIHWtoHWIO(torch, [o, i, kh, kw]);
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
      assert.equal(ours[((y * kw + x) * i + b) * o + a], torch[((a * i + b) * kh + y) * kw + x]);
    }
    assert.deepEqual(conv2dHWIOtoOIHW(ours, [o, i, kh, kw]), torch);
    const linear = Float32Array.from({ length: 70 * 130 }, (_, n) => n); // [out 70, in 130], past one 64-block
    const t = linearOutInToInOut(linear, [70, 130]);
    assert.equal(t[129 * 70 + 69], linear[69 * 130 + 129]);
    assert.equal(t[1 * 70 + 2], linear[2 * 130 + 1]);
    assert.deepEqual(linearInOutToOutIn(t, [70, 130]), linear);
  });

  test('save in PyTorch layout → safetensors → load into another store reproduces every value', async () => {
    const a = await build(1);
    const b = await build(2);
    const path = tmp('store.safetensors');
    writeSafetensorsFile(path, torchTensorsFromStore(a.store, a.mapping));
    const source = openSafetensorsFile(path);
    assert.deepEqual(source.info('conv.weight')?.shape, [4, 2, 3, 3], 'written OIHW');
    assert.deepEqual(source.info('proj.weight')?.shape, [5, 3], 'written [out, in]');
    const seen: string[] = [];
    loadParameters(b.store, source, b.mapping, { onTensor: (done, total, name) => seen.push(`${done}/${total} ${name}`) });
    source.close();
    const want = a.store.exportValues();
    for (const [name, value] of b.store.exportValues()) assert.deepEqual(value.data, want.get(name)?.data, name);
    assert.deepEqual(seen, ['1/4 conv.weight', '2/4 conv.bias', '3/4 proj.weight', '4/4 norm.weight']);
  });

  test('missing, unexpected and mis-shaped tensors: one CHECKPOINT_CORRUPT naming each tensor and both shapes; nothing loaded', async () => {
    const a = await build(1);
    const b = await build(2);
    const before = b.store.exportValues();
    const write = (edit: (list: TensorToWrite[]) => TensorToWrite[]): TensorSource => {
      const path = tmp('edited.safetensors');
      writeSafetensorsFile(path, edit(torchTensorsFromStore(a.store, a.mapping)));
      return openSafetensorsFile(path, 'edited.safetensors');
    };
    const cases: Array<[string, TensorSource, RegExp]> = [
      ['missing', write((l) => l.filter((t) => t.name !== 'conv.bias')), /^edited\.safetensors: missing tensor "conv\.bias" \(the model expects \[4\]\)$/],
      ['shape', write((l) => l.map((t) => (t.name === 'proj.weight' ? { name: t.name, shape: [3, 5], data: new Float32Array(15) } : t))), /^edited\.safetensors: tensor "proj\.weight" has shape \[3, 5\] in the file, the model expects \[5, 3\]$/],
      ['unexpected', write((l) => [...l, { name: 'extra.bias', shape: [2], data: new Float32Array(2) }]), /^edited\.safetensors: unexpected tensor "extra\.bias" \[2\]/],
      [
        'several',
        write((l) => [...l.filter((t) => t.name !== 'norm.weight'), { name: 'extra.bias', shape: [2], data: new Float32Array(2) }]),
        /^edited\.safetensors: 2 problems: missing tensor "norm\.weight" \(the model expects \[5\]\); unexpected tensor "extra\.bias" \[2\]/,
      ],
    ];
    for (const [why, source, pattern] of cases) {
      assert.throws(() => loadParameters(b.store, source, b.mapping), isCode('CHECKPOINT_CORRUPT', pattern), why);
      source.close();
    }
    for (const [name, value] of b.store.exportValues()) assert.deepEqual(value.data, before.get(name)?.data, `${name} untouched`);
    // `ignore` lets known extras through.
    const withExtra = write((l) => [...l, { name: 'text_model.embeddings.position_ids', shape: [1, 3], data: new Float32Array(3) }]);
    loadParameters(b.store, withExtra, b.mapping, { ignore: isPositionIds });
    withExtra.close();
    // A store parameter the mapping forgets is the caller's bug, not the file's.
    assert.throws(() => loadParameters(b.store, withExtra, b.mapping.slice(1)), isCode('INVALID_ARGUMENT', /1 model parameter\(s\) have no mapping, e\.g\. "conv\.weight"/));
  });
});
