/**
 * The Stable Diffusion models against the reference implementation: CLIPTextModel (transformers),
 * UNet2DConditionModel and AutoencoderKL (diffusers) on tiny random configs, loaded from the files
 * the reference saved (fixtures/sd/, see its README) and run on the same inputs. Tolerance: about
 * 1e-4 relative to the output's scale. Plus the config errors and the weight round trip.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { initBackend } from '../src/backend-node.ts';
import { openSafetensorsFile } from '../src/checkpoint/safetensors-file.ts';
import { SafetensorsBytesSource, type TensorSource } from '../src/checkpoint/tensor-source.ts';
import { encodeSafetensors } from '../src/checkpoint/safetensors.ts';
import { AutoencoderKL, readAutoencoderConfig } from '../src/models/sd/autoencoder-kl.ts';
import { ClipTextModel, readClipTextConfig } from '../src/models/sd/clip-text-model.ts';
import { UNet2DConditionModel, readUNetConfig } from '../src/models/sd/unet-2d-condition.ts';
import { loadModelWeights, torchStateDict } from '../src/models/sd/weights.ts';
import { nchwToNhwc, nhwcToNchw } from '../src/tensor/layout.ts';
import { Random } from '../src/rng.ts';
import type { TensorEngine } from '../src/tensor/engine.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'sd');
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

/** max |a − b| / max |b|: the error relative to the reference output's scale. */
function relativeError(got: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(got.length, expected.length, 'lengths differ');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < got.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

let e: TensorEngine;
before(async () => {
  e = await initBackend('auto');
});

function golden(dir: string): TensorSource {
  return openSafetensorsFile(join(FIXTURES, dir, 'golden.safetensors'));
}

describe('UNet2DConditionModel matches diffusers', () => {
  for (const dir of ['unet-tiny', 'unet-tiny-linear', 'unet-tiny-3level']) {
    test(`${dir}: output at one timestep and at per-sample (fractional) timesteps`, () => {
      const unet = new UNet2DConditionModel(e, new Random(0), readUNetConfig(readJson(join(FIXTURES, dir, 'config.json'))));
      const weights = openSafetensorsFile(join(FIXTURES, dir, 'diffusion_pytorch_model.safetensors'));
      loadModelWeights(unet, weights);
      weights.close();
      const g = golden(dir);
      const [n, c, h, w] = g.info('sample')?.shape ?? [];
      const sample = e.tensor(nchwToNhwc(g.read('sample'), n, c, h, w), [n, h, w, c]);
      const context = e.tensor(g.read('encoder_hidden_states'), g.info('encoder_hidden_states')?.shape ?? []);
      const meta = readJson(join(FIXTURES, dir, 'golden.json'));
      for (const [timesteps, key] of [
        [new Float32Array(n).fill(meta.scalar_timestep as number), 'out_t951'],
        [g.read('timesteps_per_sample'), 'out_per_sample'],
      ] as const) {
        const out = e.tidy(() => unet.forward(e, sample, timesteps, context));
        const got = nhwcToNchw(e.readSync(out), n, h, w, c);
        out.dispose();
        const err = relativeError(got, g.read(key));
        assert.ok(err < 1e-4, `${key}: relative error ${err}`);
      }
      sample.dispose();
      context.dispose();
      g.close();
      unet.params.dispose();
    });
  }
});

describe('AutoencoderKL matches diffusers', () => {
  test('encoder mean and logvar, decoder output', () => {
    const vae = new AutoencoderKL(e, new Random(0), readAutoencoderConfig(readJson(join(FIXTURES, 'vae-tiny', 'config.json'))));
    const weights = openSafetensorsFile(join(FIXTURES, 'vae-tiny', 'diffusion_pytorch_model.safetensors'));
    loadModelWeights(vae, weights);
    weights.close();
    const g = golden('vae-tiny');
    const [, , h, w] = g.info('image')?.shape ?? [];
    const [, lc, lh, lw] = g.info('latent')?.shape ?? [];
    const image = e.tensor(nchwToNhwc(g.read('image'), 1, 3, h, w), [1, h, w, 3]);
    const posterior = vae.encode(e, image);
    const mean = nhwcToNchw(e.readSync(posterior.mean), 1, lh, lw, lc);
    const logvar = nhwcToNchw(e.readSync(posterior.logvar), 1, lh, lw, lc);
    assert.ok(relativeError(mean, g.read('mean')) < 1e-4, `mean ${relativeError(mean, g.read('mean'))}`);
    assert.ok(relativeError(logvar, g.read('logvar')) < 1e-4, `logvar ${relativeError(logvar, g.read('logvar'))}`);
    const latent = e.tensor(nchwToNhwc(g.read('latent'), 1, lc, lh, lw), [1, lh, lw, lc]);
    const decoded = e.tidy(() => vae.decode(e, latent));
    const got = nhwcToNchw(e.readSync(decoded), 1, h, w, 3);
    assert.ok(relativeError(got, g.read('decoded')) < 1e-4, `decoded ${relativeError(got, g.read('decoded'))}`);
    for (const t of [image, posterior.mean, posterior.logvar, latent, decoded]) t.dispose();
    g.close();
    vae.params.dispose();
  });
});

describe('CLIPTextModel matches transformers', () => {
  for (const dir of ['clip-text-quick-gelu', 'clip-text-gelu']) {
    test(`${dir}: last_hidden_state, pooled output and clip skip`, () => {
      const clip = new ClipTextModel(e, new Random(0), readClipTextConfig(readJson(join(FIXTURES, dir, 'config.json'))));
      const weights = openSafetensorsFile(join(FIXTURES, dir, 'model.safetensors'));
      loadModelWeights(clip, weights);
      weights.close();
      const g = golden(dir);
      const [rows, length] = g.info('input_ids')?.shape ?? [];
      const flat = g.read('input_ids');
      const ids = Array.from({ length: rows }, (_, r) => Int32Array.from(flat.subarray(r * length, (r + 1) * length)));
      const skips = [0, 1, 2].filter((k) => k === 0 || g.info(`clip_skip_${k}`) !== undefined);
      assert.ok(skips.length >= 2, 'the golden has at least one clip-skip output');
      for (const skip of skips) {
        const key = skip === 0 ? 'last_hidden_state' : `clip_skip_${skip}`;
        const out = clip.forward(e, ids, skip);
        const err = relativeError(e.readSync(out.hiddenState), g.read(key));
        assert.ok(err < 1e-4, `${key}: relative error ${err}`);
        if (skip === 0) {
          const pooledErr = relativeError(e.readSync(out.pooled), g.read('pooler_output'));
          assert.ok(pooledErr < 1e-4, `pooler_output: relative error ${pooledErr}`);
        }
        out.hiddenState.dispose();
        out.pooled.dispose();
      }
      g.close();
      clip.params.dispose();
    });
  }
});

describe('configs and weights', () => {
  test('an unknown block type, an unknown option and an unsupported value are named', () => {
    const base = readJson(join(FIXTURES, 'unet-tiny', 'config.json'));
    assert.throws(() => readUNetConfig({ ...base, down_block_types: ['CrossAttnDownBlock2D', 'SimpleDownBlock'] }), /unknown block type "SimpleDownBlock" in "down_block_types"/);
    assert.throws(() => readUNetConfig({ ...base, mid_block_type: 'UNetMidBlock2DSimpleCrossAttn' }), /"UNetMidBlock2DSimpleCrossAttn" in "mid_block_type"/);
    assert.throws(() => readUNetConfig({ ...base, frobnicate: true }), /unknown option "frobnicate"/);
    assert.throws(() => readUNetConfig({ ...base, addition_embed_type: 'text_time' }), /"addition_embed_type" = "text_time" is not supported/);
    assert.throws(() => readUNetConfig({ ...base, block_out_channels: [8, 16, 32] }), /"down_block_types" has 2 entries for 3 block_out_channels/);
    assert.throws(() => readAutoencoderConfig({ down_block_types: ['DownBlock2D'], up_block_types: ['UpDecoderBlock2D'], block_out_channels: [32] }), /unknown block type "DownBlock2D"/);
    assert.throws(() => readClipTextConfig({ hidden_act: 'relu' }), /"hidden_act" = "relu" is not supported/);
  });

  test('a model saves in PyTorch layouts and loads back bit for bit; a wrong shape is named with both shapes', () => {
    const config = readUNetConfig(readJson(join(FIXTURES, 'unet-tiny', 'config.json')));
    const first = new UNet2DConditionModel(e, new Random(5), config);
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const t of torchStateDict(first)) tensors.set(t.name, { shape: t.shape, data: t.data });
    assert.deepEqual(tensors.get('conv_in.weight')?.shape, [8, 4, 3, 3]);
    assert.deepEqual(tensors.get('time_embedding.linear_1.weight')?.shape, [32, 8]);
    const second = new UNet2DConditionModel(e, new Random(6), config);
    loadModelWeights(second, new SafetensorsBytesSource(encodeSafetensors(tensors), 'roundtrip.safetensors'));
    for (const name of first.params.names()) assert.deepEqual(e.readSync(second.params.get(name)), e.readSync(first.params.get(name)), name);

    const wrong = new Map(tensors);
    wrong.set('conv_in.weight', { shape: [8, 4, 1, 1], data: new Float32Array(32) });
    wrong.delete('conv_out.bias');
    assert.throws(
      () => loadModelWeights(second, new SafetensorsBytesSource(encodeSafetensors(wrong), 'bad.safetensors')),
      (err: Error) => /"conv_in.weight" has shape \[8, 4, 1, 1\] in the file, the model expects \[8, 4, 3, 3\]/.test(err.message) && /missing tensor "conv_out.bias"/.test(err.message),
    );
    first.params.dispose();
    second.params.dispose();
  });
});
