/**
 * Node-only: Stable Diffusion's UNet on onnxruntime-node — the sampling route for speed. The UNet
 * is exported once per latent size (export-sd.ts) into a folder, an ORT session opens it, and the
 * pipeline's UNet calls go to the session (`StableDiffusionPipeline.useUNetRunner`). The text
 * encoder and the VAE decoder go the same way. With `releaseTfjsWeights` (the default), each tfjs copy
 * is freed once its session holds its own (the UNet's before the session reads its file), so the
 * weights are in memory once; the VAE encoder (img2img) and CLIP's token table stay on tfjs.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ensureDirectory } from '@flashdiff/cli-kit';
import { DiffusionError } from '../errors.ts';
import type { StableDiffusionPipeline } from '../pipelines/stable-diffusion.ts';
import { exportTextEncoderOnnx, exportUNetOnnx, exportVaeDecoderOnnx } from './export-sd.ts';
import { loadOnnxRuntime } from './ort-node.ts';

interface OrtTensor {
  readonly data: unknown;
}
interface OrtSession {
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface OrtWithPath {
  InferenceSession: { create(path: string, options?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
}

/** A session on an exported model file, fed host arrays: { input: [values, dims] } → the first output. */
export interface HostSession {
  run(inputs: Record<string, [Float32Array, number[]]>): Promise<Float32Array>;
  release(): Promise<void>;
}

/**
 * `memoryArena` turns ORT's CPU arena and memory pattern on or off (default off). An arena keeps its
 * high-water mark for the session's life and the pattern allocates a run's planned intermediates as
 * one block, so sessions with arenas add their peaks up; without them each intermediate is freed
 * when its last reader is done, and every run pays for fresh pages. The UNet, run 25 times, takes
 * the arena (useOnnxUNet); the VAE decoder and text encoder, run once per image, do not.
 */
export async function openOnnxSession(modelPath: string, threads = availableParallelism(), options: { memoryArena?: boolean } = {}): Promise<HostSession> {
  const ort = (await loadOnnxRuntime()) as unknown as OrtWithPath;
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: options.memoryArena ?? false,
    enableMemPattern: options.memoryArena ?? false,
    logSeverityLevel: 3,
  });
  return {
    async run(inputs) {
      const feeds: Record<string, OrtTensor> = {};
      for (const [name, [values, dims]] of Object.entries(inputs)) feeds[name] = new ort.Tensor('float32', values, dims);
      const out = await session.run(feeds);
      return out[session.outputNames[0]].data as Float32Array;
    },
    release: () => session.release(),
  };
}

/**
 * A full V8 collection, then the C heap's free pages back to the system. Disposed tfjs weights are
 * ArrayBuffers whose memory goes back to malloc only when V8 collects them, and malloc keeps
 * fragmented free pages resident; without this, ORT reads SD-1.5's 3.4 GB UNet while the freed
 * tfjs copy is still resident (measured: peak 7.4 GiB instead of 4.4 before the first step).
 * The trim needs the native addon (glibc's malloc_trim); without it only the collection runs.
 */
async function releaseFreedMemory(): Promise<void> {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  // V8 frees collected ArrayBuffers' memory from a background task: let it run first.
  await new Promise((resolve) => setTimeout(resolve, 50));
  try {
    const native = await import('@flashdiff/diffusion-native');
    native.trimMemory();
  } catch {
    // No addon: the collection alone.
  }
}

/**
 * Where exported graphs are kept between runs. An export of SD-1.5's UNet takes about 20 s and
 * 3.4 GB of disk; with a cache, later runs at the same size open the saved graph instead.
 */
export interface OnnxExportCache {
  /** Folder of cached exports, one subfolder each (created when missing). */
  directory: string;
  /**
   * Identity of the weights the pipeline was loaded from (e.g. its files' paths, sizes and
   * modification times, see `checkpointIdentity`): a changed checkpoint must miss the cache.
   */
  weights: string;
}

/**
 * Names the traced graph's format in cache keys: bump it whenever the exported graph of the same
 * weights would change (an op lowered differently, attention slicing, the interface), so that no
 * run opens a graph written by older code.
 */
export const ONNX_EXPORT_FORMAT = 'flashdiff-sd-onnx-2';

/** Options shared by the three components' sessions. */
export interface OnnxComponentOptions {
  threads?: number;
  /** Free the tfjs weights the session replaces (default true): the UNet's before ORT reads its own, the others' once open. */
  releaseTfjsWeights?: boolean;
  /** ORT's CPU memory arena and memory pattern (see openOnnxSession): default on for the UNet, off for the others. */
  memoryArena?: boolean;
  /** Reuse and keep exports here (default: export into a temporary folder, removed once the session is open). */
  cache?: OnnxExportCache;
}

export interface OnnxUNetOptions extends OnnxComponentOptions {
  /** Latent size the session serves (image size / the VAE factor). */
  height: number;
  width: number;
}

export interface OnnxRouteTiming {
  /** Seconds spent exporting (0 on a cache hit). */
  exportSeconds: number;
  sessionSeconds: number;
  /** Whether the graph came from the cache. */
  cached: boolean;
}

/**
 * The exported graph for `component` under `spec`: from the cache when it has it, else exported by
 * `produce` (into the cache, atomically: a folder renamed into place once complete, so an
 * interrupted export never leaves an entry that looks whole). `done` removes a temporary export.
 */
function exportedGraph(component: string, spec: unknown, file: string, options: OnnxComponentOptions, produce: (path: string) => void): { modelPath: string; cached: boolean; exportSeconds: number; done: () => void } {
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  if (options.cache === undefined) {
    const directory = mkdtempSync(join(tmpdir(), `flashdiff-${component}-onnx-`));
    try {
      produce(join(directory, file));
    } catch (err) {
      rmSync(directory, { recursive: true, force: true });
      throw err;
    }
    return { modelPath: join(directory, file), cached: false, exportSeconds: seconds(), done: () => rmSync(directory, { recursive: true, force: true }) };
  }
  const key = createHash('sha256').update(JSON.stringify({ format: ONNX_EXPORT_FORMAT, component, spec, weights: options.cache.weights })).digest('hex').slice(0, 32);
  const entry = join(options.cache.directory, `${component}-${key}`);
  const done = () => undefined;
  if (existsSync(join(entry, file))) return { modelPath: join(entry, file), cached: true, exportSeconds: 0, done };
  ensureDirectory(options.cache.directory);
  const partial = `${entry}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  try {
    produce(join(partial, file));
    renameSync(partial, entry);
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    // Another process finished the same export first: use its entry.
    if (!existsSync(join(entry, file))) throw err;
  }
  return { modelPath: join(entry, file), cached: false, exportSeconds: seconds(), done };
}

/** Open an ORT session on `graph`; a temporary export is removed afterwards either way (ORT holds its own copy of the weights). */
async function openExported(what: string, graph: { modelPath: string; done: () => void }, options: OnnxComponentOptions, afterward = ''): Promise<{ session: HostSession; sessionSeconds: number }> {
  const t0 = performance.now();
  try {
    const session = await openOnnxSession(graph.modelPath, options.threads, options);
    return { session, sessionSeconds: (performance.now() - t0) / 1000 };
  } catch (err) {
    const cached = options.cache !== undefined ? ` (cached at ${dirname(graph.modelPath)}: delete that folder to export again)` : '';
    throw new DiffusionError('BACKEND_UNAVAILABLE', `onnxruntime could not open the exported ${what}${cached}: ${(err as Error).message.split('\n')[0]}${afterward}`);
  } finally {
    graph.done();
  }
}

/** Export the pipeline's UNet (or reuse a cached export), open an ORT session on it and route the pipeline's UNet calls there. */
export async function useOnnxUNet(pipe: StableDiffusionPipeline, options: OnnxUNetOptions): Promise<OnnxRouteTiming> {
  const unet = pipe.components.unet;
  const tokens = pipe.components.textEncoder.config.max_position_embeddings;
  const { height, width } = options;
  const graph = exportedGraph('unet', { config: unet.config, height, width, tokens }, `unet-${height}x${width}.onnx`, options, (path) => {
    exportUNetOnnx(unet, { height, width, tokens, path });
  });
  // Free the tfjs weights before ORT reads its own copy, so the weights are never in memory twice.
  const release = options.releaseTfjsWeights ?? true;
  if (release) {
    pipe.releaseUNetWeights();
    await releaseFreedMemory();
  }
  // The arena by default: with sliced attention it holds about 0.4 GiB, and without it each of the
  // run's allocations takes fresh pages (SD-1.5's step measured 9.5–10.2 s without, 7.5–8.3 s with).
  const opened = await openExported('UNet', graph, { ...options, memoryArena: options.memoryArena ?? true }, release ? '; the pipeline has no UNet left: load it again' : '');
  // Session creation frees its staging copies (the weights as read, before re-layout).
  await releaseFreedMemory();
  const { session } = opened;
  const { in_channels: channels, block_out_channels: blocks, cross_attention_dim: dim } = unet.config;
  pipe.useUNetRunner({
    height,
    width,
    run: (latents, rows, timestepEmbedding, context) =>
      session.run({
        x: [latents, [rows, height, width, channels]],
        temb: [timestepEmbedding, [rows, blocks[0]]],
        context: [context, [rows, tokens, dim]],
      }),
    dispose: () => session.release(),
  });
  return { exportSeconds: graph.exportSeconds, sessionSeconds: opened.sessionSeconds, cached: graph.cached };
}

/**
 * Export the pipeline's VAE decoder for one latent size (or reuse a cached export), open an ORT
 * session on it and route the pipeline's decodes there (the tfjs encoder stays, for img2img).
 */
export async function useOnnxVaeDecoder(pipe: StableDiffusionPipeline, options: OnnxUNetOptions): Promise<OnnxRouteTiming> {
  const vae = pipe.components.vae;
  const { height, width } = options;
  const graph = exportedGraph('vae-decoder', { config: vae.config, height, width }, 'vae-decoder.onnx', options, (path) => {
    exportVaeDecoderOnnx(vae, { height, width, path });
  });
  const opened = await openExported('VAE decoder', graph, options);
  const { session } = opened;
  const channels = vae.config.latent_channels;
  pipe.useVaeDecoderRunner({
    height,
    width,
    run: (latents, rows) => session.run({ z: [latents, [rows, height, width, channels]] }),
    dispose: () => session.release(),
  });
  if (options.releaseTfjsWeights ?? true) {
    pipe.releaseVaeDecoderWeights();
    await releaseFreedMemory();
  }
  return { exportSeconds: graph.exportSeconds, sessionSeconds: opened.sessionSeconds, cached: graph.cached };
}

/** Export the text encoder for one clip skip (or reuse a cached export), open an ORT session on it and route the pipeline's text encoding there. */
export async function useOnnxTextEncoder(pipe: StableDiffusionPipeline, options: OnnxComponentOptions & { clipSkip?: number } = {}): Promise<OnnxRouteTiming> {
  const clip = pipe.components.textEncoder;
  const tokens = clip.config.max_position_embeddings;
  const clipSkip = options.clipSkip ?? 0;
  const graph = exportedGraph('text-encoder', { config: clip.config, tokens, clipSkip }, 'text-encoder.onnx', options, (path) => {
    exportTextEncoderOnnx(clip, { tokens, clipSkip, path });
  });
  const opened = await openExported('text encoder', graph, options);
  const { session } = opened;
  const hidden = clip.config.hidden_size;
  pipe.useTextEncoderRunner({
    clipSkip,
    run: (tokenEmbeddings, rows, length) => {
      if (length !== tokens) throw new DiffusionError('SHAPE_MISMATCH', `text encoder (onnx): ${length} tokens per prompt, exported for ${tokens}`);
      return session.run({ tokens: [tokenEmbeddings, [rows, tokens, hidden]] });
    },
    dispose: () => session.release(),
  });
  if (options.releaseTfjsWeights ?? true) {
    pipe.releaseTextEncoderWeights();
    await releaseFreedMemory();
  }
  return { exportSeconds: graph.exportSeconds, sessionSeconds: opened.sessionSeconds, cached: graph.cached };
}

/**
 * The identity of a checkpoint's files for cache keys: each file's resolved path, size and
 * modification time (a folder: every file in its unet/, vae/ and text_encoder/ subfolders).
 * Cheap (no hashing of gigabytes), and any rewrite of a weight file changes it.
 */
export function checkpointIdentity(path: string): string {
  const root = resolve(path);
  const files: string[] = [];
  if (statSync(root).isDirectory()) {
    for (const sub of ['unet', 'vae', 'text_encoder']) {
      const folder = join(root, sub);
      if (existsSync(folder)) for (const name of readdirSync(folder).sort()) files.push(join(folder, name));
    }
  } else {
    files.push(root);
  }
  return files
    .map((file) => {
      const st = statSync(file);
      return `${file}:${st.size}:${st.mtimeMs}`;
    })
    .join('\n');
}
