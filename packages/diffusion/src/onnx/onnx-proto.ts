import { ProtoWriter } from './protobuf.ts';

/**
 * Plain-data ONNX structures and their protobuf encoding. Field numbers are those of onnx/onnx.proto
 * (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto,
 * TensorShapeProto, OperatorSetIdProto); each encoder writes its fields in ascending field-number order.
 */

/** TensorProto.DataType values used here. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

export type OnnxAttribute =
  | { name: string; kind: 'float'; value: number }
  | { name: string; kind: 'int'; value: number }
  | { name: string; kind: 'string'; value: string }
  | { name: string; kind: 'floats'; value: number[] }
  | { name: string; kind: 'ints'; value: number[] };

/** AttributeProto.AttributeType. */
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: OnnxAttribute[];
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  /**
   * FLOAT data as Float32Array, INT64 data as BigInt64Array; both go into raw_data (little-endian).
   * A function makes FLOAT data when it is written (and it is dropped after).
   */
  data: Float32Array | BigInt64Array | (() => Float32Array);
  /**
   * Stored outside the model (ONNX's external data, needed past protobuf's 2 GB limit): the bytes
   * are at `offset`, `length` long, in the file `location` beside the model; `data` is not written.
   */
  external?: { location: string; offset: number; length: number };
}

/** A graph input or output: float tensor whose dims are numbers or symbolic names ("N"). */
export interface OnnxValueInfo {
  name: string;
  elemType: number;
  dims: Array<number | string>;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  opsetVersion: number;
  producerName: string;
  producerVersion: string;
  graph: OnnxGraph;
  docString?: string;
}

function encodeAttribute(a: OnnxAttribute): ProtoWriter {
  // AttributeProto: name = 1, f = 2, i = 3, s = 4, floats = 7, ints = 8, type = 20.
  const w = new ProtoWriter().string(1, a.name);
  switch (a.kind) {
    case 'float':
      w.float32(2, a.value);
      break;
    case 'int':
      w.varint(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'floats':
      for (const v of a.value) w.float32(7, v);
      break;
    case 'ints':
      for (const v of a.value) w.varint(8, v);
      break;
  }
  return w.varint(20, ATTRIBUTE_TYPE[a.kind]);
}

export function encodeNode(n: OnnxNode): ProtoWriter {
  // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5.
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, encodeAttribute(a));
  return w;
}

export function encodeInitializer(t: OnnxInitializer): ProtoWriter {
  // TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9 (fixed-width little-endian values).
  const w = new ProtoWriter();
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, t.data instanceof BigInt64Array ? ONNX_INT64 : ONNX_FLOAT);
  w.string(8, t.name);
  if (t.external) {
    // external_data = 13 (StringStringEntryProto: key = 1, value = 2), data_location = 14 (EXTERNAL = 1).
    for (const [key, value] of [['location', t.external.location], ['offset', String(t.external.offset)], ['length', String(t.external.length)]]) {
      w.message(13, new ProtoWriter().string(1, key).string(2, value));
    }
    return w.varint(14, 1);
  }
  // Typed arrays are little-endian on every platform Node runs on (x64, arm64).
  const data = typeof t.data === 'function' ? t.data() : t.data;
  w.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return w;
}

export function encodeValueInfo(v: OnnxValueInfo): ProtoWriter {
  // TensorShapeProto.Dimension: dim_value = 1, dim_param = 2; TensorShapeProto: dim = 1.
  const shape = new ProtoWriter();
  for (const d of v.dims) shape.message(1, typeof d === 'number' ? new ProtoWriter().varint(1, d) : new ProtoWriter().string(2, d));
  // TypeProto.Tensor: elem_type = 1, shape = 2; TypeProto: tensor_type = 1; ValueInfoProto: name = 1, type = 2.
  const tensorType = new ProtoWriter().varint(1, v.elemType).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

export function encodeGraph(g: OnnxGraph): ProtoWriter {
  // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, encodeInitializer(t));
  for (const i of g.inputs) w.message(11, encodeValueInfo(i));
  for (const o of g.outputs) w.message(12, encodeValueInfo(o));
  return w;
}

/** ModelProto bytes: ir_version = 1, producer_name = 2, producer_version = 3, doc_string = 6, graph = 7, opset_import = 8. */
export function encodeModel(m: OnnxModel): Uint8Array {
  const w = new ProtoWriter().varint(1, m.irVersion).string(2, m.producerName).string(3, m.producerVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, encodeGraph(m.graph));
  // OperatorSetIdProto: domain = 1 (empty = the default ai.onnx domain, so left out), version = 2.
  w.message(8, new ProtoWriter().varint(2, m.opsetVersion));
  return w.finish();
}
