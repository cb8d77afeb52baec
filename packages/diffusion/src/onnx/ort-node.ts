/**
 * Node-only: run an exported model with onnxruntime-node (an optional dependency; its CPU binaries
 * for linux/macOS/Windows ship inside the npm package). The module is loaded dynamically, so the
 * package type-checks and runs without it, and is described here by the few members used.
 */
import { availableParallelism } from 'node:os';
import { DiffusionError } from '../errors.ts';
import type { DiffusionModel } from '../models/index.ts';
import { contextSizeOf, imageShapeOf } from '../models/index.ts';
import type { NoisePredictor } from '../sample.ts';
import { type OnnxExportOptions, exportOnnx } from './export.ts';

interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}
interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
export interface OrtSessionOptions {
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
  executionMode?: 'sequential' | 'parallel';
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  optimizedModelFilePath?: string;
}
interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: OrtSessionOptions): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  env: { versions?: { node?: string } };
}

export const ONNX_INSTALL_HINT = 'ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node';

let loaded: Promise<OrtModule> | null = null;

/** onnxruntime-node, or BACKEND_UNAVAILABLE with the install command. */
export function loadOnnxRuntime(): Promise<OrtModule> {
  loaded ??= (async () => {
    try {
      const moduleName = 'onnxruntime-node';
      const ort = (await import(/* @vite-ignore */ moduleName)) as OrtModule & { default?: OrtModule };
      return ort.InferenceSession ? ort : (ort.default as OrtModule);
    } catch (err) {
      loaded = null;
      throw new DiffusionError(
        'BACKEND_UNAVAILABLE',
        `--backend onnx needs the optional package onnxruntime-node, which failed to load (${(err as Error).message.split('\n')[0]}); install it with: ${ONNX_INSTALL_HINT}`,
      );
    }
  })();
  return loaded;
}

/** The onnxruntime-node version, or null when it is not installed. */
export async function onnxRuntimeVersion(): Promise<string | null> {
  try {
    return (await loadOnnxRuntime()).env.versions?.node ?? 'unknown';
  } catch {
    return null;
  }
}

export interface OnnxPredictorOptions extends OnnxExportOptions {
  /** Intra-op threads (default: the number of cores). */
  threads?: number;
  /** ORT graph optimisation level (default 'all'). */
  optimization?: OrtSessionOptions['graphOptimizationLevel'];
}

/** The model call of the sampling loop, run by an ORT InferenceSession on the exported graph. */
export class OnnxNoisePredictor implements NoisePredictor {
  private constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtSession,
    private readonly imageShape: [number, number, number],
    private readonly contextSize: number,
    /** Bytes of the exported ModelProto. */
    readonly modelBytes: number,
  ) {}

  /** Export `model` in memory (no file) and open an ORT session on it. */
  static async create(model: DiffusionModel, options: OnnxPredictorOptions = {}): Promise<OnnxNoisePredictor> {
    const ort = await loadOnnxRuntime();
    const bytes = exportOnnx(model, options);
    return OnnxNoisePredictor.fromBytes(ort, bytes, model, options);
  }

  static async fromBytes(ort: OrtModule, bytes: Uint8Array, model: DiffusionModel, options: OnnxPredictorOptions = {}): Promise<OnnxNoisePredictor> {
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: options.threads ?? availableParallelism(),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: options.optimization ?? 'all',
      logSeverityLevel: 3,
    });
    const { height, width, channels } = imageShapeOf(model.config);
    return new OnnxNoisePredictor(ort, session, [height, width, channels], contextSizeOf(model.config), bytes.length);
  }

  async predict(x: Float32Array, timesteps: Float32Array, context: Float32Array, rows: number): Promise<Float32Array> {
    const [h, w, c] = this.imageShape;
    if (x.length !== rows * h * w * c || timesteps.length !== rows || context.length !== rows * this.contextSize) {
      throw new DiffusionError('SHAPE_MISMATCH', `onnx predictor: ${rows} rows need ${rows * h * w * c} pixels, ${rows} timesteps and ${rows * this.contextSize} context values`);
    }
    const all: Record<string, OrtTensor> = {
      x: new this.ort.Tensor('float32', x, [rows, h, w, c]),
      t: new this.ort.Tensor('float32', timesteps, [rows]),
      context: new this.ort.Tensor('float32', context, [rows, this.contextSize]),
    };
    const feeds: Record<string, OrtTensor> = {};
    for (const name of this.session.inputNames) feeds[name] = all[name];
    const out = await this.session.run(feeds);
    return out[this.session.outputNames[0]].data as Float32Array;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
