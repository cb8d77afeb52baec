import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend } from '../src/backend-node.ts';
import { gatherBatch } from '../src/data/dataset.ts';
import { classify, trainClassifier } from '../src/eval/classifier-train.ts';
import { createModel } from '../src/models/index.ts';
import { Random } from '../src/rng.ts';
import { buildContext, sampleImages } from '../src/sample.ts';
import { DdimScheduler } from '../src/schedulers/index.ts';
import type { TensorEngine } from '../src/tensor/engine.ts';
import { learningRateAt } from '../src/train/optimizer.ts';
import { DiffusionTrainer } from '../src/train/trainer.ts';
import { barsDataset } from './helpers.ts';

let e: TensorEngine;
before(async () => {
  e = await initBackend('wasm');
});

describe('training', () => {
  test('a tiny ContextUnet (n_feat 16, 8×8) trained 300 steps on two-class bars samples the requested class far above chance', async () => {
    const data = barsDataset(400, 1);
    const model = createModel(e, { kind: 'context-unet', inChannels: 1, nFeat: 16, nCfeat: 2, height: 8, numTrainTimesteps: 100 }, 3);
    const schedule = { numTrainTimesteps: 100, betaSchedule: 'cosine' as const, betaStart: 1e-4, betaEnd: 0.02 };
    const trainer = new DiffusionTrainer(e, model, schedule, { batchSize: 32, learningRate: 3e-3, lrSchedule: 'cosine', emaDecay: 0.99, seed: 5 }, 2);
    const random = new Random(8);
    const losses: number[] = [];
    const steps = 300;
    for (let step = 0; step < steps; step++) {
      const idx = Int32Array.from({ length: 32 }, () => random.int(data.count));
      const batch = gatherBatch(data, idx);
      losses.push(trainer.trainStep(batch.images, batch.labels, 32, steps).loss);
    }
    const early = losses.slice(0, 20).reduce((a, b) => a + b) / 20;
    const late = losses.slice(-20).reduce((a, b) => a + b) / 20;
    assert.ok(late < 0.7 * early, `loss fell from ${early} to ${late}`);

    const classifier = trainClassifier(e, data, { epochs: 3, batchSize: 50, learningRate: 3e-3, seed: 2 });
    const real = classify(e, classifier, data.images, data.count);
    const realAccuracy = real.predictions.filter((p, i) => p === data.labels?.[i]).length / data.count;
    assert.ok(realAccuracy > 0.95, `classifier accuracy on real bars ${realAccuracy}`);

    const n = 40;
    const classes = Int32Array.from({ length: n }, (_, i) => i % 2);
    const scheduler = new DdimScheduler({ ...schedule, eta: 0, timestepSpacing: 'trailing' });
    const result = await sampleImages(e, trainer.ema, { scheduler, steps: 20, n, context: { kind: 'per-sample', classes }, guidance: 2, random: new Random(11) });
    const predicted = classify(e, classifier, result.images, n).predictions;
    const accuracy = predicted.filter((p, i) => p === classes[i]).length / n;
    assert.ok(accuracy >= 0.8, `conditional accuracy ${accuracy} (chance 0.5)`);

    // Deterministic: the same seed gives the same samples.
    const again = await sampleImages(e, trainer.ema, { scheduler, steps: 20, n: 4, context: { kind: 'per-sample', classes: classes.subarray(0, 4) }, guidance: 2, random: new Random(11) });
    const first = await sampleImages(e, trainer.ema, { scheduler, steps: 20, n: 4, context: { kind: 'per-sample', classes: classes.subarray(0, 4) }, guidance: 2, random: new Random(11) });
    assert.deepEqual(Array.from(again.images), Array.from(first.images));
    classifier.params.dispose();
    trainer.dispose();
    model.params.dispose();
  });

  test('learning-rate schedules: constant, linear decay to 0, cosine, warm-up', () => {
    assert.equal(learningRateAt(1, 'constant', 50, 100), 1);
    assert.equal(learningRateAt(1, 'linear', 25, 100), 0.75);
    assert.ok(Math.abs(learningRateAt(1, 'cosine', 50, 100) - 0.5) < 1e-12);
    assert.equal(learningRateAt(1, 'cosine', 100, 100), 0);
    assert.equal(learningRateAt(1, 'constant', 0, 100, 10), 0.1);
    assert.throws(() => learningRateAt(1, 'step' as never, 0, 10), /lrSchedule/);
  });

  test('context vectors: one class, the course\'s weighted mix, per-sample classes, none', () => {
    assert.deepEqual(Array.from(buildContext({ kind: 'class', classIndex: 1 }, 2, 3)), [0, 1, 0, 0, 1, 0]);
    assert.deepEqual(Array.from(buildContext({ kind: 'mix', weights: [{ classIndex: 0, weight: 1 }, { classIndex: 2, weight: 0.6 }] }, 1, 3)), [1, 0, Math.fround(0.6)]);
    assert.deepEqual(Array.from(buildContext({ kind: 'per-sample', classes: [2, 0] }, 2, 3)), [0, 0, 1, 1, 0, 0]);
    assert.deepEqual(Array.from(buildContext({ kind: 'none' }, 1, 3)), [0, 0, 0]);
    assert.throws(() => buildContext({ kind: 'class', classIndex: 3 }, 1, 3), /class 3 outside/);
  });
});
