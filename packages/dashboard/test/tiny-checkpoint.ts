/**
 * A tiny diffusion checkpoint for the browser test, made through @flashdiff/diffusion's own
 * API: a ContextUnet (n_feat 8, 8 × 8 grey images, 2 classes, T = 50) trained for a few steps
 * on a toy set of bright squares (class 0) and dark squares (class 1), then saved with the
 * package's saveTrainingCheckpoint. Seconds of work; the samples are noisy, but not blank.
 */
import { join } from 'node:path';
import { createModel, DiffusionTrainer } from '@flashdiff/diffusion';
import type { ModelConfig, ScheduleConfig } from '@flashdiff/diffusion';
import { loadDiffusionNodeApi } from '../src/server/adapters/diffusion.ts';

export async function makeTinyCheckpoint(directory: string, name = 'tiny', steps = 12): Promise<string> {
  const node = await loadDiffusionNodeApi();
  const engine = await node.initBackend('wasm');
  const side = 8;
  const model: ModelConfig = { kind: 'context-unet', inChannels: 1, nFeat: 8, nCfeat: 2, height: side, numTrainTimesteps: 50 };
  const schedule: ScheduleConfig = { numTrainTimesteps: 50, betaSchedule: 'linear', betaStart: 1e-4, betaEnd: 0.02 };
  const network = createModel(engine, model, 7);
  const trainer = new DiffusionTrainer(engine, network, schedule, { epochs: 1, batchSize: 8, learningRate: 2e-3, seed: 7, emaDecay: 0 }, 2);
  const batch = 8;
  const images = new Float32Array(batch * side * side);
  const labels = new Int32Array(batch);
  for (let i = 0; i < batch; i++) {
    labels[i] = i % 2;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const inside = x >= 2 && x < 6 && y >= 2 && y < 6;
        images[i * side * side + y * side + x] = inside ? (labels[i] === 0 ? 1 : -0.5) : -1;
      }
    }
  }
  try {
    for (let s = 0; s < steps; s++) trainer.trainStep(images, labels, batch, steps);
    trainer.state.epoch = 1;
    const out = join(directory, name);
    const data = { name: 'toy-squares', height: side, width: side, channels: 1, numClasses: 2, classNames: ['bright', 'dark'] };
    node.saveTrainingCheckpoint(out, trainer, network, model, data, 0);
    return out;
  } finally {
    trainer.dispose();
    network.params.dispose();
  }
}
