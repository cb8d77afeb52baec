/**
 * Worker thread of a sampling run: loads the checkpoint's EMA weights, runs the package's
 * sampling loop (sampleImages) with a DDPM or DDIM scheduler, and sends the current x_t as a
 * frame every few steps; at the end the grid PNG becomes the job's file "grid.png".
 *
 * The frames are observed, not recomputed: the scheduler handed to the loop is the real one
 * wrapped so that each step's result (x_{t−1}) is kept for the next onStep callback.
 */
import { createScheduler, imagesToGrid, Random, sampleImages } from '@flashdiff/diffusion';
import type { ContextSpec, NoiseScheduler, StepResult } from '@flashdiff/diffusion';
import type { DiffusionFrame } from '../../shared/protocol.ts';
import { loadDiffusionNodeApi } from '../adapters/diffusion.ts';
import type { SamplePlan } from '../adapters/diffusion.ts';
import { DashboardError } from '../errors.ts';
import { JobCancelled, runWorkerJob } from '../worker-protocol.ts';

/** Grid of n images, ⌈√n⌉ columns, as 8-bit grey (or RGB) pixels for the page. */
function gridPixels(images: Float32Array, n: number, height: number, width: number, channels: number): { width: number; height: number; channels: 1 | 3; pixels: Uint8Array } {
  const grid = imagesToGrid(images, n, height, width, channels, Math.ceil(Math.sqrt(n)));
  const out = channels === 1 ? 1 : 3;
  const pixels = new Uint8Array(grid.width * grid.height * out);
  for (let i = 0; i < grid.width * grid.height; i++) {
    for (let c = 0; c < out; c++) pixels[i * out + c] = grid.data[i * 4 + c]!;
  }
  return { width: grid.width, height: grid.height, channels: out, pixels };
}

runWorkerJob<SamplePlan>(async (job) => {
  const { request, checkpointPath } = job.params;
  const node = await loadDiffusionNodeApi();
  job.progress(0, request.steps, 'initialising the tensor backend');
  const engine = await node.initBackend('wasm');
  job.progress(0, request.steps, `loading ${checkpointPath}`);
  const { model, config } = node.loadModel(engine, checkpointPath, 'ema');
  const m = config.model;
  const classes = m.kind === 'context-unet' ? m.nCfeat : m.numClasses;
  let context: ContextSpec = { kind: 'none' };
  if (request.mix !== undefined) {
    context = { kind: 'mix', weights: Object.entries(request.mix).map(([k, weight]) => ({ classIndex: Number(k), weight })) };
  } else if (request.classLabel !== null) {
    context = { kind: 'class', classIndex: request.classLabel };
  }
  for (const k of context.kind === 'class' ? [context.classIndex] : context.kind === 'mix' ? context.weights.map((w) => w.classIndex) : []) {
    if (k >= classes) throw new DashboardError('BAD_REQUEST', `class ${k}: this checkpoint has classes 0–${classes - 1}`);
  }
  const scheduler = createScheduler({ ...config.schedule, kind: request.sampler, ...(request.sampler === 'ddim' ? { eta: request.eta, timestepSpacing: 'trailing' as const } : {}) });
  const steps = request.sampler === 'ddpm' ? Math.min(request.steps, config.schedule.numTrainTimesteps) : request.steps;
  let latest: StepResult | undefined;
  const observed: NoiseScheduler = {
    get config() {
      return scheduler.config;
    },
    get schedule() {
      return scheduler.schedule;
    },
    timesteps: (n) => scheduler.timesteps(n),
    needsNoise: (t, prevT) => scheduler.needsNoise(t, prevT),
    step: (modelOutput, t, prevT, sample, noise) => {
      latest = scheduler.step(modelOutput, t, prevT, sample, noise);
      return latest;
    },
  };
  const height = m.height;
  const width = m.kind === 'context-unet' ? m.height : m.width;
  const channels = m.inChannels;
  const started = Date.now();
  const result = await sampleImages(engine, model, {
    scheduler: observed,
    steps,
    n: request.count,
    context,
    guidance: request.guidance,
    random: new Random(request.seed),
    onStep: async (index, total, timestep) => {
      if (job.cancelled()) throw new JobCancelled();
      const last = index === total - 1;
      if (latest && (last || index % request.frameEvery === 0)) {
        const x = latest.prevSample;
        const clipped = new Float32Array(x.length);
        for (let i = 0; i < x.length; i++) clipped[i] = Math.max(-1, Math.min(1, x[i]!));
        const grid = gridPixels(clipped, request.count, height, width, channels);
        const frame: DiffusionFrame = {
          step: index + 1,
          totalSteps: total,
          timestep,
          width: grid.width,
          height: grid.height,
          channels: grid.channels,
          pixels: Buffer.from(grid.pixels.buffer, grid.pixels.byteOffset, grid.pixels.byteLength).toString('base64'),
        };
        job.frame(frame);
      }
      const seconds = (Date.now() - started) / 1000;
      job.progress(index + 1, total, `${request.sampler.toUpperCase()} step ${index + 1} / ${total} (t = ${timestep}) · ${seconds.toFixed(1)} s`);
      await job.yieldToEvents();
    },
  });
  const columns = Math.ceil(Math.sqrt(request.count));
  const png = node.encodePng(imagesToGrid(result.images, request.count, result.height, result.width, result.channels, columns));
  job.file('grid.png', new Uint8Array(png), 'image/png');
  job.result({
    sampler: request.sampler,
    steps,
    images: request.count,
    guidance: request.guidance,
    context: context.kind === 'class' ? `class ${context.classIndex}` : context.kind === 'mix' ? context.weights.map((w) => `${w.classIndex}:${w.weight}`).join(', ') : 'none',
    seconds: Number(((Date.now() - started) / 1000).toFixed(2)),
    gridPng: 'grid.png',
  });
});
