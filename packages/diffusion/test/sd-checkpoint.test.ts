import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DiffusionError } from '../src/errors.ts';
import { encodeSafetensorsHeader, floatToBfloat16, floatToHalf, halfToFloat } from '../src/checkpoint/safetensors.ts';
import { openSafetensorsFile, writeSafetensorsFile } from '../src/checkpoint/safetensors-file.ts';
import { SafetensorsBytesSource, type TensorSource } from '../src/checkpoint/tensor-source.ts';
import { type RenamedTensorSource, SD1_LAYOUT, diffusersToSingleFileName, singleFileCheckpoint, splitSingleFile } from '../src/checkpoint/single-file.ts';
import type { SdModelComponent } from '../src/checkpoint/sd-pipeline.ts';
import { Random } from '../src/rng.ts';

const root = mkdtempSync(join(tmpdir(), 'sd-checkpoint-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const tmp = (name: string): string => join(root, `${counter++}-${name}`);

const isCode =
  (code: string, ...patterns: RegExp[]) =>
  (e: unknown): boolean => {
    if (!(e instanceof DiffusionError) || e.code !== code) return false;
    for (const p of patterns) assert.match(e.message, p);
    return true;
  };

function randomArray(count: number, seed: number, scale = 1): Float32Array {
  const random = new Random(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = random.normal() * scale;
  return out;
}

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

interface ShapesEntry {
  name: string;
  shape: number[];
  single_file_name: string;
  single_file_shape: number[];
}
type ShapesComponent = { config: Record<string, unknown>; tensors: ShapesEntry[]; n_tensors: number; optional_keys?: Array<{ name: string; shape: number[] }> };
const shapes = JSON.parse(gunzipSync(readFileSync(new URL('./fixtures/sd15-state-dict-shapes.json.gz', import.meta.url))).toString('utf8')) as Record<SdModelComponent, ShapesComponent>;

/** A TensorSource with names and shapes only (reads fail): enough for every name/shape/config check. */
function shapeOnlySource(entries: Array<[string, number[]]>, source = 'sd15.safetensors'): TensorSource & { closed: number } {
  const map = new Map(entries);
  return {
    source,
    closed: 0,
    names: () => [...map.keys()],
    info: (name) => (map.has(name) ? { shape: (map.get(name) as number[]).slice(), dtype: 'F16' } : undefined),
    read: () => {
      throw new Error('no data');
    },
    close() {
      this.closed++;
    },
  };
}

/** Extras real SD-1.x files carry besides the three models (EMA copies, the DDPM schedule, position ids). */
const SINGLE_FILE_EXTRAS: Array<[string, number[]]> = [
  ['model_ema.decay', []],
  ['model_ema.num_updates', []],
  ['model_ema.diffusion_modelinput_blocks00weight', [320, 4, 3, 3]],
  ['betas', [1000]],
  ['alphas_cumprod', [1000]],
  ['alphas_cumprod_prev', [1000]],
  ['sqrt_alphas_cumprod', [1000]],
  ['posterior_mean_coef1', [1000]],
  ['logvar', [1000]],
  ['cond_stage_model.transformer.text_model.embeddings.position_ids', [1, 77]],
];

describe('single-file SD-1.x checkpoints: names, shapes and configs against SD-1.5 (diffusers 0.27.2)', () => {
  const components = ['unet', 'vae', 'text_encoder'] as const;
  const allSingle: Array<[string, number[]]> = components.flatMap((c) => shapes[c].tensors.map((t): [string, number[]] => [t.single_file_name, t.single_file_shape]));

  test('the fixture is the whole SD-1.5 state dict (686 + 248 + 196 tensors)', () => {
    assert.deepEqual(
      components.map((c) => shapes[c].tensors.length),
      [686, 248, 196],
    );
  });

  test('every single-file name maps to exactly its diffusers name and shape; nothing missing, nothing extra; extras ignored', () => {
    const file = shapeOnlySource([...allSingle, ...SINGLE_FILE_EXTRAS]);
    const checkpoint = singleFileCheckpoint(file);
    const views = { unet: checkpoint.unet.weights, vae: checkpoint.vae.weights, text_encoder: checkpoint.textEncoder.weights };
    for (const c of components) {
      const view = views[c] as RenamedTensorSource;
      const expected = new Map(shapes[c].tensors.map((t) => [t.name, t]));
      assert.deepEqual(new Set(view.names()), new Set(expected.keys()), `${c}: the mapped names are exactly the diffusers names`);
      for (const [name, t] of expected) {
        assert.deepEqual(view.info(name)?.shape, t.shape, `${c} ${name} shape`);
        assert.equal(view.originalName(name), t.single_file_name, `${c} ${name} comes from ${t.single_file_name}`);
      }
    }
    assert.deepEqual(new Set(checkpoint.ignored), new Set(SINGLE_FILE_EXTRAS.map(([n]) => n)));
    assert.equal(checkpoint.layout, 'single-file');
    // The three views share the file: it closes once all are closed (or the checkpoint is).
    views.unet.close();
    views.vae.close();
    assert.equal(file.closed, 0);
    views.text_encoder.close();
    assert.equal(file.closed, 1);
  });

  test('the reverse mapping sends every diffusers name to its single-file name', () => {
    for (const c of components) {
      for (const t of shapes[c].tensors) assert.equal(diffusersToSingleFileName(c, t.name, SD1_LAYOUT), t.single_file_name, `${c} ${t.name}`);
    }
    assert.equal(diffusersToSingleFileName('unet', 'no_such.weight'), undefined);
  });

  test('the inferred configs agree with SD-1.5 config.json values on every key they set', () => {
    const checkpoint = singleFileCheckpoint(shapeOnlySource(allSingle));
    const pairs: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      ['unet', checkpoint.unet.config, shapes.unet.config],
      ['vae', checkpoint.vae.config, shapes.vae.config],
      ['text_encoder', checkpoint.textEncoder.config, shapes.text_encoder.config],
    ];
    for (const [c, ours, reference] of pairs) {
      for (const [key, value] of Object.entries(ours)) {
        if (key.startsWith('_') || ['architectures', 'torch_dtype', 'transformers_version'].includes(key)) continue;
        assert.ok(key in reference, `${c}.${key} is a real config key`);
        assert.deepEqual(value, reference[key], `${c}.${key}`);
      }
    }
    assert.equal(checkpoint.unet.config._class_name, 'UNet2DConditionModel');
    assert.equal(checkpoint.scheduler.className, 'PNDMScheduler');
    assert.deepEqual([checkpoint.scheduler.config.beta_start, checkpoint.scheduler.config.beta_end, checkpoint.scheduler.config.beta_schedule], [0.00085, 0.012, 'scaled_linear']);
  });

  test('inpainting-style shapes change the inferred config (in_channels from conv_in)', () => {
    const edited = allSingle.map(([n, s]): [string, number[]] => (n === 'model.diffusion_model.input_blocks.0.0.weight' ? [n, [320, 9, 3, 3]] : [n, s]));
    assert.equal(singleFileCheckpoint(shapeOnlySource(edited)).unet.config.in_channels, 9);
  });

  test('SD-2.x, SDXL and non-SD files are refused with a clear message; the file is closed', () => {
    const cases: Array<[string, Array<[string, number[]]>, RegExp]> = [
      ['sd2', [...allSingle.filter(([n]) => !n.startsWith('cond_stage_model.')), ['cond_stage_model.model.token_embedding.weight', [49408, 1024]]], /Stable Diffusion 2\.x .*OpenCLIP.*only SD-1\.x/],
      ['sdxl', [['conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight', [49408, 768]], ...allSingle], /SDXL/],
      ['no text encoder', allSingle.filter(([n]) => !n.startsWith('cond_stage_model.')), /no text_encoder tensors \(cond_stage_model\.transformer\.\*\)/],
      ['not SD', [['weight', [3]]], /not a Stable Diffusion 1\.x single-file checkpoint: no unet tensors/],
    ];
    for (const [why, entries, pattern] of cases) {
      const file = shapeOnlySource(entries, 'x.safetensors');
      assert.throws(() => singleFileCheckpoint(file), isCode('CHECKPOINT_CORRUPT', /^x\.safetensors: /, pattern), why);
      assert.equal(file.closed, 1, `${why}: closed`);
    }
  });

  test('a real single file: data comes through the renaming, VAE attention 1×1 convs read as [C, C], old CLIP names get text_model.', () => {
    // A small file with SD-1.x names but tiny shapes (the mapping is per name; configs are not inferred here).
    const entries: Array<[string, number[]]> = [
      ['first_stage_model.decoder.mid.attn_1.q.weight', [3, 3, 1, 1]],
      ['first_stage_model.decoder.up.0.block.0.nin_shortcut.weight', [2, 3, 1, 1]],
      ['first_stage_model.encoder.down.0.block.0.conv1.weight', [2, 1, 1, 1]],
      ['first_stage_model.decoder.up.3.upsample.conv.bias', [2]],
      ['model.diffusion_model.input_blocks.3.0.op.weight', [2, 2, 3, 3]],
      ['model.diffusion_model.output_blocks.2.1.conv.bias', [2]],
      ['model.diffusion_model.output_blocks.5.2.conv.bias', [2]],
      ['model.diffusion_model.output_blocks.5.1.proj_in.bias', [2]],
      ['cond_stage_model.transformer.embeddings.token_embedding.weight', [5, 2]],
      ['model_ema.decay', []],
    ];
    const path = tmp('tiny-single.safetensors');
    const data = new Map(entries.map(([n, s], i) => [n, randomArray(s.reduce((a, b) => a * b, 1), 100 + i)]));
    writeSafetensorsFile(path, entries.map(([name, shape]) => ({ name, shape, data: data.get(name) as Float32Array })), { dtype: 'F16' });
    const { sources, ignored } = splitSingleFile(openSafetensorsFile(path));
    assert.deepEqual(ignored, ['model_ema.decay']);
    const expect = (c: SdModelComponent, name: string, original: string, shape: number[]): void => {
      assert.deepEqual(sources[c].info(name), { shape, dtype: 'F16' }, name);
      const want = (data.get(original) as Float32Array).map((v) => halfToFloat(floatToHalf(v)));
      assert.deepEqual(sources[c].read(name), want, name);
    };
    expect('vae', 'decoder.mid_block.attentions.0.to_q.weight', 'first_stage_model.decoder.mid.attn_1.q.weight', [3, 3]);
    expect('vae', 'decoder.up_blocks.3.resnets.0.conv_shortcut.weight', 'first_stage_model.decoder.up.0.block.0.nin_shortcut.weight', [2, 3, 1, 1]);
    expect('vae', 'decoder.up_blocks.0.upsamplers.0.conv.bias', 'first_stage_model.decoder.up.3.upsample.conv.bias', [2]);
    expect('vae', 'encoder.down_blocks.0.resnets.0.conv1.weight', 'first_stage_model.encoder.down.0.block.0.conv1.weight', [2, 1, 1, 1]);
    expect('unet', 'down_blocks.0.downsamplers.0.conv.weight', 'model.diffusion_model.input_blocks.3.0.op.weight', [2, 2, 3, 3]);
    expect('unet', 'up_blocks.0.upsamplers.0.conv.bias', 'model.diffusion_model.output_blocks.2.1.conv.bias', [2]);
    expect('unet', 'up_blocks.1.upsamplers.0.conv.bias', 'model.diffusion_model.output_blocks.5.2.conv.bias', [2]);
    expect('unet', 'up_blocks.1.attentions.2.proj_in.bias', 'model.diffusion_model.output_blocks.5.1.proj_in.bias', [2]);
    expect('text_encoder', 'text_model.embeddings.token_embedding.weight', 'cond_stage_model.transformer.embeddings.token_embedding.weight', [5, 2]);
    for (const s of Object.values(sources)) s.close();
    assert.throws(() => sources.unet.read('down_blocks.0.downsamplers.0.conv.weight'), isCode('INVALID_ARGUMENT', /after close/));
  });

  test('two original names for one diffusers name is an error naming both', () => {
    const file = shapeOnlySource([...allSingle, ['cond_stage_model.transformer.final_layer_norm.weight', [768]]]);
    assert.throws(() => singleFileCheckpoint(file), isCode('CHECKPOINT_CORRUPT', /"cond_stage_model\.transformer\.text_model\.final_layer_norm\.weight" and "cond_stage_model\.transformer\.final_layer_norm\.weight" both map to text_encoder "text_model\.final_layer_norm\.weight"/));
  });
});
