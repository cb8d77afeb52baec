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
  loadParameters,
  mappingFromLayouts,
  torchTensorsFromStore,
} from '../../checkpoint/tensor-source.ts';
import type { ModuleBuilder } from './modules.ts';

export interface SdModel {
  readonly builder: ModuleBuilder;
}

/** Every parameter of the model with the source tensor it comes from (the same name). */
export function parameterMappings(builder: ModuleBuilder): ParameterMapping[] {
  return mappingFromLayouts(builder.store, builder.layouts);
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
  for (const t of torchTensorsFromStore(model.builder.store, parameterMappings(model.builder))) yield { name: t.name, shape: t.shape, data: t.data() };
}
