/**
 * Weights in and out of the Stable Diffusion models, by PyTorch state-dict name. Each model's
 * ModuleBuilder knows every parameter's PyTorch layout, so the mapping to a file is derived, not
 * listed: conv [kh, kw, in, out] ↔ [out, in, kh, kw], linear [in, out] ↔ [out, in], the rest as is.
 * Loading is strict and streaming (checkpoint/tensor-source.ts `loadParameters`: missing, unexpected
 * and mis-shaped tensors named with both shapes; one tensor in flight); saving writes PyTorch
 * layouts, so a diffusers `from_pretrained` reads what this package trained.
 */
import {
  type LoadParametersOptions,
  type ParameterMapping,
  type TensorSource,
  conv2dMapping,
  identityMapping,
  linearMapping,
  loadParameters,
} from '../../checkpoint/tensor-source.ts';
import type { ModuleBuilder } from './modules.ts';

export interface SdModel {
  readonly builder: ModuleBuilder;
}

/** Every parameter of the model with the source tensor it comes from (the same name). */
export function parameterMappings(builder: ModuleBuilder): ParameterMapping[] {
  return builder.store.names('all').map((name) => {
    const shape = builder.store.shapeOf(name);
    const layout = builder.layouts.get(name) ?? 'plain';
    if (layout === 'conv') return conv2dMapping(name, shape);
    if (layout === 'linear') return linearMapping(name, shape);
    return identityMapping(name, shape);
  });
}

/**
 * Transformers' CLIP checkpoints may carry the `position_ids` buffer (0…L−1); it is not a parameter.
 */
const ALWAYS_IGNORED = /(^|\.)position_ids$/;

export function loadModelWeights(model: SdModel, source: TensorSource, options: LoadParametersOptions = {}): void {
  const ignore = options.ignore;
  loadParameters(model.builder.store, source, parameterMappings(model.builder), {
    ...options,
    ignore: (name) => ALWAYS_IGNORED.test(name) || (ignore?.(name) ?? false),
  });
}

export interface TorchTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The model's parameters in PyTorch layouts, one at a time (for a streaming safetensors writer). */
export function* torchStateDict(model: SdModel): Generator<TorchTensor> {
  const { store, layouts } = model.builder;
  for (const name of store.names('all')) {
    const shape = store.shapeOf(name);
    const data = store.engine.readSync(store.get(name));
    const layout = layouts.get(name) ?? 'plain';
    if (layout === 'conv') {
      const [kh, kw, i, o] = shape;
      const out = new Float32Array(data.length);
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let ic = 0; ic < i; ic++) for (let oc = 0; oc < o; oc++) out[((oc * i + ic) * kh + y) * kw + x] = data[((y * kw + x) * i + ic) * o + oc];
      yield { name, shape: [o, i, kh, kw], data: out };
    } else if (layout === 'linear') {
      const [rows, cols] = shape;
      const out = new Float32Array(data.length);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
      yield { name, shape: [cols, rows], data: out };
    } else yield { name, shape: shape.slice(), data: data.slice() };
  }
}
