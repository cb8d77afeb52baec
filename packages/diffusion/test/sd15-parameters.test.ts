/**
 * The models' parameters are exactly SD-1.5's: built from SD-1.5's configs, UNet2DConditionModel,
 * AutoencoderKL and CLIPTextModel must have every tensor of the reference state dicts
 * (fixtures/sd15-state-dict-shapes.json.gz: diffusers / transformers names and PyTorch shapes,
 * 686 + 248 + 196 tensors), no other, each with the same shape — so a real SD-1.5 checkpoint loads
 * by name. The models are built on a shape-only engine: nothing the size of the weights is touched.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { AutoencoderKL, readAutoencoderConfig } from '../src/models/sd/autoencoder-kl.ts';
import { ClipTextModel, readClipTextConfig } from '../src/models/sd/clip-text-model.ts';
import { UNet2DConditionModel, readUNetConfig } from '../src/models/sd/unet-2d-condition.ts';
import { parameterMappings } from '../src/models/sd/weights.ts';
import type { ModuleBuilder } from '../src/models/sd/modules.ts';
import { Random } from '../src/rng.ts';
import type { TensorEngine } from '../src/tensor/engine.ts';

interface Reference {
  config: Record<string, unknown>;
  n_params: number;
  tensors: Array<{ name: string; shape: number[] }>;
}
const reference = JSON.parse(gunzipSync(readFileSync(join(import.meta.dirname, 'fixtures', 'sd15-state-dict-shapes.json.gz'))).toString('utf8')) as Record<'unet' | 'vae' | 'text_encoder', Reference>;

/**
 * Enough of a TensorEngine to build a model: tensors keep their (zero, untouched) buffers by
 * reference, so 1 G parameters cost address space, not memory.
 */
function shapeOnlyEngine(): TensorEngine {
  const make = (shape: readonly number[]) => ({ shape: shape.slice(), size: shape.reduce((a, b) => a * b, 1), dispose() {}, assign() {} });
  return { name: 'shape-only', tensor: (_values: Float32Array, shape: readonly number[]) => make(shape), variable: (t: { shape: number[] }) => make(t.shape) } as unknown as TensorEngine;
}

function torchShapes(builder: ModuleBuilder): Map<string, number[]> {
  return new Map(parameterMappings(builder).map((m) => [m.sourceName, m.torchShape]));
}

function compare(ours: Map<string, number[]>, expected: Reference): void {
  const theirs = new Map(expected.tensors.map((t) => [t.name, t.shape]));
  const missing = [...theirs.keys()].filter((n) => !ours.has(n));
  const extra = [...ours.keys()].filter((n) => !theirs.has(n));
  assert.deepEqual(missing, [], 'tensors of SD-1.5 the model lacks');
  assert.deepEqual(extra, [], 'parameters SD-1.5 does not have');
  for (const [name, shape] of theirs) assert.deepEqual(ours.get(name), shape, name);
  const count = [...ours.values()].reduce((s, shape) => s + shape.reduce((a, b) => a * b, 1), 0);
  assert.equal(count, expected.n_params);
}

describe('SD-1.5 parameter names and shapes', () => {
  const e = shapeOnlyEngine();
  const init = { initialise: false };
  test('UNet2DConditionModel: 686 tensors, 859,520,964 parameters', () => {
    compare(torchShapes(new UNet2DConditionModel(e, new Random(0), readUNetConfig(reference.unet.config), init).builder), reference.unet);
  });
  test('AutoencoderKL: 248 tensors, 83,653,863 parameters', () => {
    compare(torchShapes(new AutoencoderKL(e, new Random(0), readAutoencoderConfig(reference.vae.config), init).builder), reference.vae);
  });
  test('CLIPTextModel: 196 tensors, 123,060,480 parameters', () => {
    compare(torchShapes(new ClipTextModel(e, new Random(0), readClipTextConfig(reference.text_encoder.config), init).builder), reference.text_encoder);
  });
});
