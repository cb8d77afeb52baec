/** Stable Diffusion checkpoint layouts: SD-1.x single files (against SD-1.5's state dict) and diffusers folders. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { floatToHalf, halfToFloat } from '../src/checkpoint/safetensors.ts';
import { type TensorToWrite, openSafetensorsFile, writeSafetensorsFile } from '../src/checkpoint/safetensors-file.ts';
import { type PipelineToSave, openDiffusersPipeline, openStableDiffusionCheckpoint, saveDiffusersPipeline } from '../src/checkpoint/diffusers-folder.ts';
import { type TensorSource, identityMapping, loadParameters } from '../src/checkpoint/tensor-source.ts';
import { ParameterStore } from '../src/models/parameters.ts';
import { initBackend } from '../src/backend-node.ts';
import { type RenamedTensorSource, SD1_LAYOUT, diffusersToSingleFileName, singleFileCheckpoint, splitSingleFile } from '../src/checkpoint/single-file.ts';
import { SD15_SCHEDULER_CONFIG, type SdModelComponent } from '../src/checkpoint/sd-pipeline.ts';
import { Random } from '../src/rng.ts';
import { isCode, randomArray, tempArea } from './sd-checkpoint-helpers.ts';

const { root, tmp } = tempArea('sd-checkpoint-layouts-test-');

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
    // A safetensors file whose header length starts with the zip magic's bytes ("PK" = 0x4b50 = 19280)
    // is still a safetensors file.
    const lookalike = tmp('lookalike.safetensors');
    const empties = Array.from({ length: 200 }, (_, i) => ({ name: `t${i}`, shape: [0], data: new Float32Array(0) }));
    const write = (pad: number): number => {
      writeSafetensorsFile(lookalike, empties, { metadata: { pad: 'x'.repeat(pad) } });
      return readFileSync(lookalike).readUInt32LE(0);
    };
    const pad = 19280 - write(0);
    assert.ok(pad >= 0);
    assert.equal(write(pad), 19280);
    assert.equal(readFileSync(lookalike).subarray(0, 2).toString('latin1'), 'PK');
    assert.throws(() => openStableDiffusionCheckpoint(lookalike), isCode('CHECKPOINT_CORRUPT', /not a Stable Diffusion 1\.x single-file checkpoint/));
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

