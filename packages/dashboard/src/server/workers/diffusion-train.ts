/**
 * Worker thread of a small MNIST training run from the page: the package's DDPM trainer
 * (DiffusionTrainer.trainStep: L_simple, Adam, EMA, context dropout) over the package's MNIST
 * loader, with a progress event per step and a checkpoint (the package's saveTrainingCheckpoint)
 * after every epoch, and a frame per step with the loss of every step so far (the page's loss
 * curve). A cancel stops between steps; the last epoch's checkpoint
 * stays as it was.
 */
import { createModel, DiffusionTrainer, gatherBatch } from '@flashdiff/diffusion';
import type { ModelConfig, ScheduleConfig } from '@flashdiff/diffusion';
import { loadDiffusionNodeApi } from '../adapters/diffusion.ts';
import type { TrainPlan } from '../adapters/diffusion.ts';
import type { DiffusionTrainFrame } from '../../shared/protocol.ts';
import { BoundedSeries } from '../../shared/series.ts';
import { runWorkerJob } from '../worker-protocol.ts';

/** MNIST at 16 × 16 (area-averaged by the package): small enough to train on two cores. */
const IMAGE_SIZE = 16;

runWorkerJob<TrainPlan>(async (job) => {
  const { request, outPath } = job.params;
  const node = await loadDiffusionNodeApi();
  job.progress(0, 0, 'initialising the tensor backend');
  const engine = await node.initBackend('wasm');
  job.progress(0, 0, 'loading MNIST');
  const data = node.loadMnist(IMAGE_SIZE, request.trainImages);
  const model: ModelConfig = {
    kind: 'context-unet',
    inChannels: data.channels,
    nFeat: request.nFeat,
    nCfeat: data.numClasses,
    height: data.height,
    numTrainTimesteps: request.timesteps,
  };
  const schedule: ScheduleConfig = { numTrainTimesteps: request.timesteps, betaSchedule: 'linear', betaStart: 1e-4, betaEnd: 0.02 };
  const network = createModel(engine, model, request.seed);
  const trainer = new DiffusionTrainer(engine, network, schedule, { epochs: request.epochs, batchSize: request.batchSize, learningRate: request.learningRate, seed: request.seed }, data.numClasses);
  const batchesPerEpoch = Math.ceil(data.count / request.batchSize);
  const totalSteps = batchesPerEpoch * request.epochs;
  const started = performance.now();
  job.log(`training a ContextUnet (n_feat ${request.nFeat}) on ${data.count} MNIST digits at ${IMAGE_SIZE}×${IMAGE_SIZE}, ${request.epochs} epoch(s) × ${batchesPerEpoch} steps → ${outPath}`);
  // Every step's loss (thinned past 2000 steps), sent whole with each frame: none is lost to a dropped frame.
  const losses = new BoundedSeries(['step', 'loss'] as const, 2000);
  let saved = false;
  try {
    for (let epoch = 0; epoch < request.epochs; epoch++) {
      const order = trainer.random.permutation(data.count);
      let loss = NaN;
      for (let start = 0; start < data.count; start += request.batchSize) {
        if (job.cancelled()) {
          job.log(saved ? 'cancelled: the checkpoint of the last finished epoch is kept' : 'cancelled before the first epoch ended: no checkpoint written');
          return;
        }
        const indices = order.subarray(start, Math.min(data.count, start + request.batchSize));
        const batch = gatherBatch(data, indices);
        loss = trainer.trainStep(batch.images, batch.labels, indices.length, totalSteps).loss;
        const step = epoch * batchesPerEpoch + start / request.batchSize + 1;
        losses.push({ step, loss });
        job.frame({ totalSteps, steps: losses.columns.step, losses: losses.columns.loss } satisfies DiffusionTrainFrame);
        const rate = step / ((performance.now() - started) / 1000);
        job.progress(step, totalSteps, `epoch ${epoch + 1}/${request.epochs} · step ${step}/${totalSteps} · loss ${loss.toFixed(4)} · ${rate.toFixed(2)} steps/s`);
        await job.yieldToEvents();
      }
      trainer.state.epoch = epoch + 1;
      // The package's own checkpoint writer: the same files `diffusion train` writes and resumes.
      const dataInfo = { name: data.name, height: data.height, width: data.width, channels: data.channels, numClasses: data.numClasses, classNames: data.classNames };
      node.saveTrainingCheckpoint(outPath, trainer, network, model, dataInfo, (performance.now() - started) / 1000);
      saved = true;
      job.log(`epoch ${epoch + 1}/${request.epochs}: loss ${loss.toFixed(4)}, checkpoint written (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    }
    job.result({ checkpoint: outPath, epochs: request.epochs, steps: totalSteps, seconds: Number(((performance.now() - started) / 1000).toFixed(1)) });
  } finally {
    trainer.dispose();
    network.params.dispose();
  }
});
