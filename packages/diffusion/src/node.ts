/** Node-only API: backend initialisation, checkpoint files, datasets on disk, PNG, training/eval/bench runners. */
export * from './backend-node.ts';
export * from './checkpoint/checkpoint-node.ts';
export * from './checkpoint/safetensors-file.ts';
export * from './checkpoint/diffusers-folder.ts';
export * from './data/load-node.ts';
export * from './data/mnist.ts';
export * from './image/png-node.ts';
export * from './node/train-run.ts';
export * from './node/evaluate.ts';
export * from './node/bench.ts';
export * from './node/shipped-model.ts';
export * from './onnx/ort-node.ts';
export * from './text/clip-tokenizer-node.ts';
