/**
 * The whole text-to-image pipeline against diffusers' StableDiffusionPipeline on a tiny random
 * checkpoint (fixtures/sd/pipeline-tiny, with the real CLIP tokenizer): the same initial latent,
 * prompt, negative prompt, guidance 7.5 and 5 steps with PNDM (the checkpoint's own scheduler),
 * DPM-Solver++ 2M and Euler must give the same image within 2/255 on 99 % of the pixels. Plus
 * img2img, batching, cancellation and the errors a caller can provoke.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initBackend } from '../src/backend-node.ts';
import { openSafetensorsFile } from '../src/checkpoint/safetensors-file.ts';
import type { StableDiffusionCheckpoint } from '../src/checkpoint/sd-pipeline.ts';
import { pipelineFromCheckpoint } from '../src/pipelines/from-checkpoint.ts';
import { loadStableDiffusion } from '../src/pipelines/load-node.ts';
import type { StableDiffusionPipeline } from '../src/pipelines/stable-diffusion.ts';
import { latentSchedulerFromDiffusers } from '../src/schedulers/sampling-run.ts';
import type { TensorEngine } from '../src/tensor/engine.ts';
import { loadClipTokenizer } from '../src/text/clip-tokenizer-node.ts';

const DIR = join(import.meta.dirname, 'fixtures', 'sd', 'pipeline-tiny');
const TOKENIZER = join(import.meta.dirname, '..', 'assets', 'clip-tokenizer');
const json = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

/** The tiny checkpoint's parts, as the folder loader presents them. */
function tinyCheckpoint(): StableDiffusionCheckpoint {
  const part = (name: string, className: string, weights: string) => ({
    className,
    config: json(join(DIR, name, 'config.json')),
    configSource: join(DIR, name, 'config.json'),
    weights: openSafetensorsFile(join(DIR, name, weights)),
  });
  const textEncoder = part('text_encoder', 'CLIPTextModel', 'model.safetensors');
  const unet = part('unet', 'UNet2DConditionModel', 'diffusion_pytorch_model.safetensors');
  const vae = part('vae', 'AutoencoderKL', 'diffusion_pytorch_model.safetensors');
  return {
    source: DIR,
    layout: 'diffusers',
    textEncoder,
    unet,
    vae,
    scheduler: { className: 'PNDMScheduler', config: json(join(DIR, 'scheduler', 'scheduler_config.json')), configSource: 'scheduler_config.json' },
    ignored: [],
    close() {
      for (const p of [textEncoder, unet, vae]) p.weights.close();
    },
  };
}

const golden = json(join(DIR, 'golden.json')) as {
  prompt: string;
  negative_prompt: string;
  guidance_scale: number;
  num_inference_steps: number;
  width: number;
  height: number;
  input_ids: { prompt: number[]; negative: number[] };
  runs: Record<string, { timesteps: number[]; init_noise_sigma: number }>;
};

let e: TensorEngine;
let pipe: StableDiffusionPipeline;
before(async () => {
  e = await initBackend('auto');
  const checkpoint = tinyCheckpoint();
  pipe = pipelineFromCheckpoint(e, checkpoint, loadClipTokenizer(TOKENIZER));
  checkpoint.close();
});
after(() => pipe?.dispose());

/** Share of values within `tolerance` of the reference. */
function shareWithin(got: Float32Array, expected: Float32Array, tolerance: number): number {
  assert.equal(got.length, expected.length);
  let ok = 0;
  for (let i = 0; i < got.length; i++) if (Math.abs(got[i] - expected[i]) <= tolerance) ok++;
  return ok / got.length;
}

describe('StableDiffusionPipeline matches diffusers', () => {
  test('the prompts tokenize to the reference ids and encode to its embeddings', () => {
    const [prompt, negative] = pipe.tokenize([golden.prompt, golden.negative_prompt]);
    assert.deepEqual(Array.from(prompt), golden.input_ids.prompt);
    assert.deepEqual(Array.from(negative), golden.input_ids.negative);
    const g = openSafetensorsFile(join(DIR, 'golden.safetensors'));
    const embeddings = pipe.encodePrompts([golden.negative_prompt, golden.prompt]);
    const got = e.readSync(embeddings);
    embeddings.dispose();
    assert.ok(shareWithin(got, g.read('prompt_embeds'), 1e-4) === 1);
    g.close();
  });

  for (const [run, kind] of [
    ['pndm', undefined],
    ['dpmpp2m', 'dpm++2m'],
    ['euler', 'euler'],
  ] as const) {
    test(`txt2img, ${run}: the image within 2/255 on 99 % of pixels`, async () => {
      const g = openSafetensorsFile(join(DIR, 'golden.safetensors'));
      const scheduler = kind ? latentSchedulerFromDiffusers(json(join(DIR, 'scheduler', 'scheduler_config.json')), kind) : undefined;
      const steps: number[] = [];
      const result = await pipe.textToImage({
        prompt: golden.prompt,
        negativePrompt: golden.negative_prompt,
        guidance: golden.guidance_scale,
        steps: golden.num_inference_steps,
        width: golden.width,
        height: golden.height,
        latents: g.read('latents'),
        scheduler,
        onStep: ({ step }) => void steps.push(step),
      });
      assert.deepEqual(steps, golden.runs[run].timesteps.map((_, i) => i));
      assert.equal(result.count, 1);
      const share = shareWithin(result.images, g.read(`image_${run}`), 2 / 255);
      assert.ok(share >= 0.99, `${(share * 100).toFixed(2)} % of pixels within 2/255`);
      const latentShare = shareWithin(result.latents, g.read(`final_latents_${run}`), 1e-3);
      assert.ok(latentShare >= 0.99, `final latents: ${(latentShare * 100).toFixed(2)} % within 1e-3`);
      g.close();
    });
  }
});

describe('pipeline behaviour', () => {
  test('a seed reproduces its batch; prompts × n images come out prompt-major', async () => {
    const options = { prompt: ['a red circle', 'a blue square'], n: 2, steps: 3, width: 64, height: 64, seed: 7 };
    const first = await pipe.textToImage(options);
    const second = await pipe.textToImage(options);
    assert.equal(first.count, 4);
    assert.deepEqual(first.images, second.images);
    const per = 64 * 64 * 3;
    // Different prompts (and different noise per image) give different pictures.
    assert.notDeepEqual(first.images.subarray(0, per), first.images.subarray(2 * per, 3 * per));
    for (const v of first.images) assert.ok(v >= 0 && v <= 1);
  });

  test('img2img: strength 0 returns the encoded image, higher strength runs the last steps only', async () => {
    const image = { width: 64, height: 64, data: new Float32Array(64 * 64 * 3).map((_, i) => (i % 7) / 7) };
    const steps: number[] = [];
    const result = await pipe.imageToImage({ prompt: 'a cat', image, strength: 0.6, steps: 5, seed: 1, onStep: ({ total }) => void steps.push(total) });
    assert.equal(result.count, 1);
    // diffusers' get_timesteps: ⌊5 · 0.6⌋ = 3 steps (PNDM with skip_prk_steps adds its repeated step).
    assert.ok(steps.length >= 3 && steps.length <= 4, `${steps.length} steps`);
    const none = await pipe.imageToImage({ prompt: 'a cat', image, strength: 0, steps: 5, seed: 1, onStep: () => assert.fail('no step at strength 0') });
    assert.equal(none.images.length, 64 * 64 * 3);
  });

  test('bad sizes, latents and strengths are refused with a message; an aborted run stops', async () => {
    await assert.rejects(pipe.textToImage({ prompt: 'x', width: 60, height: 64, steps: 2 }), /width must be a positive multiple of 8, got 60/);
    await assert.rejects(pipe.textToImage({ prompt: 'x', width: 64, height: 64, steps: 2, latents: new Float32Array(10) }), /initial latents have 10 values, expected 1×4×8×8 = 256/);
    const image = { width: 64, height: 64, data: new Float32Array(64 * 64 * 3) };
    await assert.rejects(pipe.imageToImage({ prompt: 'x', image, strength: 1.5 }), /strength must be in \[0, 1\]/);
    await assert.rejects(pipe.imageToImage({ prompt: 'x', image: { ...image, width: 32 } }), /input image has 12288 values, expected 32×64×3/);
    const controller = new AbortController();
    await assert.rejects(
      pipe.textToImage({ prompt: 'x', width: 64, height: 64, steps: 4, signal: controller.signal, onStep: ({ step }) => void (step === 1 && controller.abort()) }),
      (err: Error & { code?: string }) => err.code === 'CANCELLED',
    );
  });
});

describe('loading a diffusers folder', () => {
  test('a scheduler_config.json with Python’s -Infinity (DPM-Solver’s lambda_min_clipped) loads, and generates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sd-folder-'));
    try {
      const model = join(dir, 'model');
      cpSync(DIR, model, { recursive: true });
      cpSync(TOKENIZER, join(model, 'tokenizer'), { recursive: true });
      const scheduler = readFileSync(join(DIR, 'scheduler', 'scheduler_config.json'), 'utf8').replace('"PNDMScheduler"', '"DPMSolverMultistepScheduler"').replace(/\n}\s*$/, ',\n  "lambda_min_clipped": -Infinity\n}\n');
      writeFileSync(join(model, 'scheduler', 'scheduler_config.json'), scheduler);
      const folderPipe = loadStableDiffusion(e, model);
      try {
        const result = await folderPipe.textToImage({ prompt: 'a red circle', steps: 3, width: 32, height: 32 });
        assert.equal(result.images.length, 32 * 32 * 3);
      } finally {
        folderPipe.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
