/**
 * Node-only: Stable Diffusion's UNet on onnxruntime-node — the sampling route for speed. The UNet
 * is exported once per latent size (export-sd.ts) into a folder, an ORT session opens it, and the
 * pipeline's UNet calls go to the session (`StableDiffusionPipeline.useUNetRunner`). The text
 * encoder and the VAE decoder go the same way. With `releaseTfjsWeights` (the default), each tfjs copy
 * is freed once its session holds its own (the UNet's before the session reads its file), so the
 * weights are in memory once; the VAE encoder (img2img) and CLIP's token table stay on tfjs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiffusionError } from '../errors.ts';
import type { StableDiffusionPipeline, UNetRunner } from '../pipelines/stable-diffusion.ts';
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
 * `memoryArena: false` (the default) turns off ORT's CPU arena: an arena keeps its high-water mark
 * for the session's life, so the UNet's, the VAE decoder's and the text encoder's peaks would add
 * up; without it each run's intermediates are freed when the run ends.
 */
export async function openOnnxSession(modelPath: string, threads = availableParallelism(), options: { memoryArena?: boolean } = {}): Promise<HostSession> {
  const ort = (await loadOnnxRuntime()) as unknown as OrtWithPath;
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: options.memoryArena ?? false,
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

export interface OnnxUNetOptions {
  /** Latent size the session serves (image size / the VAE factor). */
  height: number;
  width: number;
  /** Folder for the exported model (default: a temporary folder removed on dispose). */
  directory?: string;
  threads?: number;
  /** Free the tfjs UNet weights before the session reads its own (default true). */
  releaseTfjsWeights?: boolean;
  /** Keep ORT's CPU memory arena (default false: see openOnnxSession). */
  memoryArena?: boolean;
}

/** Options of the VAE decoder's and the text encoder's sessions. */
export interface OnnxComponentOptions {
  threads?: number;
  /** Free the tfjs weights this session replaces once it is open (default true). */
  releaseTfjsWeights?: boolean;
  memoryArena?: boolean;
}

/** Export the pipeline's UNet, open an ORT session on it and route the pipeline's UNet calls there. */
export async function useOnnxUNet(pipe: StableDiffusionPipeline, options: OnnxUNetOptions): Promise<{ exportSeconds: number; sessionSeconds: number; dataBytes: number }> {
  const unet = pipe.components.unet;
  const owned = options.directory === undefined;
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 'flashdiff-unet-onnx-'));
  const tokens = pipe.components.textEncoder.config.max_position_embeddings;
  let t0 = performance.now();
  const exported = exportUNetOnnx(unet, { height: options.height, width: options.width, tokens, path: join(directory, `unet-${options.height}x${options.width}.onnx`) });
  const exportSeconds = (performance.now() - t0) / 1000;
  // Free the tfjs weights before ORT reads its own copy, so the weights are never in memory twice.
  const release = options.releaseTfjsWeights ?? true;
  if (release) pipe.releaseUNetWeights();
  t0 = performance.now();
  let session: HostSession;
  try {
    session = await openOnnxSession(exported.modelPath, options.threads, options);
  } catch (err) {
    if (owned) rmSync(directory, { recursive: true, force: true });
    const state = release ? '; the pipeline has no UNet left: load it again' : '';
    throw new DiffusionError('BACKEND_UNAVAILABLE', `onnxruntime could not open the exported UNet (${(err as Error).message.split('\n')[0]})${state}`);
  }
  const sessionSeconds = (performance.now() - t0) / 1000;
  // ORT has read the weights into its own buffers: the files are no longer needed.
  if (owned) rmSync(directory, { recursive: true, force: true });
  const { in_channels: channels, block_out_channels: blocks, cross_attention_dim: dim } = unet.config;
  const runner: UNetRunner = {
    height: options.height,
    width: options.width,
    run: (latents, rows, timestepEmbedding, context) =>
      session.run({
        x: [latents, [rows, options.height, options.width, channels]],
        temb: [timestepEmbedding, [rows, blocks[0]]],
        context: [context, [rows, tokens, dim]],
      }),
    dispose: () => session.release(),
  };
  pipe.useUNetRunner(runner);
  return { exportSeconds, sessionSeconds, dataBytes: exported.dataBytes };
}

/**
 * Export the pipeline's VAE decoder for one latent size, open an ORT session on it and route the
 * pipeline's decodes there (the tfjs VAE stays: img2img's encoder and other sizes use it).
 */
export async function useOnnxVaeDecoder(pipe: StableDiffusionPipeline, options: OnnxComponentOptions & { height: number; width: number }): Promise<{ exportSeconds: number; sessionSeconds: number }> {
  const directory = mkdtempSync(join(tmpdir(), 'flashdiff-vae-onnx-'));
  try {
    let t0 = performance.now();
    const exported = exportVaeDecoderOnnx(pipe.components.vae, { height: options.height, width: options.width, path: join(directory, 'vae-decoder.onnx') });
    const exportSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    let session: HostSession;
    try {
      session = await openOnnxSession(exported.modelPath, options.threads, options);
    } catch (err) {
      throw new DiffusionError('BACKEND_UNAVAILABLE', `onnxruntime could not open the exported VAE decoder (${(err as Error).message.split('\n')[0]})`);
    }
    const sessionSeconds = (performance.now() - t0) / 1000;
    const channels = pipe.components.vae.config.latent_channels;
    pipe.useVaeDecoderRunner({
      height: options.height,
      width: options.width,
      run: (latents, rows) => session.run({ z: [latents, [rows, options.height, options.width, channels]] }),
      dispose: () => session.release(),
    });
    if (options.releaseTfjsWeights ?? true) pipe.releaseVaeDecoderWeights();
    return { exportSeconds, sessionSeconds };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Export the text encoder (for one clip skip), open an ORT session on it and route the pipeline's text encoding there. */
export async function useOnnxTextEncoder(pipe: StableDiffusionPipeline, options: OnnxComponentOptions & { clipSkip?: number } = {}): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'flashdiff-clip-onnx-'));
  try {
    const clip = pipe.components.textEncoder;
    const tokens = clip.config.max_position_embeddings;
    const clipSkip = options.clipSkip ?? 0;
    const exported = exportTextEncoderOnnx(clip, { tokens, clipSkip, path: join(directory, 'text-encoder.onnx') });
    let session: HostSession;
    try {
      session = await openOnnxSession(exported.modelPath, options.threads, options);
    } catch (err) {
      throw new DiffusionError('BACKEND_UNAVAILABLE', `onnxruntime could not open the exported text encoder (${(err as Error).message.split('\n')[0]})`);
    }
    const hidden = clip.config.hidden_size;
    pipe.useTextEncoderRunner({
      clipSkip,
      run: (tokenEmbeddings, rows, length) => {
        if (length !== tokens) throw new DiffusionError('SHAPE_MISMATCH', `text encoder (onnx): ${length} tokens per prompt, exported for ${tokens}`);
        return session.run({ tokens: [tokenEmbeddings, [rows, tokens, hidden]] });
      },
      dispose: () => session.release(),
    });
    if (options.releaseTfjsWeights ?? true) pipe.releaseTextEncoderWeights();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
