import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend } from '../src/backend-node.ts';
import { createModel } from '../src/models/index.ts';
import { Random } from '../src/rng.ts';
import type { TensorEngine } from '../src/tensor/engine.ts';
import { DiffusionTrainer } from '../src/train/trainer.ts';
import { describeEngineCases } from './engine-cases.ts';

/**
 * The tfjs engine (wasm backend, with the project's own conv gradients) against plain reference
 * implementations (test/engine-cases.ts, shared with engine-native.test.ts), then the models.
 */
let e: TensorEngine;
before(async () => {
  e = await initBackend('wasm');
});

describeEngineCases('wasm', () => initBackend('wasm'));

describe('models', () => {
  test('the course ContextUnet (3×16×16, n_feat 64, 5 classes) has ≈1.48 M parameters', () => {
    const m = createModel(e, { kind: 'context-unet', inChannels: 3, nFeat: 64, nCfeat: 5, height: 16, numTrainTimesteps: 500 });
    const count = m.params.count();
    // 1,480,771 in the course's PyTorch model + 256 for the trained 1×1 shortcut that replaces its bug.
    assert.equal(count, 1481027);
    assert.ok(m.params.names('buffers').every((n) => /running_(mean|var)$/.test(n)));
    m.params.dispose();
  });

  test('ContextUnet and UNet2D map [N, H, W, C] to ε̂ of the same shape; same seed → same weights', () => {
    const configs = [
      { kind: 'context-unet' as const, inChannels: 1, nFeat: 8, nCfeat: 3, height: 8, numTrainTimesteps: 50 },
      { kind: 'unet' as const, inChannels: 2, height: 8, width: 8, channels: [8, 16], layersPerBlock: 1, attentionLevels: [1], numClasses: 3, normGroups: 4 },
    ];
    for (const config of configs) {
      const a = createModel(e, config, 4);
      const b = createModel(e, config, 4);
      const x = e.tensor(new Random(1).normalArray(2 * 8 * 8 * config.inChannels), [2, 8, 8, config.inChannels]);
      const t = e.tensor(Float32Array.of(3, 40), [2]);
      const c = e.tensor(Float32Array.of(1, 0, 0, 0, 0.6, 1), [2, 3]);
      const ya = e.tidy(() => a.forward(e, x, t, c, { training: false }));
      const yb = e.tidy(() => b.forward(e, x, t, c, { training: false }));
      assert.deepEqual(ya.shape, [2, 8, 8, config.inChannels]);
      assert.deepEqual(Array.from(e.readSync(ya)), Array.from(e.readSync(yb)));
      for (const tensor of [x, t, c, ya, yb]) tensor.dispose();
      a.params.dispose();
      b.params.dispose();
    }
  });

  test('bad model configs fail loudly', () => {
    assert.throws(() => createModel(e, { kind: 'context-unet', inChannels: 1, nFeat: 12, nCfeat: 2, height: 8, numTrainTimesteps: 10 }), /multiple of 8/);
    assert.throws(() => createModel(e, { kind: 'context-unet', inChannels: 1, nFeat: 8, nCfeat: 2, height: 10, numTrainTimesteps: 10 }), /multiple of 4/);
    assert.throws(() => createModel(e, { kind: 'unet', inChannels: 1, height: 8, width: 8, channels: [8], layersPerBlock: 1, attentionLevels: [], numClasses: 2, normGroups: 4, extra: 1 } as never), /unknown option "extra"/);
    assert.throws(() => createModel(e, { kind: 'transformer' } as never), /model.kind/);
  });

  test('training steps leak no tensors (tf.memory().numTensors is stable)', () => {
    for (const config of [
      { kind: 'context-unet' as const, inChannels: 1, nFeat: 8, nCfeat: 2, height: 8, numTrainTimesteps: 50 },
      { kind: 'unet' as const, inChannels: 1, height: 8, width: 8, channels: [8, 8], layersPerBlock: 1, attentionLevels: [1], numClasses: 2, normGroups: 4 },
    ]) {
      const model = createModel(e, config, 0);
      const trainer = new DiffusionTrainer(e, model, { numTrainTimesteps: 50, betaSchedule: 'linear', betaStart: 1e-4, betaEnd: 0.02 }, { batchSize: 4 }, 2);
      const x0 = new Random(2).normalArray(4 * 64).map((v) => Math.tanh(v));
      const labels = Int32Array.of(0, 1, 0, 1);
      trainer.trainStep(x0, labels, 4, 100);
      const baseline = e.numTensors();
      for (let i = 0; i < 3; i++) trainer.trainStep(x0, labels, 4, 100);
      assert.equal(e.numTensors(), baseline, `${config.kind}: tensors leaked`);
      trainer.dispose();
      model.params.dispose();
    }
  });
});
