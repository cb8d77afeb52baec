import { DiffusionError } from '../errors.ts';
import type { ParameterStore } from '../models/parameters.ts';
import { type SafetensorsEntry, SAFETENSORS_DTYPE_BYTES, convertToFloat32, parseSafetensorsHeader, safetensorsHeaderLength } from './safetensors.ts';

/**
 * Where model weights come from, one tensor at a time, and how they go into a ParameterStore.
 * Browser-safe: the Node file reader (safetensors-file.ts) and the in-memory reader below both
 * implement TensorSource; single-file.ts renames one; loadParameters moves tensors into a model,
 * converting PyTorch layouts (conv OIHW, linear [out, in]) to ours (conv HWIO, dense [in, out]).
 * Upstream counterpart: torch's `load_state_dict(strict=True)` (missing / unexpected / size mismatch).
 */
export interface TensorInfo {
  shape: number[];
  dtype: string;
}

export interface TensorSource {
  /** For messages: the file (and component). */
  readonly source: string;
  names(): string[];
  info(name: string): TensorInfo | undefined;
  /** A fresh Float32Array in the stored (PyTorch, row-major) layout. */
  read(name: string): Float32Array;
  close(): void;
}

export const shapeText = (shape: readonly number[]): string => `[${shape.join(', ')}]`;
const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** A safetensors file already in memory (browser: bytes from fetch()); tensors convert on read. */
export class SafetensorsBytesSource implements TensorSource {
  readonly metadata: Record<string, string>;
  private readonly entries = new Map<string, SafetensorsEntry>();
  private readonly dataStart: number;
  private bytes: Uint8Array | undefined;

  constructor(
    bytes: Uint8Array,
    readonly source = 'safetensors',
  ) {
    const n = safetensorsHeaderLength(bytes, bytes.length, source);
    const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length, source);
    for (const e of header.entries) this.entries.set(e.name, e);
    this.dataStart = header.dataStart;
    this.metadata = header.metadata;
    this.bytes = bytes;
  }
  names(): string[] {
    return [...this.entries.keys()];
  }
  info(name: string): TensorInfo | undefined {
    const e = this.entries.get(name);
    return e && { shape: e.shape.slice(), dtype: e.dtype };
  }
  read(name: string): Float32Array {
    const e = this.entries.get(name);
    if (!e) throw new DiffusionError('INVALID_ARGUMENT', `${this.source}: no tensor "${name}"`);
    if (!this.bytes) throw new DiffusionError('INVALID_ARGUMENT', `${this.source}: read after close`);
    const out = new Float32Array((e.end - e.begin) / SAFETENSORS_DTYPE_BYTES[e.dtype]);
    convertToFloat32(this.bytes.subarray(this.dataStart + e.begin, this.dataStart + e.end), e.dtype, out, 0);
    return out;
  }
  close(): void {
    this.bytes = undefined;
  }
}

/** Turns the stored (PyTorch) tensor into our layout; `torchShape` is the stored shape. */
export type TensorConverter = (data: Float32Array, torchShape: readonly number[]) => Float32Array;

/** Same layout (biases, norms, embeddings): the data as read. */
export const identityLayout: TensorConverter = (data) => data;

/** Conv weight [out, in, kh, kw] (PyTorch OIHW) → [kh, kw, in, out] (ours, HWIO; see models/layers.ts Conv2d). */
export const conv2dOIHWtoHWIO: TensorConverter = (data, torchShape) => {
  const [o, i, kh, kw] = torchShape;
  return permuteConv(data, o, i, kh * kw, true);
};

/**
 * For each kernel position p, the [o, i] slice (stride kh·kw in OIHW) is transposed to [i, o]
 * (contiguous in HWIO), in 32×32 tiles so both sides stay in cache (a 1280×1280×3×3 conv is 59 MB).
 */
function permuteConv(data: Float32Array, o: number, i: number, hw: number, toHWIO: boolean): Float32Array {
  const out = new Float32Array(data.length);
  const tile = 32;
  for (let o0 = 0; o0 < o; o0 += tile) {
    const o1 = Math.min(o, o0 + tile);
    for (let i0 = 0; i0 < i; i0 += tile) {
      const i1 = Math.min(i, i0 + tile);
      for (let p = 0; p < hw; p++) {
        for (let ic = i0; ic < i1; ic++) {
          const hwio = (p * i + ic) * o;
          if (toHWIO) for (let oc = o0; oc < o1; oc++) out[hwio + oc] = data[(oc * i + ic) * hw + p];
          else for (let oc = o0; oc < o1; oc++) out[(oc * i + ic) * hw + p] = data[hwio + oc];
        }
      }
    }
  }
  return out;
}

/** Linear weight [out, in] (PyTorch) → [in, out] (ours, Dense: y = x·W). A blocked transpose. */
export const linearOutInToInOut: TensorConverter = (data, torchShape) => {
  const [rows, cols] = torchShape;
  const out = new Float32Array(data.length);
  const block = 64;
  for (let r0 = 0; r0 < rows; r0 += block) {
    const r1 = Math.min(rows, r0 + block);
    for (let c0 = 0; c0 < cols; c0 += block) {
      const c1 = Math.min(cols, c0 + block);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = data[r * cols + c];
    }
  }
  return out;
};

/** Conv weight [kh, kw, in, out] (ours) → [out, in, kh, kw] (PyTorch); `torchShape` is the result's shape. */
export const conv2dHWIOtoOIHW: TensorConverter = (data, torchShape) => {
  const [o, i, kh, kw] = torchShape;
  return permuteConv(data, o, i, kh * kw, false);
};

/** Linear weight [in, out] (ours) → [out, in] (PyTorch); `torchShape` is [out, in]. */
export const linearInOutToOutIn: TensorConverter = (data, torchShape) => linearOutInToInOut(data, [torchShape[1], torchShape[0]]);

/** One model parameter and the stored tensor it comes from. */
export interface ParameterMapping {
  /** Our parameter's name in the ParameterStore. */
  name: string;
  /** The tensor's name in the source (after any renaming the source does, e.g. single-file → diffusers). */
  sourceName: string;
  /** The shape the source must store it in (PyTorch's). */
  torchShape: number[];
  /** Stored layout → ours. */
  convert: TensorConverter;
  /** Ours → stored layout (for saving); identity when absent. */
  toTorch?: TensorConverter;
}

/** A conv parameter stored OIHW whose store shape is [kh, kw, in, out]. */
export function conv2dMapping(name: string, ourShape: readonly number[], sourceName = name): ParameterMapping {
  const [kh, kw, i, o] = ourShape;
  return { name, sourceName, torchShape: [o, i, kh, kw], convert: conv2dOIHWtoHWIO, toTorch: conv2dHWIOtoOIHW };
}

/** A linear weight stored [out, in] whose store shape is [in, out]. */
export function linearMapping(name: string, ourShape: readonly number[], sourceName = name): ParameterMapping {
  return { name, sourceName, torchShape: [ourShape[1], ourShape[0]], convert: linearOutInToInOut, toTorch: linearInOutToOutIn };
}

/** A parameter stored exactly as we hold it. */
export function identityMapping(name: string, ourShape: readonly number[], sourceName = name): ParameterMapping {
  return { name, sourceName, torchShape: ourShape.slice(), convert: identityLayout, toTorch: identityLayout };
}

/** The mapping for a parameter whose PyTorch layout is known ('conv' | 'linear' | 'plain'). */
export function layoutMapping(layout: 'conv' | 'linear' | 'plain', name: string, ourShape: readonly number[], sourceName = name): ParameterMapping {
  return layout === 'conv' ? conv2dMapping(name, ourShape, sourceName) : layout === 'linear' ? linearMapping(name, ourShape, sourceName) : identityMapping(name, ourShape, sourceName);
}

/**
 * A mapping for every parameter of `store` from each one's PyTorch layout (e.g. the models'
 * ModuleBuilder.layouts); `sourceName` renames (default: the same name). A parameter with no
 * layout is the caller's bug: INVALID_ARGUMENT.
 */
export function mappingFromLayouts(
  store: ParameterStore,
  layouts: ReadonlyMap<string, 'conv' | 'linear' | 'plain'>,
  sourceName: (name: string) => string = (name) => name,
): ParameterMapping[] {
  return store.names('all').map((name) => {
    const layout = layouts.get(name);
    if (!layout) throw new DiffusionError('INVALID_ARGUMENT', `mappingFromLayouts: no PyTorch layout recorded for "${name}"`);
    return layoutMapping(layout, name, store.shapeOf(name), sourceName(name));
  });
}

/**
 * The store's parameters as tensors to write in PyTorch layout under their source names, each
 * read and converted only when the writer asks for it (pass to writeSafetensorsFile).
 */
export function torchTensorsFromStore(store: ParameterStore, mapping: readonly ParameterMapping[]): Array<{ name: string; shape: number[]; data: () => Float32Array }> {
  return mapping.map((m) => ({
    name: m.sourceName,
    shape: m.torchShape.slice(),
    data: () => (m.toTorch ?? identityLayout)(store.engine.readSync(store.get(m.name)), m.torchShape),
  }));
}

export interface LoadParametersOptions {
  /** Source tensors to skip silently (e.g. position_ids buffers); any other unmapped tensor is an error. */
  ignore?: (sourceName: string) => boolean;
  /** Called after each tensor is in the model (progress). */
  onTensor?: (done: number, total: number, name: string) => void;
}

const MAX_LISTED = 8;

/**
 * Load `source` into `store` through `mapping`, strictly: every store parameter must be mapped,
 * every mapped tensor present with exactly its `torchShape`, and no source tensor left unused
 * (unless `ignore`d). All of that is checked from the headers before any data is read, so a wrong
 * checkpoint changes nothing; the problems (up to 8 listed) go into one CHECKPOINT_CORRUPT message
 * naming each tensor and both shapes. Then tensors are read, converted and assigned one at a time,
 * so at most one tensor's extra copies exist besides the model.
 */
export function loadParameters(store: ParameterStore, source: TensorSource, mapping: readonly ParameterMapping[], options: LoadParametersOptions = {}): void {
  const byName = new Map<string, ParameterMapping>();
  const sourceNames = new Set<string>();
  for (const m of mapping) {
    if (byName.has(m.name)) throw new DiffusionError('INVALID_ARGUMENT', `loadParameters: parameter "${m.name}" mapped twice`);
    if (sourceNames.has(m.sourceName)) throw new DiffusionError('INVALID_ARGUMENT', `loadParameters: source tensor "${m.sourceName}" mapped twice`);
    byName.set(m.name, m);
    sourceNames.add(m.sourceName);
  }
  const storeNames = store.names('all');
  const storeSet = new Set(storeNames);
  for (const m of mapping) {
    if (!storeSet.has(m.name)) throw new DiffusionError('INVALID_ARGUMENT', `loadParameters: the model has no parameter "${m.name}"`);
  }
  const unmapped = storeNames.filter((n) => !byName.has(n));
  if (unmapped.length > 0) {
    throw new DiffusionError('INVALID_ARGUMENT', `loadParameters: ${unmapped.length} model parameter(s) have no mapping, e.g. "${unmapped[0]}"`);
  }

  // A renamed source (single-file → diffusers) can say what the file calls a tensor.
  const original = (source as { originalName?: (name: string) => string | undefined }).originalName?.bind(source);
  const stored = (name: string): string => {
    const from = original?.(name);
    return from && from !== name ? ` (stored as "${from}")` : '';
  };
  const problems: string[] = [];
  for (const m of mapping) {
    const info = source.info(m.sourceName);
    const ours = store.shapeOf(m.name);
    if (!info) {
      problems.push(`missing tensor "${m.sourceName}" (the model expects ${shapeText(m.torchShape)}${m.sourceName === m.name ? '' : ` for "${m.name}"`})`);
    } else if (!sameShape(info.shape, m.torchShape)) {
      problems.push(`tensor "${m.sourceName}"${stored(m.sourceName)} has shape ${shapeText(info.shape)} in the file, the model expects ${shapeText(m.torchShape)}`);
    } else if (ours.reduce((a, b) => a * b, 1) !== m.torchShape.reduce((a, b) => a * b, 1)) {
      throw new DiffusionError('INVALID_ARGUMENT', `loadParameters: "${m.name}" ${shapeText(ours)} cannot hold torch shape ${shapeText(m.torchShape)}`);
    }
  }
  for (const name of source.names()) {
    if (!sourceNames.has(name) && !options.ignore?.(name)) {
      problems.push(`unexpected tensor "${name}"${stored(name)} ${shapeText(source.info(name)?.shape ?? [])} (the model has no parameter for it)`);
    }
  }
  if (problems.length > 0) {
    const listed = problems.slice(0, MAX_LISTED).join('; ');
    const more = problems.length > MAX_LISTED ? `; and ${problems.length - MAX_LISTED} more` : '';
    throw new DiffusionError('CHECKPOINT_CORRUPT', `${source.source}: ${problems.length === 1 ? '' : `${problems.length} problems: `}${listed}${more}`);
  }

  const engine = store.engine;
  let done = 0;
  for (const m of mapping) {
    const converted = m.convert(source.read(m.sourceName), m.torchShape);
    const tensor = engine.tensor(converted, store.shapeOf(m.name));
    store.get(m.name).assign(tensor);
    tensor.dispose();
    options.onTensor?.(++done, mapping.length, m.name);
  }
}
