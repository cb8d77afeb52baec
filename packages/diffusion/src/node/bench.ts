/** Node-only: the reference ContextUnet benchmark (the course's model: 3×16×16, n_feat 64, 5 classes). */
import { createModel } from '../models/index.ts';
import { Random } from '../rng.ts';
import type { TensorEngine } from '../tensor/engine.ts';
import { DiffusionTrainer } from '../train/trainer.ts';

export interface BenchReport {
  backend: string;
  trainStepMs: number;
  forwardMs: number;
  trainBatch: number;
  forwardBatch: number;
  iterations: { train: number; forward: number };
  parameters: number;
  pytorchReference: { trainStepMs: number; forwardMs: number };
}

const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export function runBench(engine: TensorEngine, trainIters = 3, forwardIters = 5, log: (line: string) => void = () => {}): BenchReport {
  const config = { kind: 'context-unet' as const, inChannels: 3, nFeat: 64, nCfeat: 5, height: 16, numTrainTimesteps: 500 };
  const model = createModel(engine, config, 0);
  const random = new Random(1);
  const per = 16 * 16 * 3;
  // A training step as in the course loop: forward, L_simple, backward, Adam (no EMA, like the reference).
  const trainer = new DiffusionTrainer(engine, model, { numTrainTimesteps: 500, betaSchedule: 'linear', betaStart: 1e-4, betaEnd: 0.02 }, { emaDecay: 0, batchSize: 100 }, 5);
  const batch = 100;
  const x0 = random.normalArray(batch * per).map((v) => Math.max(-1, Math.min(1, v)));
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 5);
  const trainTimes: number[] = [];
  for (let i = 0; i <= trainIters; i++) {
    const t0 = performance.now();
    trainer.trainStep(x0, labels, batch, 1000);
    const ms = performance.now() - t0;
    if (i > 0) trainTimes.push(ms);
    log(`train step ${i === 0 ? '(warm-up) ' : ''}${ms.toFixed(0)} ms`);
  }
  const fb = 32;
  const x = engine.tensor(random.normalArray(fb * per), [fb, 16, 16, 3]);
  const t = engine.tensor(new Float32Array(fb).fill(250), [fb]);
  const ctx = new Float32Array(fb * 5);
  for (let i = 0; i < fb; i++) ctx[i * 5 + (i % 5)] = 1;
  const c = engine.tensor(ctx, [fb, 5]);
  const forwardTimes: number[] = [];
  for (let i = 0; i <= forwardIters; i++) {
    const t0 = performance.now();
    const y = engine.tidy(() => model.forward(engine, x, t, c, { training: false }));
    engine.readSync(y);
    y.dispose();
    const ms = performance.now() - t0;
    if (i > 0) forwardTimes.push(ms);
    log(`forward ${i === 0 ? '(warm-up) ' : ''}${ms.toFixed(0)} ms`);
  }
  x.dispose();
  t.dispose();
  c.dispose();
  const parameters = model.params.count();
  trainer.dispose();
  model.params.dispose();
  return {
    backend: engine.name,
    trainStepMs: Math.round(median(trainTimes)),
    forwardMs: Math.round(median(forwardTimes)),
    trainBatch: batch,
    forwardBatch: fb,
    iterations: { train: trainIters, forward: forwardIters },
    parameters,
    pytorchReference: { trainStepMs: 1326, forwardMs: 127 },
  };
}
