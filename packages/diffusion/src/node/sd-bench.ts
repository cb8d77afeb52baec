/**
 * Node-only: timings of Stable Diffusion 1.5's three models at their real sizes (or of any configs given), on random weights
 * (no checkpoint can be downloaded here): one UNet step at 512×512 (latent 2×4×64×64, the
 * classifier-free-guidance batch, 77×768 text), one VAE decode to 512×512 and the text encoder on
 * 2 prompts. Used by `diffusion bench --sd15` and bench/sd15.ts (which adds PyTorch side by side).
 * Peak RSS is the process's, weights included (SD-1.5 in float32: 1.07 G values, 4.3 GB).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SD15_TEXT_ENCODER_CONFIG, SD15_UNET_CONFIG, SD15_VAE_CONFIG } from '../checkpoint/sd-pipeline.ts';
import { AutoencoderKL, readAutoencoderConfig } from '../models/sd/autoencoder-kl.ts';
import { ClipTextModel, readClipTextConfig } from '../models/sd/clip-text-model.ts';
import { UNet2DConditionModel, readUNetConfig, timestepEmbedding } from '../models/sd/unet-2d-condition.ts';
import { exportTextEncoderOnnx, exportUNetOnnx, exportVaeDecoderOnnx } from '../onnx/export-sd.ts';
import { openOnnxSession } from '../onnx/sd-unet-ort.ts';
import type { SdModel } from '../models/sd/weights.ts';
import { Random } from '../rng.ts';
import type { TensorEngine } from '../tensor/engine.ts';

export interface Sd15BenchReport {
  backend: string;
  /** Where the three models ran: the tfjs engine, or onnxruntime on the exported graphs. */
  unetRoute: 'tfjs' | 'onnx';
  /** onnx route: seconds to export the UNet and to open its ORT session (once per model and size). */
  unetExportSeconds?: number;
  unetSessionSeconds?: number;
  /** Best of `iters` runs, milliseconds. */
  unetStepMs: number;
  vaeDecodeMs: number;
  textEncoderMs: number;
  /** Peak resident set size of the whole process so far, MiB. */
  peakRssMb: number;
  iters: number;
}

/**
 * Fill every parameter with U(−b, b), b = 1/√fanIn-like (the last dimension's), from a cheap seeded
 * generator: 1 G xoshiro draws would dominate the benchmark's start-up, and timings do not depend on
 * the weights' distribution beyond their scale.
 */
export function fillRandomWeights(e: TensorEngine, model: SdModel, seed: number): void {
  const store = model.builder.store;
  let state = seed >>> 0 || 1;
  for (const name of store.names()) {
    const shape = store.shapeOf(name);
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    // 1-D parameters are norm scales (γ = 1) and biases (0); matrices and filters get U(±1/√fanIn).
    if (shape.length === 1) values.fill(name.endsWith('.weight') ? 1 : 0);
    else {
      const bound = 1 / Math.sqrt(size / shape[shape.length - 1]);
      for (let i = 0; i < size; i++) {
        // xorshift32: fast, seeded; uniform in [−bound, bound).
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        values[i] = ((state >>> 0) / 4294967296 - 0.5) * 2 * bound;
      }
    }
    const t = e.tensor(values, shape);
    store.get(name).assign(t);
    t.dispose();
  }
}


/** The models the benchmark builds: SD-1.5's by default; the tests give tiny ones (diffusers' and transformers' config.json objects). */
export interface SdBenchModels {
  textEncoder: Record<string, unknown>;
  unet: Record<string, unknown>;
  vae: Record<string, unknown>;
  /** Latent height and width (SD-1.5: 64, for 512×512 images). */
  latentSize: number;
}

export const SD15_BENCH_MODELS: SdBenchModels = { textEncoder: SD15_TEXT_ENCODER_CONFIG, unet: SD15_UNET_CONFIG, vae: SD15_VAE_CONFIG, latentSize: 64 };

export async function runSd15Bench(
  e: TensorEngine,
  iters = 2,
  log: (line: string) => void = () => {},
  unetRoute: 'tfjs' | 'onnx' = 'tfjs',
  models: SdBenchModels = SD15_BENCH_MODELS,
): Promise<Sd15BenchReport> {
  const random = new Random(0);
  const zeros = { initialise: false };
  /** The best of `iters` wall times of `fn`, each logged. */
  const best = async (label: string, fn: () => unknown): Promise<number> => {
    let min = Infinity;
    for (let i = 0; i < iters; i++) {
      const t0 = performance.now();
      await fn();
      const ms = performance.now() - t0;
      log(`${label}: ${(ms / 1000).toFixed(2)} s`);
      min = Math.min(min, ms);
    }
    return Math.round(min);
  };

  const textConfig = readClipTextConfig(models.textEncoder);
  const text = new ClipTextModel(e, random, textConfig, zeros);
  fillRandomWeights(e, text, 1);
  const { max_position_embeddings: tokens, hidden_size: hidden, bos_token_id: bos, eos_token_id: eos } = textConfig;
  // Two prompts: eleven word tokens, and the empty prompt (the guidance row).
  const ids = [Int32Array.from({ length: tokens }, (_, i) => (i === 0 ? bos : i < 12 ? 320 + i : eos)), Int32Array.from({ length: tokens }, (_, i) => (i === 0 ? bos : eos))];
  let textEncoderMs: number;
  if (unetRoute === 'onnx') {
    const directory = mkdtempSync(join(tmpdir(), 'flashdiff-sd15-clip-onnx-'));
    try {
      const exported = exportTextEncoderOnnx(text, { tokens, clipSkip: 0, path: join(directory, 'text-encoder.onnx') });
      const session = await openOnnxSession(exported.modelPath);
      const table = e.readSync(text.tokenEmbeddingTable);
      textEncoderMs = await best('text encoder (onnxruntime), 2 prompts', () => {
        // The host lookup of the token rows is part of the text encoder's time.
        const lookup = new Float32Array(2 * tokens * hidden);
        ids.forEach((row, p) => row.forEach((id, k) => lookup.set(table.subarray(id * hidden, (id + 1) * hidden), (p * tokens + k) * hidden)));
        return session.run({ tokens: [lookup, [2, tokens, hidden]] });
      });
      await session.release();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  } else {
    textEncoderMs = await best('text encoder, 2 prompts', () => {
      const out = e.tidy(() => text.forward(e, ids).hiddenState);
      e.readSync(out);
      out.dispose();
    });
  }
  text.params.dispose();

  const unetConfig = readUNetConfig(models.unet);
  const unet = new UNet2DConditionModel(e, random, unetConfig, zeros);
  fillRandomWeights(e, unet, 2);
  const size = models.latentSize;
  const channels = unetConfig.in_channels;
  const context = unetConfig.cross_attention_dim;
  const shape = `2×${channels}×${size}×${size}`;
  const latents = random.normalArray(2 * size * size * channels);
  const contextValues = random.normalArray(2 * tokens * context);
  let unetStepMs: number;
  let onnxTimes: { unetExportSeconds: number; unetSessionSeconds: number } | undefined;
  if (unetRoute === 'onnx') {
    const directory = mkdtempSync(join(tmpdir(), 'flashdiff-sd15-onnx-'));
    try {
      log('exporting the UNet to ONNX …');
      let t0 = performance.now();
      const exported = exportUNetOnnx(unet, { height: size, width: size, tokens, path: join(directory, 'unet.onnx') });
      const unetExportSeconds = (performance.now() - t0) / 1000;
      unet.params.dispose();
      t0 = performance.now();
      const session = await openOnnxSession(exported.modelPath);
      const unetSessionSeconds = (performance.now() - t0) / 1000;
      onnxTimes = { unetExportSeconds, unetSessionSeconds };
      rmSync(directory, { recursive: true, force: true });
      const c0 = unetConfig.block_out_channels[0];
      const embedding = timestepEmbedding([500, 500], c0, unetConfig.flip_sin_to_cos, unetConfig.freq_shift);
      unetStepMs = await best(`UNet step (onnxruntime), ${shape}`, () => session.run({ x: [latents, [2, size, size, channels]], temb: [embedding, [2, c0]], context: [contextValues, [2, tokens, context]] }));
      await session.release();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  } else {
    const x = e.tensor(latents, [2, size, size, channels]);
    const text = e.tensor(contextValues, [2, tokens, context]);
    unetStepMs = await best(`UNet step, ${shape}`, () => {
      const out = e.tidy(() => unet.forward(e, x, [500, 500], text));
      e.readSync(out);
      out.dispose();
    });
    x.dispose();
    text.dispose();
    unet.params.dispose();
  }

  const vaeConfig = readAutoencoderConfig(models.vae);
  const vae = new AutoencoderKL(e, random, vaeConfig, zeros);
  fillRandomWeights(e, vae, 3);
  const latentChannels = vaeConfig.latent_channels;
  const imageSize = size * vae.scaleFactor;
  const zValues = random.normalArray(size * size * latentChannels);
  let vaeDecodeMs: number;
  if (unetRoute === 'onnx') {
    const directory = mkdtempSync(join(tmpdir(), 'flashdiff-sd15-vae-onnx-'));
    try {
      const exported = exportVaeDecoderOnnx(vae, { height: size, width: size, path: join(directory, 'vae-decoder.onnx') });
      vae.params.dispose();
      const session = await openOnnxSession(exported.modelPath);
      rmSync(directory, { recursive: true, force: true });
      vaeDecodeMs = await best(`VAE decode (onnxruntime) to ${imageSize}×${imageSize}`, () => session.run({ z: [zValues, [1, size, size, latentChannels]] }));
      await session.release();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  } else {
    const z = e.tensor(zValues, [1, size, size, latentChannels]);
    vaeDecodeMs = await best(`VAE decode to ${imageSize}×${imageSize}`, () => {
      const out = e.tidy(() => vae.decode(e, z));
      e.readSync(out);
      out.dispose();
    });
    z.dispose();
    vae.params.dispose();
  }

  return { backend: e.name, unetRoute, ...onnxTimes, unetStepMs, vaeDecodeMs, textEncoderMs, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024), iters };
}

export type Sd15Figures = Pick<Sd15BenchReport, 'unetStepMs' | 'vaeDecodeMs' | 'textEncoderMs' | 'peakRssMb'>;

/**
 * The same figures from PyTorch + diffusers (reference/sd15_reference.py, the library classes on
 * random weights), where `python -c "import diffusers, transformers"` works; otherwise why not.
 */
export function runSd15Reference(iters: number, python = process.env.PYTHON ?? '/usr/bin/python3'): { reference: (Sd15Figures & { torch: string }) | null; why: string } {
  const why = referenceUnavailable(python);
  if (why !== '') return { reference: null, why };
  const script = fileURLToPath(new URL('../../reference/sd15_reference.py', import.meta.url));
  const r = spawnSync(python, [script, '--iters', String(iters), '--threads', '2'], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) return { reference: null, why: `the reference failed: ${r.stderr.trim().split('\n').pop() ?? ''}` };
  return { reference: JSON.parse(r.stdout.trim().split('\n').pop() as string) as Sd15Figures & { torch: string }, why: '' };
}

/** Why `python` cannot run the diffusers references ('' when `import diffusers, transformers` works). */
export function referenceUnavailable(python: string): string {
  const probe = spawnSync(python, ['-c', 'import diffusers, transformers'], { encoding: 'utf8' });
  return probe.status === 0 ? '' : `${python} cannot import diffusers and transformers (set PYTHON / PYTHONPATH)`;
}

/** ours ÷ reference for each figure (≤ 1: as fast or faster, as small or smaller). */
export function sd15Ratios(ours: Sd15Figures, reference: Sd15Figures): Sd15Figures {
  const ratio = (k: keyof Sd15Figures) => Math.round((ours[k] / reference[k]) * 100) / 100;
  return { unetStepMs: ratio('unetStepMs'), vaeDecodeMs: ratio('vaeDecodeMs'), textEncoderMs: ratio('textEncoderMs'), peakRssMb: ratio('peakRssMb') };
}
