import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DiffusionError } from '../src/errors.ts';
import { encodeSafetensorsHeader, floatToBfloat16, floatToHalf, halfToFloat } from '../src/checkpoint/safetensors.ts';
import { type TensorToWrite, openSafetensorsFile, writeSafetensorsFile } from '../src/checkpoint/safetensors-file.ts';
import { type PipelineToSave, openDiffusersPipeline, openStableDiffusionCheckpoint, saveDiffusersPipeline } from '../src/checkpoint/diffusers-folder.ts';
import {
  type ParameterMapping,
  SafetensorsBytesSource,
  type TensorSource,
  conv2dHWIOtoOIHW,
  conv2dOIHWtoHWIO,
  identityMapping,
  layoutMapping,
  linearInOutToOutIn,
  linearOutInToInOut,
  loadParameters,
  mappingFromLayouts,
  torchTensorsFromStore,
} from '../src/checkpoint/tensor-source.ts';
import { ParameterStore } from '../src/models/parameters.ts';
import { initBackend } from '../src/backend-node.ts';
import { type RenamedTensorSource, SD1_LAYOUT, diffusersToSingleFileName, isPositionIds, singleFileCheckpoint, splitSingleFile } from '../src/checkpoint/single-file.ts';
import { SD15_SCHEDULER_CONFIG, type SdModelComponent } from '../src/checkpoint/sd-pipeline.ts';
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

  test('a real single file: data comes through the renaming, VAE attention 1×1 convs read as [C, C], old CLIP names get text_model.', async () => {
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
    // Through loadParameters, a renamed tensor's problem also names what the file calls it.
    const store = new ParameterStore(await initBackend('cpu'), new Random(0));
    store.create('up_blocks.0.upsamplers.0.conv.bias', [3], { kind: 'zeros' });
    assert.throws(
      () => loadParameters(store, sources.unet, [identityMapping('up_blocks.0.upsamplers.0.conv.bias', [3])], { ignore: (n) => n !== 'up_blocks.0.upsamplers.0.conv.bias' }),
      isCode('CHECKPOINT_CORRUPT', /\(unet\): tensor "up_blocks\.0\.upsamplers\.0\.conv\.bias" \(stored as "model\.diffusion_model\.output_blocks\.2\.1\.conv\.bias"\) has shape \[2\] in the file, the model expects \[3\]$/),
    );
    for (const s of Object.values(sources)) s.close();
    assert.throws(() => sources.unet.read('down_blocks.0.downsamplers.0.conv.weight'), isCode('INVALID_ARGUMENT', /after close/));
  });

  test('two original names for one diffusers name is an error naming both', () => {
    const file = shapeOnlySource([...allSingle, ['cond_stage_model.transformer.final_layer_norm.weight', [768]]]);
    assert.throws(() => singleFileCheckpoint(file), isCode('CHECKPOINT_CORRUPT', /"cond_stage_model\.transformer\.text_model\.final_layer_norm\.weight" and "cond_stage_model\.transformer\.final_layer_norm\.weight" both map to text_encoder "text_model\.final_layer_norm\.weight"/));
  });
});

/** A tiny pipeline's parts: diffusers names, PyTorch shapes, seeded values (no real model needed to test the files). */
function tinyPipeline(seed: number): { parts: PipelineToSave; values: Map<string, Float32Array> } {
  const values = new Map<string, Float32Array>();
  const tensors = (component: string, list: Array<[string, number[]]>): TensorToWrite[] =>
    list.map(([name, shape], i) => {
      const data = randomArray(shape.reduce((a, b) => a * b, 1), seed * 1000 + i + component.length * 100);
      values.set(`${component}/${name}`, data);
      return { name, shape, data: () => data };
    });
  const tokenizerDir = join(root, `tokenizer-${seed}`);
  mkdirSync(tokenizerDir, { recursive: true });
  writeFileSync(join(tokenizerDir, 'vocab.json'), '{"a</w>": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}');
  writeFileSync(join(tokenizerDir, 'merges.txt'), '#version: 0.2\n');
  return {
    parts: {
      textEncoder: { config: { hidden_size: 4, num_hidden_layers: 1 }, tensors: tensors('text_encoder', [['text_model.embeddings.token_embedding.weight', [3, 4]], ['text_model.final_layer_norm.weight', [4]]]) },
      unet: { config: { block_out_channels: [2], cross_attention_dim: 4 }, tensors: tensors('unet', [['conv_in.weight', [2, 4, 3, 3]], ['conv_in.bias', [2]], ['up_blocks.0.attentions.0.proj_in.weight', [2, 2, 1, 1]]]) },
      vae: { config: { latent_channels: 4 }, tensors: tensors('vae', [['decoder.mid_block.attentions.0.to_q.weight', [2, 2]], ['post_quant_conv.weight', [4, 4, 1, 1]]]) },
      scheduler: { className: 'PNDMScheduler', config: { ...SD15_SCHEDULER_CONFIG } },
      tokenizerDir,
    },
    values,
  };
}

describe('diffusers pipeline folders', () => {
  test('save → open round trip: model_index, configs, weights (F32 and the fp16 variant), tokenizer, scheduler', () => {
    for (const dtype of ['F32', 'F16'] as const) {
      const dir = tmp(`pipeline-${dtype}`);
      const { parts, values } = tinyPipeline(dtype === 'F32' ? 1 : 2);
      saveDiffusersPipeline(dir, parts, { dtype });
      const index = JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(index._class_name, 'StableDiffusionPipeline');
      assert.deepEqual(index.unet, ['diffusers', 'UNet2DConditionModel']);
      assert.deepEqual(index.text_encoder, ['transformers', 'CLIPTextModel']);
      const suffix = dtype === 'F16' ? '.fp16' : '';
      for (const file of [`unet/diffusion_pytorch_model${suffix}.safetensors`, `vae/diffusion_pytorch_model${suffix}.safetensors`, `text_encoder/model${suffix}.safetensors`]) {
        assert.ok(existsSync(join(dir, file)), file);
        const source = openSafetensorsFile(join(dir, file));
        assert.deepEqual(source.metadata, { format: 'pt' }, 'transformers requires format=pt metadata');
        source.close();
      }
      const checkpoint = openStableDiffusionCheckpoint(dir);
      try {
        assert.equal(checkpoint.layout, 'diffusers');
        assert.equal(checkpoint.unet.className, 'UNet2DConditionModel');
        assert.deepEqual(checkpoint.unet.config.block_out_channels, [2]);
        assert.equal(checkpoint.unet.config._class_name, 'UNet2DConditionModel');
        assert.deepEqual(checkpoint.textEncoder.config.architectures, ['CLIPTextModel']);
        assert.equal(checkpoint.scheduler.className, 'PNDMScheduler');
        assert.equal(checkpoint.scheduler.config.beta_schedule, 'scaled_linear');
        assert.equal(checkpoint.tokenizerDir, join(dir, 'tokenizer'));
        assert.ok(existsSync(join(dir, 'tokenizer', 'merges.txt')));
        const byComponent = { text_encoder: checkpoint.textEncoder.weights, unet: checkpoint.unet.weights, vae: checkpoint.vae.weights };
        for (const [key, data] of values) {
          const [component, name] = key.split('/') as [keyof typeof byComponent, string];
          const back = byComponent[component].read(name);
          const expected = dtype === 'F32' ? data : data.map((v) => halfToFloat(floatToHalf(v)));
          assert.deepEqual(back, expected, key);
          assert.equal(byComponent[component].info(name)?.dtype, dtype);
        }
      } finally {
        checkpoint.close();
      }
    }
    assert.deepEqual(readdirSync(root).filter((f) => f.includes('.tmp-')), []);
  });

  test('the fp16 variant is found when it is the only weights file; a requested variant is preferred where it exists', () => {
    const dir = tmp('variants');
    saveDiffusersPipeline(dir, tinyPipeline(3).parts, { dtype: 'F16' });
    // Add a full-precision unet beside the fp16 one.
    writeSafetensorsFile(join(dir, 'unet', 'diffusion_pytorch_model.safetensors'), [{ name: 'conv_in.bias', shape: [2], data: Float32Array.of(1, 2) }]);
    const full = openDiffusersPipeline(dir);
    assert.match(full.unet.weights.source, /diffusion_pytorch_model\.safetensors$/);
    full.close();
    const half = openDiffusersPipeline(dir, { variant: 'fp16' });
    assert.match(half.unet.weights.source, /diffusion_pytorch_model\.fp16\.safetensors$/);
    assert.match(half.vae.weights.source, /diffusion_pytorch_model\.fp16\.safetensors$/);
    half.close();
    // Another variant (SD-1.5 ships unet/diffusion_pytorch_model.non_ema.safetensors) where it exists.
    writeSafetensorsFile(join(dir, 'unet', 'diffusion_pytorch_model.non_ema.safetensors'), [{ name: 'conv_in.bias', shape: [2], data: Float32Array.of(1, 2) }]);
    const nonEma = openDiffusersPipeline(dir, { variant: 'non_ema' });
    assert.match(nonEma.unet.weights.source, /diffusion_pytorch_model\.non_ema\.safetensors$/);
    assert.match(nonEma.vae.weights.source, /diffusion_pytorch_model\.fp16\.safetensors$/);
    nonEma.close();
  });

  test('pre-0.14 VAE attention names (query/key/value/proj_attn) read as to_q/to_k/to_v/to_out.0', () => {
    const dir = tmp('old-vae');
    const { parts } = tinyPipeline(10);
    const q = Float32Array.of(1, 2, 3, 4);
    parts.vae.tensors = [
      { name: 'encoder.mid_block.attentions.0.query.weight', shape: [2, 2], data: q },
      { name: 'encoder.mid_block.attentions.0.proj_attn.bias', shape: [2], data: Float32Array.of(5, 6) },
      { name: 'encoder.mid_block.attentions.0.group_norm.weight', shape: [2], data: Float32Array.of(7, 8) },
    ];
    saveDiffusersPipeline(dir, parts);
    const checkpoint = openDiffusersPipeline(dir);
    assert.deepEqual(checkpoint.vae.weights.names().sort(), ['encoder.mid_block.attentions.0.group_norm.weight', 'encoder.mid_block.attentions.0.to_out.0.bias', 'encoder.mid_block.attentions.0.to_q.weight']);
    assert.deepEqual(checkpoint.vae.weights.read('encoder.mid_block.attentions.0.to_q.weight'), q);
    assert.deepEqual(checkpoint.vae.weights.info('encoder.mid_block.attentions.0.to_out.0.bias'), { shape: [2], dtype: 'F32' });
    checkpoint.close();
  });

  test('a stale text-encoder position_ids buffer is hidden and listed as ignored', () => {
    const dir = tmp('position-ids');
    const { parts } = tinyPipeline(4);
    parts.textEncoder.tensors = [...parts.textEncoder.tensors, { name: 'text_model.embeddings.position_ids', shape: [1, 3], data: Float32Array.of(0, 1, 2) }];
    saveDiffusersPipeline(dir, parts);
    const checkpoint = openDiffusersPipeline(dir);
    assert.deepEqual(checkpoint.ignored, ['text_model.embeddings.position_ids']);
    assert.ok(!checkpoint.textEncoder.weights.names().includes('text_model.embeddings.position_ids'));
    assert.equal(checkpoint.textEncoder.weights.names().length, 2);
    checkpoint.close();
  });

  test('saving replaces an earlier pipeline atomically; a failed save leaves it intact; an unrelated folder is never replaced', () => {
    const dir = tmp('replace');
    saveDiffusersPipeline(dir, tinyPipeline(5).parts);
    const before = readFileSync(join(dir, 'unet', 'diffusion_pytorch_model.safetensors'));
    const failing = tinyPipeline(6).parts;
    failing.vae.tensors = [
      {
        name: 'x',
        shape: [1],
        data: () => {
          throw new Error('disk full');
        },
      },
    ];
    assert.throws(() => saveDiffusersPipeline(dir, failing), /disk full/);
    assert.deepEqual(readFileSync(join(dir, 'unet', 'diffusion_pytorch_model.safetensors')), before);
    saveDiffusersPipeline(dir, tinyPipeline(7).parts);
    assert.notDeepEqual(readFileSync(join(dir, 'unet', 'diffusion_pytorch_model.safetensors')), before);
    const unrelated = tmp('my-photos');
    mkdirSync(unrelated);
    writeFileSync(join(unrelated, 'holiday.png'), 'x');
    assert.throws(() => saveDiffusersPipeline(unrelated, tinyPipeline(8).parts), isCode('INVALID_ARGUMENT', /not a diffusers pipeline folder; refusing/));
    assert.ok(existsSync(join(unrelated, 'holiday.png')));
    assert.deepEqual(readdirSync(root).filter((f) => f.includes('.tmp-')), []);
  });

  test('bad folders: each a one-line error naming the path (missing → CHECKPOINT_MISSING, malformed → CHECKPOINT_CORRUPT)', () => {
    const fresh = (): string => {
      const dir = tmp('bad');
      saveDiffusersPipeline(dir, tinyPipeline(9).parts);
      return dir;
    };
    const cases: Array<[string, (dir: string) => void, string, RegExp]> = [
      ['no model_index.json', (d) => rmSync(join(d, 'model_index.json')), 'CHECKPOINT_MISSING', /model_index\.json: missing \(is .* a diffusers pipeline folder\?\)/],
      ['malformed model_index.json', (d) => writeFileSync(join(d, 'model_index.json'), '{\n  "_class_name": "StableDiffusionPipeline",\n  "unet": ["diffusers" "UNet2DConditionModel"]\n}'), 'CHECKPOINT_CORRUPT', /model_index\.json: malformed JSON at line 3, column 24 \(byte 69\)/],
      ['unsupported pipeline', (d) => editJson(join(d, 'model_index.json'), (j) => (j._class_name = 'StableDiffusionXLPipeline')), 'CHECKPOINT_CORRUPT', /unsupported pipeline class "StableDiffusionXLPipeline" \(supported: StableDiffusionPipeline/],
      ['unsupported unet class', (d) => editJson(join(d, 'model_index.json'), (j) => (j.unet = ['diffusers', 'UNet2DModel'])), 'CHECKPOINT_CORRUPT', /unsupported unet class "UNet2DModel"/],
      ['no vae folder', (d) => rmSync(join(d, 'vae'), { recursive: true }), 'CHECKPOINT_MISSING', /vae: missing \(model_index\.json lists a vae\)/],
      ['no unet config', (d) => rmSync(join(d, 'unet', 'config.json')), 'CHECKPOINT_MISSING', /unet[/\\]config\.json: missing/],
      ['malformed unet config', (d) => writeFileSync(join(d, 'unet', 'config.json'), '{"a": 1,'), 'CHECKPOINT_CORRUPT', /unet[/\\]config\.json: malformed JSON at line 1, column 9/],
      ['config class disagrees', (d) => editJson(join(d, 'vae', 'config.json'), (j) => (j._class_name = 'VQModel')), 'CHECKPOINT_CORRUPT', /vae[/\\]config\.json: declares "VQModel" but model_index\.json lists AutoencoderKL/],
      ['no scheduler config', (d) => rmSync(join(d, 'scheduler', 'scheduler_config.json')), 'CHECKPOINT_MISSING', /scheduler_config\.json: missing/],
      ['no merges.txt', (d) => rmSync(join(d, 'tokenizer', 'merges.txt')), 'CHECKPOINT_MISSING', /merges\.txt: missing/],
      ['no weights', (d) => rmSync(join(d, 'unet', 'diffusion_pytorch_model.safetensors')), 'CHECKPOINT_MISSING', /unet: no weights \(expected diffusion_pytorch_model\.safetensors or diffusion_pytorch_model\.fp16\.safetensors\)/],
      [
        'pickle only',
        (d) => {
          rmSync(join(d, 'text_encoder', 'model.safetensors'));
          writeFileSync(join(d, 'text_encoder', 'pytorch_model.bin'), 'PK\x03\x04');
        },
        'CHECKPOINT_MISSING',
        /text_encoder[/\\]pytorch_model\.bin: a PyTorch pickle with no safetensors beside it; convert it to safetensors/,
      ],
      ['truncated weights', (d) => truncate(join(d, 'vae', 'diffusion_pytorch_model.safetensors'), 30), 'CHECKPOINT_CORRUPT', /diffusion_pytorch_model\.safetensors: /],
    ];
    for (const [why, damage, code, pattern] of cases) {
      const dir = fresh();
      damage(dir);
      assert.throws(() => openDiffusersPipeline(dir), isCode(code, pattern), why);
    }
    assert.throws(() => openStableDiffusionCheckpoint(join(root, 'nowhere')), isCode('CHECKPOINT_MISSING', /nowhere: no such file or folder/));
  });

  test('single files: a .ckpt or a pickle/zip named .safetensors is refused with the conversion hint; a real one opens', () => {
    const ckpt = tmp('model.ckpt');
    writeFileSync(ckpt, '\x80\x02}q\x00.');
    assert.throws(() => openStableDiffusionCheckpoint(ckpt), isCode('CHECKPOINT_MISSING', /model\.ckpt: a PyTorch pickle checkpoint, not safetensors; convert it to safetensors/));
    const disguised = tmp('disguised.safetensors');
    writeFileSync(disguised, 'PK\x03\x04rest of a zip');
    assert.throws(() => openStableDiffusionCheckpoint(disguised), isCode('CHECKPOINT_MISSING', /disguised\.safetensors: a PyTorch pickle checkpoint/));
    const real = tmp('sd15-names.safetensors');
    // Every SD-1.5 single-file name with a 1-element stand-in (configs inferred from it are nonsense,
    // but the file is a real safetensors file going through the whole opening path).
    const tiny = [...shapes.unet.tensors, ...shapes.vae.tensors, ...shapes.text_encoder.tensors].map((t): [string, number[]] => [t.single_file_name, t.single_file_shape.map(() => 1)]);
    writeSafetensorsFile(real, tiny.map(([name, shape]) => ({ name, shape, data: new Float32Array(1) })), { dtype: 'F16' });
    const checkpoint = openStableDiffusionCheckpoint(real);
    assert.equal(checkpoint.layout, 'single-file');
    assert.equal(checkpoint.unet.weights.names().length, 686);
    assert.equal(checkpoint.vae.weights.names().length, 248);
    assert.equal(checkpoint.textEncoder.weights.names().length, 196);
    assert.equal(checkpoint.tokenizerDir, undefined);
    checkpoint.close();
  });
});

function editJson(path: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(json);
  writeFileSync(path, JSON.stringify(json));
}

function truncate(path: string, bytes: number): void {
  writeFileSync(path, readFileSync(path).subarray(0, bytes));
}

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
    const [o, i, kh, kw] = [4, 3, 2, 5];
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
