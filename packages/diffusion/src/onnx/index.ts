/**
 * The ONNX export (browser-safe: it only builds bytes). The onnxruntime-node runner is Node-only and
 * lives in ./ort-node.ts.
 */
export { ONNX_IR_VERSION, ONNX_OPSET, type OnnxExportOptions, exportOnnx } from './export.ts';
export { GraphTensor, OnnxGraphEngine, type OnnxGraphEngineOptions, TRACE_BATCH } from './graph-engine.ts';
export { type OnnxGraph, type OnnxInitializer, type OnnxModel, type OnnxNode, type OnnxValueInfo, encodeModel } from './onnx-proto.ts';
export { ProtoWriter } from './protobuf.ts';
