import { type DiffusionModel, contextSizeOf, createModel, imageShapeOf } from '../models/index.ts';
import { OnnxGraphEngine, TRACE_BATCH } from './graph-engine.ts';
import { encodeModel } from './onnx-proto.ts';

/**
 * Export a noise-prediction model to ONNX by tracing its own `forward` (eval mode) on an
 * OnnxGraphEngine: no second definition of the architecture exists anywhere.
 *
 * Graph interface (batch N is symbolic):
 *   x        float [N, H, W, C]   the noisy images, NHWC like the seam
 *   t        float [N]            integer timesteps as floats
 *   context  float [N, classes]   class weights (zeros = the null context); absent when the model has no classes
 *   eps      float [N, H, W, C]   the predicted noise ε̂
 */
export const ONNX_OPSET = 17;
/** IR version 8 is the one that goes with opset 17 (onnx/onnx docs/Versioning.md). */
export const ONNX_IR_VERSION = 8;

export interface OnnxExportOptions {
  /** Carry NCHW through the graph (default) or wrap each convolution in transposes (for comparison). */
  carryLayout?: boolean;
  /** Free text stored in the model's doc_string (e.g. the checkpoint path and step). */
  docString?: string;
}

export function exportOnnx(model: DiffusionModel, options: OnnxExportOptions = {}): Uint8Array {
  const engine = new OnnxGraphEngine({ carryLayout: options.carryLayout ?? true });
  // The same model code, built on the tracing engine, with the trained weights (and BatchNorm statistics) copied in.
  const traced = createModel(engine, model.config, 0);
  traced.params.importValues(model.params.exportValues(), 'onnx export');
  const { height, width, channels } = imageShapeOf(model.config);
  const contextSize = contextSizeOf(model.config);
  const x = engine.input('x', [TRACE_BATCH, height, width, channels]);
  const t = engine.input('t', [TRACE_BATCH]);
  const context = engine.input('context', [TRACE_BATCH, contextSize]);
  engine.output('eps', traced.forward(engine, x, t, context, { training: false }));
  return encodeModel({
    irVersion: ONNX_IR_VERSION,
    opsetVersion: ONNX_OPSET,
    producerName: '@flashdiff/diffusion',
    producerVersion: '0.1.0',
    graph: engine.graph(model.config.kind),
    ...(options.docString ? { docString: options.docString } : {}),
  });
}
