/**
 * Node-only: timing of the reference ContextUnet (the course's model: 3×16×16, n_feat 64, 5 classes)
 * — a training step at batch 100 with Adam and one sampling step's model call (forward, eval mode)
 * at batch 32 — through the package's own model code. bench/diffusion-contextunet.ts runs these on
 * several backends next to PyTorch in the same run; `diffusion bench` runs them on one backend.
 */
import type { ContextUnetConfig } from '../models/context-unet.ts';
import { createModel } from '../models/index.ts';
import { Random } from '../rng.ts';
import { type NoisePredictor, enginePredictor } from '../sample.ts';
import type { TensorEngine } from '../tensor/engine.ts';
import { DiffusionTrainer } from '../train/trainer.ts';

export const REFERENCE_CONTEXT_UNET: ContextUnetConfig = { kind: 'context-unet', inChannels: 3, nFeat: 64, nCfeat: 5, height: 16, numTrainTimesteps: 500 };
export const TRAIN_BATCH = 100;
export const FORWARD_BATCH = 32;

/**
 * The figures quoted in issue 7 for PyTorch 1.13 (Debian's python3-torch, 2 threads) on the project's
 * 2-core machine when the issue was written. A reference only — NOT measured by this run;
 * bench/diffusion-contextunet.ts measures PyTorch side by side where python3-torch is installed.
 */
export const ISSUE_PYTORCH_REFERENCE = { trainStepMs: 1326, forwardMs: 127, source: 'issue 7 (PyTorch 1.13, 2 threads), not measured here' } as const;

export interface Timing {
  medianMs: number;
  timesMs: number[];
}

export interface BenchReport {
  backend: string;
  trainStepMs: number;
  forwardMs: number;
  trainBatch: number;
  forwardBatch: number;
  iterations: { train: number; forward: number };
  parameters: number;
  /** Live tensors after the last timed training step equal those after the first (no leaks). */
  tensorCountStable: boolean;
  /** The issue's PyTorch figures: a reference, not measured in this run. */
  issueReference: typeof ISSUE_PYTORCH_REFERENCE;
}

export const median = (xs: readonly number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Training steps as in the course loop (forward, L_simple, backward, Adam; no EMA, like the PyTorch reference): one warm-up, then `iters` timed. */
export interface TimingOptions {
  log?: (line: string) => void;
  /** Label for log lines. */
  label?: string;
  /** Untimed calls before the timed ones. */
  warmup?: number;
  /** Run after each timed call, outside its timing (bench/ interleaves PyTorch steps here). */
  afterEach?: () => Promise<void>;
}

export async function benchTrainStep(engine: TensorEngine, iters: number, options: TimingOptions = {}): Promise<Timing & { tensorCountStable: boolean; parameters: number }> {
  const log = options.log ?? (() => {});
  const warmup = options.warmup ?? 1;
  const model = createModel(engine, REFERENCE_CONTEXT_UNET, 0);
  const random = new Random(1);
  const per = 16 * 16 * 3;
  const trainer = new DiffusionTrainer(engine, model, { numTrainTimesteps: 500, betaSchedule: 'linear', betaStart: 1e-4, betaEnd: 0.02 }, { emaDecay: 0, batchSize: TRAIN_BATCH }, 5);
  const x0 = random.normalArray(TRAIN_BATCH * per).map((v) => Math.max(-1, Math.min(1, v)));
  const labels = Int32Array.from({ length: TRAIN_BATCH }, (_, i) => i % 5);
  const times: number[] = [];
  let afterFirst = -1;
  for (let i = 0; i < warmup + iters; i++) {
    const t0 = performance.now();
    trainer.trainStep(x0, labels, TRAIN_BATCH, 1000);
    const ms = performance.now() - t0;
    if (i === 0) afterFirst = engine.numTensors();
    log(`${options.label ?? engine.name}: train step ${i < warmup ? '(warm-up) ' : ''}${ms.toFixed(0)} ms`);
    if (i >= warmup) {
      times.push(ms);
      await options.afterEach?.();
    }
  }
  const tensorCountStable = engine.numTensors() === afterFirst;
  const parameters = model.params.count();
  trainer.dispose();
  model.params.dispose();
  return { medianMs: median(times), timesMs: times, tensorCountStable, parameters };
}

/** The batch-32 inputs of the forward timing: seeded noise, t = 250, one-hot classes. */
export function forwardInputs(): { x: Float32Array; t: Float32Array; context: Float32Array; rows: number } {
  const rows = FORWARD_BATCH;
  const x = new Random(1).normalArray(rows * 16 * 16 * 3);
  const context = new Float32Array(rows * 5);
  for (let i = 0; i < rows; i++) context[i * 5 + (i % 5)] = 1;
  return { x, t: new Float32Array(rows).fill(250), context, rows };
}

/** One sampling step's model call (host arrays in, ε̂ out), `warmup` untimed then `iters` timed. */
export async function benchForward(predictor: NoisePredictor, iters: number, options: TimingOptions = {}): Promise<Timing> {
  const log = options.log ?? (() => {});
  const warmup = options.warmup ?? 2;
  const { x, t, context, rows } = forwardInputs();
  const times: number[] = [];
  for (let i = 0; i < warmup + iters; i++) {
    const t0 = performance.now();
    await predictor.predict(x, t, context, rows);
    const ms = performance.now() - t0;
    log(`${options.label ?? 'forward'}: forward ${i < warmup ? '(warm-up) ' : ''}${ms.toFixed(1)} ms`);
    if (i >= warmup) {
      times.push(ms);
      await options.afterEach?.();
    }
  }
  return { medianMs: median(times), timesMs: times };
}

/** Both timings on one tfjs engine (`diffusion bench`). */
export async function runBench(engine: TensorEngine, trainIters = 3, forwardIters = 10, log: (line: string) => void = () => {}): Promise<BenchReport> {
  const train = await benchTrainStep(engine, trainIters, { log });
  const model = createModel(engine, REFERENCE_CONTEXT_UNET, 0);
  const forward = await benchForward(enginePredictor(engine, model), forwardIters, { log, label: engine.name });
  model.params.dispose();
  return {
    backend: engine.name,
    trainStepMs: Math.round(train.medianMs),
    forwardMs: Math.round(forward.medianMs * 10) / 10,
    trainBatch: TRAIN_BATCH,
    forwardBatch: FORWARD_BATCH,
    iterations: { train: trainIters, forward: forwardIters },
    parameters: train.parameters,
    tensorCountStable: train.tensorCountStable,
    issueReference: ISSUE_PYTORCH_REFERENCE,
  };
}
