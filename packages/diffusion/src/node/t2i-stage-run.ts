/**
 * Node-only: the run loop shared by the three text-to-image training stages (train/t2i/*): steps
 * with a progress bar (stderr, TTY only), a loss log (`<out>/log.jsonl`, one JSON object per step
 * and one per evaluation), resumable checkpoints (`<out>/state/`: state.json, the weights, EMA
 * weights and Adam moments as safetensors, written atomically with state.json last) and the
 * stage's own outputs in diffusers layout (written by the `publish` callback at every checkpoint).
 *
 * --resume reads state/state.json (the stage's saved hyper-parameters win, except a larger
 * `steps`), cuts the log back to the saved step (a crash after logging but before saving leaves
 * lines a resumed run will write again) and continues with the saved RNG state, so a run stopped
 * and resumed gives the same weights as one that never stopped.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ensureDirectory, progressBar, writeFilesAtomic } from '@flashdiff/cli-kit';
import { decodeSafetensors, encodeSafetensors } from '../checkpoint/safetensors.ts';
import { DiffusionError } from '../errors.ts';
import type { NamedArray } from '../models/parameters.ts';
import type { RandomState } from '../rng.ts';
import type { StageTrainer, StageTrainingConfig, TrainingData } from '../train/t2i/common.ts';
import { CaptionDataset } from '../data/caption-dataset.ts';

export const STAGE_STATE_FORMAT = 'flashdiff-t2i-stage';

/** `--data`: a cache folder means its train split (`<dir>/train.bin`); a `.bin` path is taken as it is. Absolute, as state.json records it. */
export function trainingCachePath(pathOrDir: string): string {
  return resolve(pathOrDir.endsWith('.bin') ? pathOrDir : join(pathOrDir, 'train.bin'));
}

/**
 * Open the data-set cache a stage's configuration names, checked whole before the first step (its
 * header, sizes, captions' and every chunk's CRC-32): a missing, truncated or corrupt cache is one
 * DATA_INVALID error naming the file, not a failure in the middle of a run.
 */
export function openTrainingCache(path: string): TrainingData & { close(): void; count: number; split: string; captions(seed: number, count: number): string[] } {
  const dataset = openVerified(path);
  const { height, width, channels, split } = dataset.header;
  // Evaluation reads the same data set's test split when `diffusion data` wrote one beside it.
  const testPath = join(dirname(path), 'test.bin');
  let test: CaptionDataset | null = null;
  if (basename(path) === 'train.bin' && existsSync(testPath)) {
    try {
      test = openVerified(testPath);
    } catch (err) {
      dataset.close();
      throw err;
    }
    const t = test.header;
    if (t.height !== height || t.width !== width || t.channels !== channels) {
      dataset.close();
      test.close();
      throw new DiffusionError('DATA_INVALID', `${testPath}: ${t.height}×${t.width}×${t.channels} images, but ${path} has ${height}×${width}×${channels}`);
    }
  }
  const batchOf = (d: CaptionDataset) => (seed: number, start: number, count: number) => {
    const { images, captions } = d.streamBatch(seed, start, count);
    return { images, captions };
  };
  return {
    source: path,
    height,
    width,
    channels,
    count: dataset.count,
    split,
    batch: batchOf(dataset),
    heldOut: test === null ? null : { source: testPath, batch: batchOf(test) },
    /** The captions of the stream's first `count` samples (no images read): what a learnt vocabulary is built from. */
    captions: (seed, count) => Array.from(dataset.streamIndices(seed, 0, count), (k) => dataset.records[k].caption),
    close: () => {
      dataset.close();
      test?.close();
    },
  };
}

function openVerified(path: string): CaptionDataset {
  const dataset = new CaptionDataset(path);
  try {
    dataset.verify();
  } catch (err) {
    dataset.close();
    throw err;
  }
  return dataset;
}

export interface StageState {
  format: typeof STAGE_STATE_FORMAT;
  stage: 'vae' | 'clip' | 'unet';
  training: StageTrainingConfig;
  /** The stage's own options (model config, loss weights, input folders…). */
  options: Record<string, unknown>;
  step: number;
  optimizerSteps: number;
  random: RandomState;
  /** Training wall time so far, all sessions. */
  seconds: number;
  files: string[];
  /** The last evaluation. */
  evaluation: Record<string, number> | null;
}

export function readStageState(out: string, stage: StageState['stage']): StageState {
  const path = join(out, 'state', 'state.json');
  if (!existsSync(path)) throw new DiffusionError('CHECKPOINT_MISSING', `${path}: missing (nothing to resume in ${out})`);
  let state: StageState;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as StageState;
  } catch (err) {
    throw new DiffusionError('CHECKPOINT_CORRUPT', `${path}: not JSON (${(err as Error).message})`);
  }
  if (state?.format !== STAGE_STATE_FORMAT) throw new DiffusionError('CHECKPOINT_CORRUPT', `${path}: not a text-to-image training state (format ${JSON.stringify(state?.format)})`);
  if (state.stage !== stage) throw new DiffusionError('CHECKPOINT_CORRUPT', `${path}: a ${state.stage} stage, not ${stage}`);
  if (!Number.isSafeInteger(state.step) || !Array.isArray(state.random?.s) || !Array.isArray(state.files)) throw new DiffusionError('CHECKPOINT_CORRUPT', `${path}: step, random or files missing`);
  return state;
}

function readStateFiles(out: string, state: StageState): Record<string, Map<string, NamedArray>> {
  const files: Record<string, Map<string, NamedArray>> = {};
  for (const name of state.files) {
    const path = join(out, 'state', `${name}.safetensors`);
    if (!existsSync(path)) throw new DiffusionError('CHECKPOINT_MISSING', `${path}: missing`);
    files[name] = decodeSafetensors(new Uint8Array(readFileSync(path)), path).tensors;
  }
  return files;
}

export interface StageRunOptions {
  out: string;
  /** The saved state to continue from (readStageState), or null for a fresh run. */
  resumeFrom: StageState | null;
  /** The stage's options, saved in state.json. */
  stageOptions: Record<string, unknown>;
  /** Checkpoint every N steps (and at the end). */
  saveEvery: number;
  /** Evaluate every N steps (0: only at the end). */
  evalEvery: number;
  /** Stop (after a checkpoint) once this session has run this long; resume continues. */
  timeLimitSeconds?: number;
  /** Stop after this many steps in this session (tests). */
  maxSteps?: number;
  progress: boolean;
  /** Write the stage's diffusers-layout outputs (called after each checkpoint). */
  publish: (trainer: StageTrainer, evaluation: Record<string, number> | null) => void;
  log?: (line: string) => void;
}

export interface StageRunResult {
  step: number;
  lastLoss: number;
  /** Training seconds, all sessions. */
  seconds: number;
  evaluation: Record<string, number> | null;
  finished: boolean;
}

/**
 * Trains `trainer` to its last step (or the session's limits), checkpointing every `saveEvery`
 * steps. The loop gives the event loop one turn per step, as the pixel-space trainer does, so
 * that the CLI's Ctrl-C/SIGTERM handler can run between steps: the run stops at once, with its
 * last checkpoint intact (written atomically) for `--resume`.
 */
export async function runStage(trainer: StageTrainer, options: StageRunOptions): Promise<StageRunResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  ensureDirectory(options.out);
  const logPath = join(options.out, 'log.jsonl');
  let previousSeconds = 0;
  let evaluation: Record<string, number> | null = null;
  if (options.resumeFrom) {
    const s = options.resumeFrom;
    trainer.importState(readStateFiles(options.out, s), s.random, s.optimizerSteps, s.step, join(options.out, 'state'));
    previousSeconds = s.seconds;
    evaluation = s.evaluation;
    if (existsSync(logPath)) {
      const kept = readFileSync(logPath, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '' && (JSON.parse(line) as { step: number }).step <= s.step);
      writeFileSync(logPath, kept.map((l) => l + '\n').join(''));
    }
    log(`resumed ${options.out} at step ${s.step}`);
  } else writeFileSync(logPath, '');
  const total = trainer.config.steps;
  const started = performance.now();
  const seconds = (): number => previousSeconds + (performance.now() - started) / 1000;
  const save = (): void => {
    const { files, random, optimizerSteps } = trainer.exportState();
    const state: StageState = {
      format: STAGE_STATE_FORMAT,
      stage: trainer.stage,
      training: trainer.config,
      options: options.stageOptions,
      step: trainer.step,
      optimizerSteps,
      random,
      seconds: seconds(),
      files: Object.keys(files),
      evaluation,
    };
    const meta = { format: STAGE_STATE_FORMAT, step: String(trainer.step) };
    writeFilesAtomic([
      ...Object.entries(files).map(([name, tensors]) => [join(options.out, 'state', `${name}.safetensors`), encodeSafetensors(tensors, meta)] as const),
      [join(options.out, 'state', 'state.json'), JSON.stringify(state, null, 2) + '\n'] as const,
    ]);
    options.publish(trainer, evaluation);
  };
  const runEvaluation = (): void => {
    evaluation = trainer.evaluate();
    appendFileSync(logPath, JSON.stringify({ step: trainer.step, seconds: round(seconds()), eval: evaluation }) + '\n');
    log(`step ${trainer.step}: ${Object.entries(evaluation).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}`);
  };
  const bar = progressBar(`${trainer.stage} step`, { enabled: options.progress });
  let lastLoss = NaN;
  let sessionSteps = 0;
  const maxSteps = options.maxSteps ?? Infinity;
  let stoppedEarly = false;
  while (trainer.step < total) {
    if (sessionSteps >= maxSteps || (options.timeLimitSeconds !== undefined && (performance.now() - started) / 1000 >= options.timeLimitSeconds)) {
      stoppedEarly = true;
      break;
    }
    const figures = trainer.trainStep();
    lastLoss = figures.loss;
    sessionSteps += 1;
    appendFileSync(logPath, JSON.stringify({ step: trainer.step, seconds: round(seconds()), ...Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, round(v)])) }) + '\n');
    bar.update(trainer.step, total);
    if (!process.stderr.isTTY && trainer.step % 25 === 0) log(`${trainer.stage} step ${trainer.step}/${total} loss ${lastLoss.toFixed(4)} (${seconds().toFixed(0)} s)`);
    const atEnd = trainer.step === total;
    if (options.evalEvery > 0 && trainer.step % options.evalEvery === 0 && !atEnd) runEvaluation();
    if (trainer.step % options.saveEvery === 0 && !atEnd) save();
    await new Promise((resolve) => setImmediate(resolve));
  }
  bar.stop();
  // Evaluated at the end of every session (a time-limited one too), so the published outputs carry current figures.
  if (sessionSteps > 0 || evaluation === null) runEvaluation();
  save();
  return { step: trainer.step, lastLoss, seconds: seconds(), evaluation, finished: !stoppedEarly };
}

function round(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 1e6) / 1e6 : v;
}
