/**
 * Each shipped text-to-image model (models/shapes-t2i, models/fashion-t2i) is a folder diffusers
 * loads and samples as we do: diffusers' own StableDiffusionPipeline made
 * fixtures/shipped-t2i/<name>/image.npy from the seeded latent in latents.npy
 * (make_shipped_golden.py there), and this package's pipeline must give the same float image from
 * the same latent.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../src/backend-node.ts';
import { parseNpy } from '../src/data/npy.ts';
import { SHIPPED_T2I_MODEL_NAMES, shippedTextToImageDirectory } from '../src/node/shipped-model.ts';
import { loadStableDiffusion } from '../src/pipelines/load-node.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'shipped-t2i');

for (const name of SHIPPED_T2I_MODEL_NAMES) {
  test(`${name}: diffusers’ pipeline and ours give the same image (same latent, same settings)`, async () => {
    const model = shippedTextToImageDirectory(name);
    assert.ok(model !== null, `the shipped text-to-image model ${name} is missing`);
    const fixture = join(FIXTURE, name);
    const golden = JSON.parse(readFileSync(join(fixture, 'golden.json'), 'utf8')) as { prompt: string; steps: number; guidance: number; unetSha256: string };
    const weights = createHash('sha256').update(readFileSync(join(model, 'unet', 'diffusion_pytorch_model.safetensors'))).digest('hex');
    assert.equal(weights, golden.unetSha256, `the golden was made from other UNet weights: rerun test/fixtures/shipped-t2i/make_shipped_golden.py ${name}`);
    const latents = parseNpy(readFileSync(join(fixture, 'latents.npy')), 'latents.npy');
    const expected = parseNpy(readFileSync(join(fixture, 'image.npy')), 'image.npy');
    const pipe = loadStableDiffusion(await initBackend('auto'), model);
    try {
      const result = await pipe.textToImage({ prompt: golden.prompt, steps: golden.steps, guidance: golden.guidance, latents: Float32Array.from(latents.data) });
      assert.deepEqual([result.count, result.height, result.width], expected.shape.slice(0, 3));
      let worst = 0;
      for (let i = 0; i < expected.data.length; i++) worst = Math.max(worst, Math.abs(result.images[i]! - expected.data[i]!));
      assert.ok(worst < 1e-4, `largest difference ${worst}`);
    } finally {
      pipe.dispose();
    }
  });
}
