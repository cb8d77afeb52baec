/**
 * Node-only: timings of Stable Diffusion 1.5's three models at their real sizes, on random weights
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
function fillRandom(e: TensorEngine, model: SdModel, seed: number): void {
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


export async function runSd15Bench(e: TensorEngine, iters = 2, log: (line: string) => void = () => {}, unetRoute: 'tfjs' | 'onnx' = 'tfjs'): Promise<Sd15BenchReport> {
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

  const text = new ClipTextModel(e, random, readClipTextConfig(SD15_TEXT_ENCODER_CONFIG), zeros);
  fillRandom(e, text, 1);
  const ids = [Int32Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : i < 12 ? 320 + i : 49407)), Int32Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : 49407))];
  let textEncoderMs: number;
  if (unetRoute === 'onnx') {
    const directory = mkdtempSync(join(tmpdir(), 'flashdiff-sd15-clip-onnx-'));
    try {
      const exported = exportTextEncoderOnnx(text, { tokens: 77, clipSkip: 0, path: join(directory, 'text-encoder.onnx') });
      const session = await openOnnxSession(exported.modelPath);
      const table = e.readSync(text.tokenEmbeddingTable);
      textEncoderMs = await best('text encoder (onnxruntime), 2 prompts', () => {
        // The host lookup of the token rows is part of the text encoder's time.
        const lookup = new Float32Array(2 * 77 * 768);
        ids.forEach((row, p) => row.forEach((id, k) => lookup.set(table.subarray(id * 768, (id + 1) * 768), (p * 77 + k) * 768)));
        return session.run({ tokens: [lookup, [2, 77, 768]] });
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

  const unet = new UNet2DConditionModel(e, random, readUNetConfig(SD15_UNET_CONFIG), zeros);
  fillRandom(e, unet, 2);
  const latents = random.normalArray(2 * 64 * 64 * 4);
  const contextValues = random.normalArray(2 * 77 * 768);
  let unetStepMs: number;
  let onnxTimes: { unetExportSeconds: number; unetSessionSeconds: number } | undefined;
  if (unetRoute === 'onnx') {
    const directory = mkdtempSync(join(tmpdir(), 'flashdiff-sd15-onnx-'));
    try {
      log('exporting the UNet to ONNX …');
      let t0 = performance.now();
      const exported = exportUNetOnnx(unet, { height: 64, width: 64, tokens: 77, path: join(directory, 'unet.onnx') });
      const unetExportSeconds = (performance.now() - t0) / 1000;
      unet.params.dispose();
      t0 = performance.now();
      const session = await openOnnxSession(exported.modelPath);
      const unetSessionSeconds = (performance.now() - t0) / 1000;
      onnxTimes = { unetExportSeconds, unetSessionSeconds };
      rmSync(directory, { recursive: true, force: true });
      const embedding = timestepEmbedding([500, 500], 320, true, 0);
      unetStepMs = await best('UNet step (onnxruntime), 2×4×64×64', () => session.run({ x: [latents, [2, 64, 64, 4]], temb: [embedding, [2, 320]], context: [contextValues, [2, 77, 768]] }));
      await session.release();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  } else {
    const x = e.tensor(latents, [2, 64, 64, 4]);
    const context = e.tensor(contextValues, [2, 77, 768]);
    unetStepMs = await best('UNet step, 2×4×64×64', () => {
      const out = e.tidy(() => unet.forward(e, x, [500, 500], context));
      e.readSync(out);
      out.dispose();
    });
    x.dispose();
    context.dispose();
    unet.params.dispose();
  }

  const vae = new AutoencoderKL(e, random, readAutoencoderConfig(SD15_VAE_CONFIG), zeros);
  fillRandom(e, vae, 3);
  const zValues = random.normalArray(64 * 64 * 4);
  let vaeDecodeMs: number;
  if (unetRoute === 'onnx') {
    const directory = mkdtempSync(join(tmpdir(), 'flashdiff-sd15-vae-onnx-'));
    try {
      const exported = exportVaeDecoderOnnx(vae, { height: 64, width: 64, path: join(directory, 'vae-decoder.onnx') });
      vae.params.dispose();
      const session = await openOnnxSession(exported.modelPath);
      rmSync(directory, { recursive: true, force: true });
      vaeDecodeMs = await best('VAE decode (onnxruntime) to 512×512', () => session.run({ z: [zValues, [1, 64, 64, 4]] }));
      await session.release();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  } else {
    const z = e.tensor(zValues, [1, 64, 64, 4]);
    vaeDecodeMs = await best('VAE decode to 512×512', () => {
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
  const probe = spawnSync(python, ['-c', 'import diffusers, transformers'], { encoding: 'utf8' });
  if (probe.status !== 0) return { reference: null, why: `${python} cannot import diffusers and transformers (set PYTHON / PYTHONPATH)` };
  const script = fileURLToPath(new URL('../../reference/sd15_reference.py', import.meta.url));
  const r = spawnSync(python, [script, '--iters', String(iters), '--threads', '2'], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) return { reference: null, why: `the reference failed: ${r.stderr.trim().split('\n').pop() ?? ''}` };
  return { reference: JSON.parse(r.stdout.trim().split('\n').pop() as string) as Sd15Figures & { torch: string }, why: '' };
}

/** ours ÷ reference for each figure (≤ 1: as fast or faster, as small or smaller). */
export function sd15Ratios(ours: Sd15Figures, reference: Sd15Figures): Sd15Figures {
  const ratio = (k: keyof Sd15Figures) => Math.round((ours[k] / reference[k]) * 100) / 100;
  return { unetStepMs: ratio('unetStepMs'), vaeDecodeMs: ratio('vaeDecodeMs'), textEncoderMs: ratio('textEncoderMs'), peakRssMb: ratio('peakRssMb') };
}
