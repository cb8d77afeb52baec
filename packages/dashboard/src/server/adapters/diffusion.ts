/**
 * The diffusion view's bridge to @flashdiff/diffusion: checkpoint listing, request validation,
 * and the package's Node-only API (backend, checkpoint files, MNIST, PNG).
 *
 * The browser-safe API comes from the package's main entry. The Node-only part lives in the
 * package's src/node.ts, loaded through the subpath '@flashdiff/diffusion/node' at run time; if it
 * cannot be loaded the view says so ("not available").
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { parseCheckpointConfig } from '@flashdiff/diffusion';
import { SHIPPED_MODEL_GUIDANCE, SHIPPED_MODEL_NAME } from '@flashdiff/diffusion/shipped-model';
import type { CheckpointConfig, DataInfo, DiffusionModel, DiffusionTrainer, ImageDataset, ModelConfig, RgbaImage, TensorEngine } from '@flashdiff/diffusion';
import type { CheckpointInfo, DiffusionSampleRequest, DiffusionTrainRequest } from '../../shared/protocol.ts';
import { DashboardError } from '../errors.ts';
import { field } from '../http-util.ts';

/** What the dashboard uses of the package's Node-only API (src/node.ts). */
export interface DiffusionNodeApi {
  initBackend(backend?: 'wasm' | 'cpu' | 'tensorflow'): Promise<TensorEngine>;
  loadModel(engine: TensorEngine, dir: string, which?: 'ema' | 'model'): { model: DiffusionModel; config: CheckpointConfig };
  saveTrainingCheckpoint(dir: string, trainer: DiffusionTrainer, model: DiffusionModel, modelConfig: ModelConfig, data: DataInfo, trainingSeconds: number): CheckpointConfig;
  encodePng(image: RgbaImage): Uint8Array;
  loadMnist(size?: number, limit?: number): ImageDataset;
}

const NODE_API = '@flashdiff/diffusion/node';
const NODE_API_NAMES = ['initBackend', 'loadModel', 'saveTrainingCheckpoint', 'encodePng', 'loadMnist'] as const;

/** Loads the Node-only API, or throws UNAVAILABLE saying what is missing. */
export async function loadDiffusionNodeApi(): Promise<DiffusionNodeApi> {
  let module: Record<string, unknown>;
  try {
    module = (await import(/* @vite-ignore */ NODE_API)) as Record<string, unknown>;
  } catch (e) {
    throw new DiffusionUnavailable(`${NODE_API} cannot be loaded (${(e as Error).message.split('\n')[0]})`);
  }
  const missing = NODE_API_NAMES.filter((name) => typeof module[name] !== 'function');
  if (missing.length > 0) throw new DiffusionUnavailable(`${NODE_API} does not export ${missing.join(', ')}`);
  return module as unknown as DiffusionNodeApi;
}

class DiffusionUnavailable extends DashboardError {
  constructor(reason: string) {
    super('UNAVAILABLE', `not available: ${reason}`);
  }
}

/**
 * The shipped model (when this copy of @flashdiff/diffusion has it) first, then every sub-folder of
 * `directory` holding a config.json of a checkpoint.
 */
export function listCheckpoints(directory: string, shipped: string | null = null): CheckpointInfo[] {
  const out: CheckpointInfo[] = [];
  if (shipped !== null) {
    const info = describeCheckpoint(`${SHIPPED_MODEL_NAME} (shipped)`, shipped, true);
    if (info) out.push(info);
  }
  if (!existsSync(directory)) return out;
  for (const name of readdirSync(directory).sort()) {
    const info = describeCheckpoint(name, join(directory, name), false);
    if (info) out.push(info);
  }
  return out;
}

function describeCheckpoint(name: string, path: string, shipped: boolean): CheckpointInfo | null {
  const configPath = join(path, 'config.json');
  try {
    if (!statSync(path).isDirectory() || !existsSync(configPath)) return null;
    const config = parseCheckpointConfig(readFileSync(configPath, 'utf8'), configPath);
    const m = config.model;
    return {
      name,
      path,
      classes: m.kind === 'context-unet' ? m.nCfeat : m.numClasses,
      imageSize: m.height,
      channels: m.inChannels,
      model: m.kind,
      shipped,
      guidance: shipped ? SHIPPED_MODEL_GUIDANCE : 1,
      description:
        `trained on ${config.data.name}, epoch ${config.state.epoch}, step ${config.state.step}, ` +
        `T = ${config.schedule.numTrainTimesteps} (${config.schedule.betaSchedule}), ${Math.round(config.trainingSeconds)} s of training`,
    };
  } catch {
    // A folder that is not a readable checkpoint is left out of the list.
    return null;
  }
}

/** Resolves a checkpoint chosen on the page; it must be the shipped model or lie inside the checkpoint folder. */
export function resolveCheckpoint(directory: string, chosen: string, shipped: string | null = null): string {
  if (shipped !== null && resolve(chosen) === resolve(shipped)) return shipped;
  const root = resolve(directory);
  const path = resolve(root, chosen);
  if (!path.startsWith(root + sep)) throw new DashboardError('BAD_REQUEST', `checkpoint: '${chosen}' is not inside ${root}`);
  if (!existsSync(join(path, 'config.json'))) throw new DashboardError('NOT_FOUND', `checkpoint: ${path} has no config.json`);
  return path;
}

export interface SamplePlan {
  readonly request: DiffusionSampleRequest;
  readonly checkpointPath: string;
}

export function planSample(body: Record<string, unknown>, directory: string, shipped: string | null = null): SamplePlan {
  const checkpointPath = resolveCheckpoint(directory, field.string(body, 'checkpoint'), shipped);
  const sampler = field.oneOf(body, 'sampler', ['ddpm', 'ddim'] as const, 'ddim');
  const classValue = body.classLabel ?? null;
  if (classValue !== null && (typeof classValue !== 'number' || !Number.isInteger(classValue) || classValue < 0)) {
    throw new DashboardError('BAD_REQUEST', `classLabel: expected a class number or null, got ${JSON.stringify(classValue)}`);
  }
  let mix: Record<string, number> | undefined;
  if (body.mix !== undefined) {
    if (body.mix === null || typeof body.mix !== 'object') throw new DashboardError('BAD_REQUEST', 'mix: expected {class: weight}');
    mix = {};
    for (const [k, v] of Object.entries(body.mix as Record<string, unknown>)) {
      if (!/^\d+$/.test(k) || typeof v !== 'number' || !Number.isFinite(v)) throw new DashboardError('BAD_REQUEST', `mix: '${k}: ${String(v)}' is not class: weight`);
      mix[k] = v;
    }
    if (Object.keys(mix).length === 0) throw new DashboardError('BAD_REQUEST', 'mix: name at least one class');
  }
  const request: DiffusionSampleRequest = {
    checkpoint: checkpointPath,
    sampler,
    // DDPM without steps runs all T steps (the worker caps the count at T).
    steps: field.integer(body, 'steps', sampler === 'ddim' ? 25 : 10_000, 1, 10_000),
    eta: field.number(body, 'eta', 0, 0, 1),
    classLabel: classValue as number | null,
    ...(mix !== undefined ? { mix } : {}),
    guidance: field.number(body, 'guidance', 1, -20, 100),
    count: field.integer(body, 'count', 16, 1, 64),
    seed: field.integer(body, 'seed', 1),
    frameEvery: field.integer(body, 'frameEvery', 1, 1, 10_000),
  };
  return { request, checkpointPath };
}

export interface TrainPlan {
  readonly request: DiffusionTrainRequest;
  readonly outPath: string;
}

export function planTrain(body: Record<string, unknown>, directory: string): TrainPlan {
  const name = field.string(body, 'name', 'mnist-small');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new DashboardError('BAD_REQUEST', `name: '${name}' must be letters, digits, '.', '_' or '-' (a folder name)`);
  }
  const request: DiffusionTrainRequest = {
    name,
    epochs: field.integer(body, 'epochs', 1, 1, 1000),
    batchSize: field.integer(body, 'batchSize', 32, 1, 1024),
    learningRate: field.number(body, 'learningRate', 1e-3, 1e-7, 1),
    timesteps: field.integer(body, 'timesteps', 500, 2, 5000),
    trainImages: field.integer(body, 'trainImages', 2000, 10, 10_000),
    nFeat: field.integer(body, 'nFeat', 32, 8, 256),
    seed: field.integer(body, 'seed', 1),
  };
  if (request.nFeat % 8 !== 0) throw new DashboardError('BAD_REQUEST', `nFeat: ${request.nFeat} must be a multiple of 8 (GroupNorm of 8 groups)`);
  return { request, outPath: join(resolve(directory), name) };
}
