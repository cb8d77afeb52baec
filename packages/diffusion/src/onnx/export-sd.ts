/**
 * Node-only: the Stable Diffusion UNet (its own `forwardEmbedded`) and VAE decoder exported to
 * ONNX by tracing them on the OnnxGraphEngine (the one model definition; see export.ts for the
 * ContextUnet's), for the sampling route on onnxruntime-node.
 *
 * Graph interface (batch N symbolic, the latent size fixed at export):
 *   x        float [N, h, w, in_channels]          latents, NHWC like the seam
 *   temb     float [N, block_out_channels[0]]       the sinusoidal timestep embedding (timestepEmbedding)
 *   context  float [N, tokens, cross_attention_dim] text embeddings
 *   eps      float [N, h, w, out_channels]
 *
 * Weights go to an external data file beside the model (ONNX's external data: SD-1.5's 3.4 GB is past
 * protobuf's 2 GB limit), written one initializer at a time. The traced model aliases the tfjs
 * weights (no copy); only convolution filters are re-laid out (HWIO → OIHW) on the way.
 */
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ensureDirectory } from '@flashdiff/cli-kit';
import type { ParameterStore } from '../models/parameters.ts';
import { AutoencoderKL } from '../models/sd/autoencoder-kl.ts';
import { ClipTextModel } from '../models/sd/clip-text-model.ts';
import { UNet2DConditionModel } from '../models/sd/unet-2d-condition.ts';
import { Random } from '../rng.ts';
import { ONNX_IR_VERSION, ONNX_OPSET } from './export.ts';
import { type GraphTensor, OnnxGraphEngine, TRACE_BATCH } from './graph-engine.ts';
import { encodeModel } from './onnx-proto.ts';

export interface UNetOnnxExportOptions {
  /** Latent height and width (image size / 8 for SD). */
  height: number;
  width: number;
  /** Text tokens per prompt (77 for CLIP). */
  tokens: number;
  /** The .onnx file to write; the weights go to `<path>.data`. */
  path: string;
}

export interface UNetOnnxExport {
  modelPath: string;
  dataPath: string;
  /** Bytes of weights written to the data file. */
  dataBytes: number;
  nodes: number;
}

/** Trace `build` on a value-aliasing graph engine and write the model with its weights as external data. */
function exportTraced(name: string, path: string, build: (engine: OnnxGraphEngine) => void): UNetOnnxExport {
  const engine = new OnnxGraphEngine({ aliasValues: true });
  build(engine);
  const graph = engine.graph(name);
  ensureDirectory(dirname(path));
  const dataPath = `${path}.data`;
  const temporaryData = `${dataPath}.tmp-${process.pid}`;
  const fd = openSync(temporaryData, 'w');
  let offset = 0;
  try {
    for (const t of graph.initializers) {
      const elements = t.dims.reduce((x, y) => x * y, 1);
      if (elements < 256) continue; // small constants (shapes, scalars) stay inline
      // A lazily re-laid-out filter is made here, written, and dropped.
      const data = typeof t.data === 'function' ? t.data() : t.data;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
      t.external = { location: basename(dataPath), offset, length: bytes.length };
      offset += bytes.length;
      // Keep offsets 64-byte aligned (ORT may map the file).
      offset = Math.ceil(offset / 64) * 64;
    }
  } finally {
    closeSync(fd);
  }
  const model = encodeModel({ irVersion: ONNX_IR_VERSION, opsetVersion: ONNX_OPSET, producerName: '@flashdiff/diffusion', producerVersion: '0.1.0', graph });
  const temporaryModel = `${path}.tmp-${process.pid}`;
  const mfd = openSync(temporaryModel, 'w');
  try {
    for (let done = 0; done < model.length; ) done += writeSync(mfd, model, done, model.length - done);
  } finally {
    closeSync(mfd);
  }
  renameSync(temporaryData, dataPath);
  renameSync(temporaryModel, path);
  return { modelPath: path, dataPath, dataBytes: offset, nodes: graph.nodes.length };
}

/** Every parameter of `traced` aliases the trained array of the same name in `source` (no copy). */
function aliasWeights(traced: ParameterStore, source: ParameterStore): void {
  for (const name of traced.names()) (traced.get(name) as unknown as GraphTensor).value = source.engine.readSync(source.get(name));
}

export function exportUNetOnnx(unet: UNet2DConditionModel, options: UNetOnnxExportOptions): UNetOnnxExport {
  return exportTraced('unet2d_condition', options.path, (engine) => {
    // Zero-initialised (untouched pages cost no memory), then every parameter aliases the trained array.
    const traced = new UNet2DConditionModel(engine, new Random(0), unet.config, { initialise: false });
    aliasWeights(traced.params, unet.params);
    const c = unet.config;
    const x = engine.input('x', [TRACE_BATCH, options.height, options.width, c.in_channels]);
    const temb = engine.input('temb', [TRACE_BATCH, c.block_out_channels[0]]);
    const context = engine.input('context', [TRACE_BATCH, options.tokens, c.cross_attention_dim]);
    engine.output('eps', traced.forwardEmbedded(engine, x, temb, context));
  });
}

/**
 * The VAE's decoder path (post_quant_conv + decoder), latent [N, h, w, c] (unscaled) → image
 * [N, h·f, w·f, 3] in about [−1, 1].
 */
export function exportVaeDecoderOnnx(vae: AutoencoderKL, options: { height: number; width: number; path: string }): UNetOnnxExport {
  return exportTraced('vae_decoder', options.path, (engine) => {
    const traced = new AutoencoderKL(engine, new Random(0), vae.config, { initialise: false });
    aliasWeights(traced.params, vae.params);
    const z = engine.input('z', [TRACE_BATCH, options.height, options.width, vae.config.latent_channels]);
    engine.output('image', traced.decode(engine, z));
  });
}

/** The CLIP text encoder from token embeddings [N, tokens, hidden] to the hidden state the UNet attends to. */
export function exportTextEncoderOnnx(clip: ClipTextModel, options: { tokens: number; clipSkip: number; path: string }): UNetOnnxExport {
  return exportTraced('clip_text_encoder', options.path, (engine) => {
    const traced = new ClipTextModel(engine, new Random(0), clip.config, { initialise: false });
    aliasWeights(traced.params, clip.params);
    const tokens = engine.input('tokens', [TRACE_BATCH, options.tokens, clip.config.hidden_size]);
    engine.output('hidden_state', traced.hiddenStateFromTokenEmbeddings(engine, tokens, options.clipSkip));
  });
}
