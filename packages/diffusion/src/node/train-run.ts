/** Node-only: a full training run — epochs, checkpoints, progress bar, sample grids, --resume. */
import { join } from 'node:path';
import { writeFileAtomic } from '@flashdiff/cli-kit';
import cliProgress from 'cli-progress';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, type CheckpointConfig, type DataInfo } from '../checkpoint/checkpoint.ts';
import { FILES, readCheckpointConfig, readSafetensorsFile, saveCheckpoint } from '../checkpoint/checkpoint-node.ts';
import { type ImageDataset, gatherBatch } from '../data/dataset.ts';
import { DiffusionError } from '../errors.ts';
import { imagesToGrid } from '../image/grid.ts';
import { encodePng } from '../image/png-node.ts';
import { type DiffusionModel, type ModelConfig, contextSizeOf, createModel, imageShapeOf } from '../models/index.ts';
import { Random } from '../rng.ts';
import { sampleImages } from '../sample.ts';
import type { ScheduleConfig } from '../schedule.ts';
import { DdimScheduler } from '../schedulers/index.ts';
import type { TensorEngine } from '../tensor/engine.ts';
import { DiffusionTrainer, type TrainingConfig } from '../train/trainer.ts';

export interface TrainRunOptions {
  out: string;
  resume: boolean;
  model: ModelConfig;
  schedule: ScheduleConfig;
  training: Partial<TrainingConfig>;
  /** Write a sample grid every N epochs (0 = never). */
  sampleEvery: number;
  progress: boolean;
  /** Stop after this many optimisation steps in this session (tests, quick checks); Infinity = run all epochs. */
  maxSteps?: number;
  log?: (line: string) => void;
}

export interface TrainRunResult {
  config: CheckpointConfig;
  lastLoss: number;
  seconds: number;
}

export function dataInfoOf(d: ImageDataset): DataInfo {
  return { name: d.name, height: d.height, width: d.width, channels: d.channels, numClasses: d.numClasses, classNames: d.classNames };
}

/**
 * Writes the checkpoint of a training run as it stands (EMA weights synced first): config.json
 * with the model, schedule, training configuration and resumable state, plus the weights, the EMA
 * weights and the Adam moments. Every writer of training checkpoints goes through here, so they
 * all resume the same way.
 */
export function saveTrainingCheckpoint(
  dir: string,
  trainer: DiffusionTrainer,
  model: DiffusionModel,
  modelConfig: ModelConfig,
  data: DataInfo,
  trainingSeconds: number,
): CheckpointConfig {
  trainer.syncEma();
  const checkpoint: CheckpointConfig = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    model: modelConfig,
    schedule: trainer.schedule.config,
    training: trainer.config,
    state: { ...trainer.captureState(), optimizerSteps: trainer.optimizer.stepCount },
    data,
    trainingSeconds,
  };
  saveCheckpoint(dir, checkpoint, { model: model.params.exportValues(), ema: trainer.ema.params.exportValues(), optimizer: trainer.optimizer.exportState() });
  return checkpoint;
}

export async function runTraining(engine: TensorEngine, data: ImageDataset, options: TrainRunOptions): Promise<TrainRunResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  let modelConfig = options.model;
  let scheduleConfig = options.schedule;
  let trainingConfig = options.training;
  let previousSeconds = 0;
  let resumed: CheckpointConfig | null = null;
  if (options.resume) {
    resumed = readCheckpointConfig(options.out);
    modelConfig = resumed.model;
    scheduleConfig = resumed.schedule;
    // The saved run's hyper-parameters win, except a longer --epochs to extend it.
    trainingConfig = { ...resumed.training, epochs: options.training.epochs ?? resumed.training.epochs };
    previousSeconds = resumed.trainingSeconds;
  }
  const shape = imageShapeOf(modelConfig);
  if (shape.height !== data.height || shape.width !== data.width || shape.channels !== data.channels) {
    throw new DiffusionError('DATA_INVALID', `${data.name}: images are ${data.height}×${data.width}×${data.channels}, the model expects ${shape.height}×${shape.width}×${shape.channels}`);
  }
  const contextSize = contextSizeOf(modelConfig);
  if (data.labels && data.numClasses > contextSize) {
    throw new DiffusionError('DATA_INVALID', `${data.name}: ${data.numClasses} classes but the model's context has ${contextSize} entries`);
  }
  const model = createModel(engine, modelConfig, trainingConfig.seed ?? 0);
  const trainer = new DiffusionTrainer(engine, model, scheduleConfig, trainingConfig, contextSize);
  try {
    if (resumed) {
      model.params.importValues(readSafetensorsFile(options.out, FILES.model), join(options.out, FILES.model));
      trainer.ema.params.importValues(readSafetensorsFile(options.out, FILES.ema), join(options.out, FILES.ema));
      trainer.optimizer.importState(readSafetensorsFile(options.out, FILES.optimizer), resumed.state.optimizerSteps, join(options.out, FILES.optimizer));
      trainer.state = { step: resumed.state.step, epoch: resumed.state.epoch, random: resumed.state.random };
      trainer.restoreRandom(resumed.state.random);
      log(`resumed ${options.out} at epoch ${resumed.state.epoch}, step ${resumed.state.step}`);
    }
    const config = trainer.config;
    const batchesPerEpoch = Math.ceil(data.count / config.batchSize);
    const totalSteps = batchesPerEpoch * config.epochs;
    const started = performance.now();
    let lastLoss = NaN;
    let sessionSteps = 0;
    const maxSteps = options.maxSteps ?? Infinity;
    // The bar only on a terminal; the per-epoch log line below goes to stderr either way. Its bar
    // and count are the epoch's, its ETA the run's (every epoch left, checkpoints and sample grids
    // included): cli-progress's own {eta} covers one bar, i.e. one epoch, and reads "0s" before the
    // first step. {run_eta} is "--" until this session has timed a step.
    const bar = options.progress && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: 'epoch {epoch}/{epochs} |{bar}| {value}/{total} loss {loss} | {rate} steps/s | run ETA {run_eta}',
            hideCursor: false,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
    /** Steps left in the run: the epochs not finished, less this epoch's steps done, capped by maxSteps. */
    const runEta = (stepsDoneInEpoch: number): string => {
      if (sessionSteps === 0) return '--';
      const stepsLeft = Math.min((config.epochs - trainer.state.epoch) * batchesPerEpoch - stepsDoneInEpoch, maxSteps - sessionSteps);
      const stepsPerSecond = sessionSteps / ((performance.now() - started) / 1000);
      return formatRunEta(stepsLeft / stepsPerSecond);
    };
    const save = (): CheckpointConfig =>
      saveTrainingCheckpoint(options.out, trainer, model, modelConfig, dataInfoOf(data), previousSeconds + (performance.now() - started) / 1000);
    let saved: CheckpointConfig | null = null;
    while (trainer.state.epoch < config.epochs && sessionSteps < maxSteps) {
      const epoch = trainer.state.epoch;
      const order = trainer.random.permutation(data.count);
      const epochStart = performance.now();
      let epochSteps = 0;
      bar?.start(batchesPerEpoch, 0, { epoch: epoch + 1, epochs: config.epochs, loss: '-', rate: '-', run_eta: runEta(0) });
      for (let start = 0; start < data.count && sessionSteps < maxSteps; start += config.batchSize) {
        const idx = order.subarray(start, Math.min(data.count, start + config.batchSize));
        const batch = gatherBatch(data, idx);
        const { loss } = trainer.trainStep(batch.images, batch.labels, idx.length, totalSteps);
        lastLoss = loss;
        sessionSteps += 1;
        epochSteps += 1;
        const rate = epochSteps / ((performance.now() - epochStart) / 1000);
        bar?.update(epochSteps, { loss: loss.toFixed(4), rate: rate.toFixed(2), run_eta: runEta(epochSteps) });
        // A turn of the event loop per step: Ctrl-C's handler (the CLI's) can run between steps.
        await new Promise((resolve) => setImmediate(resolve));
      }
      bar?.stop();
      if (epochSteps < batchesPerEpoch) break; // stopped by maxSteps mid-epoch: do not count the epoch
      trainer.state.epoch += 1;
      saved = save();
      if (options.sampleEvery > 0 && trainer.state.epoch % options.sampleEvery === 0) {
        await writeSampleGrid(engine, trainer, data, join(options.out, 'samples', `epoch-${String(trainer.state.epoch).padStart(3, '0')}.png`));
      }
      log(`epoch ${trainer.state.epoch}/${config.epochs} loss ${lastLoss.toFixed(4)} (${((performance.now() - epochStart) / 1000).toFixed(1)} s) → ${options.out}`);
    }
    if (!saved) saved = save();
    return { config: saved, lastLoss, seconds: (performance.now() - started) / 1000 };
  } finally {
    trainer.dispose();
    model.params.dispose();
  }
}

/**
 * Seconds left as cli-progress formats an ETA ("7s", "2m05s", "1h30m"), rounded up so that a run
 * with steps left never reads "0s".
 */
export function formatRunEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  // autopaddingChar '' is cli-progress's own default (autopadding off): "2m5s", as its {eta_formatted}.
  return cliProgress.Format.TimeFormat(Math.ceil(seconds), { autopaddingChar: '' } as cliProgress.Options, 1);
}

/** A grid with one row per class (or 4 unconditional rows), DDIM 25 steps from the EMA weights. */
async function writeSampleGrid(engine: TensorEngine, trainer: DiffusionTrainer, data: ImageDataset, path: string): Promise<void> {
  const rows = data.labels ? Math.min(data.numClasses, 10) : 4;
  const perRow = 8;
  const n = rows * perRow;
  const classes = Array.from({ length: n }, (_, i) => Math.floor(i / perRow));
  const scheduler = new DdimScheduler({ ...trainer.schedule.config, eta: 0, timestepSpacing: 'trailing' });
  const result = await sampleImages(engine, trainer.ema, {
    scheduler,
    steps: Math.min(25, trainer.schedule.config.numTrainTimesteps),
    n,
    context: data.labels ? { kind: 'per-sample', classes } : { kind: 'none' },
    guidance: 1,
    random: new Random(1234),
  });
  writeFileAtomic(path, encodePng(imagesToGrid(result.images, n, result.height, result.width, result.channels, perRow)));
}
