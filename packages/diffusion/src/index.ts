/**
 * @flashdiff/diffusion — browser-safe public API. Node-only helpers (backend selection, files,
 * PNG, datasets on disk, the CLI's runners) are exported from './node.ts'.
 */
export * from './errors.ts';
export * from './rng.ts';
export * from './schedule.ts';
export * from './schedulers/index.ts';
export type { Tensor, TensorEngine, Variable, Padding } from './tensor/engine.ts';
export { TfjsEngine } from './tensor/tfjs-engine.ts';
export * from './models/index.ts';
export * from './train/optimizer.ts';
export * from './train/trainer.ts';
export * from './sample.ts';
export * from './models/sd/autoencoder-kl.ts';
export * from './models/sd/clip-text-model.ts';
export * from './models/sd/unet-2d-condition.ts';
export * from './models/sd/weights.ts';
export { ModuleBuilder, type ModelInitOptions, type TorchLayout } from './models/sd/modules.ts';
export * from './pipelines/stable-diffusion.ts';
export * from './pipelines/from-checkpoint.ts';
export * from './tensor/layout.ts';
export * from './checkpoint/safetensors.ts';
export * from './checkpoint/checkpoint.ts';
export * from './checkpoint/tensor-source.ts';
export * from './checkpoint/sd-pipeline.ts';
export * from './checkpoint/single-file.ts';
export * from './data/dataset.ts';
export * from './data/npy.ts';
export * from './data/shapes.ts';
export * from './image/grid.ts';
export * from './eval/frechet.ts';
export * from './eval/classifier-train.ts';
export * from './eval/shapes-detector.ts';
export * from './onnx/index.ts';
export * from './text/index.ts';
