// Typed-array tables laid out in one buffer, and the growable WebAssembly memory they can live in.
//
// The metadata-only fast device keeps its per-page and per-block state in a TableMemory so that
// WebAssembly code (a kernel over that memory) and the TypeScript code (typed-array views) work
// on the same bytes. The memory is shared (SharedArrayBuffer-backed): growing it leaves every
// existing view valid, so a consumer (the SSD FTL) can append its own tables after the device's.
// Where shared WebAssembly memory is unavailable (a browser page that is not cross-origin
// isolated), TableMemory.create() returns null and the tables go into plain ArrayBuffers.

import { kernelUnavailable } from './kernel-module.ts';
export type TableView = Int32Array | Uint32Array | Uint8Array | Float64Array;

/** One table: element size, length and initial value. */
export interface TableSpec<V extends TableView> {
  readonly bytesPerElement: number;
  readonly length: number;
  readonly fill: number;
  readonly create: (buffer: ArrayBufferLike, offset: number, length: number) => V;
}

export const int32Table = (length: number, fill = 0): TableSpec<Int32Array> => ({ bytesPerElement: 4, length, fill, create: (b, o, n) => new Int32Array(b, o, n) });
export const uint32Table = (length: number, fill = 0): TableSpec<Uint32Array> => ({ bytesPerElement: 4, length, fill, create: (b, o, n) => new Uint32Array(b, o, n) });
export const uint8Table = (length: number, fill = 0): TableSpec<Uint8Array> => ({ bytesPerElement: 1, length, fill, create: (b, o, n) => new Uint8Array(b, o, n) });
export const float64Table = (length: number, fill = 0): TableSpec<Float64Array> => ({ bytesPerElement: 8, length, fill, create: (b, o, n) => new Float64Array(b, o, n) });

export type TableSpecs = Record<string, TableSpec<TableView>>;
export type Tables<S extends TableSpecs> = { readonly [K in keyof S]: S[K] extends TableSpec<infer V> ? V : never };

export interface TableBlock<S extends TableSpecs> {
  readonly views: Tables<S>;
  /** Byte offset of each table in its buffer (the address a kernel uses). */
  readonly offsets: { readonly [K in keyof S]: number };
  /** Bytes the tables take (each rounded up to 8). */
  readonly bytes: number;
}

const WASM_PAGE = 65536;
/**
 * Largest memory a TableMemory grows to: 4 GiB, all a 32-bit WebAssembly memory can address (V8
 * allows 65536 pages). The kernels hold every address as a usize (u32) and index with unsigned
 * arithmetic, so tables past 2 GiB work; JavaScript views take any byte offset below 2³².
 */
export const TABLE_MEMORY_MAX_BYTES = 65536 * 65536;
const MAX_PAGES = TABLE_MEMORY_MAX_BYTES / 65536;

function layout(spec: TableSpecs, start: number): { offsets: Record<string, number>; end: number } {
  const offsets: Record<string, number> = {};
  let end = start;
  for (const [name, table] of Object.entries(spec)) {
    offsets[name] = end;
    end += Math.ceil((table.length * table.bytesPerElement) / 8) * 8;
  }
  return { offsets, end };
}

function createViews<S extends TableSpecs>(spec: S, buffer: ArrayBufferLike, offsets: Record<string, number>): Tables<S> {
  const views: Record<string, TableView> = {};
  for (const [name, table] of Object.entries(spec)) {
    const view = table.create(buffer, offsets[name]!, table.length);
    if (table.fill !== 0) view.fill(table.fill);
    views[name] = view;
  }
  return views as Tables<S>;
}

/**
 * A shared, growable WebAssembly.Memory that tables are appended to. Address 0 … 63 stays
 * unused, so no table starts at 0.
 */
export class TableMemory {
  readonly memory: WebAssembly.Memory;
  private used = 64;

  private constructor(memory: WebAssembly.Memory) {
    this.memory = memory;
  }

  /** A new, empty table memory; null where shared WebAssembly memory is unavailable. */
  static create(): TableMemory | null {
    if (typeof WebAssembly !== 'object' || typeof SharedArrayBuffer !== 'function') return kernelUnavailable('table memory', 'no shared WebAssembly memory here');
    try {
      return new TableMemory(new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true }));
    } catch (e) {
      return kernelUnavailable('table memory', e);
    }
  }

  /** Bytes handed out so far. */
  get usedBytes(): number {
    return this.used;
  }

  /**
   * Appends the tables (growing the memory as needed; existing views stay valid). Throws a
   * RangeError when they would take the memory past its 4 GiB limit.
   */
  allocate<S extends TableSpecs>(spec: S): TableBlock<S> {
    const { offsets, end } = layout(spec, this.used);
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / WASM_PAGE);
      if (have / WASM_PAGE + pages > MAX_PAGES) throw new RangeError(`tables of ${end - this.used} bytes do not fit in the 4 GiB table memory`);
      this.memory.grow(pages);
    }
    const views = createViews(spec, this.memory.buffer, offsets);
    const bytes = end - this.used;
    this.used = end;
    return { views, offsets: offsets as { [K in keyof S]: number }, bytes };
  }
}

/** The tables in `memory` when one is given (and they fit), else in a new ArrayBuffer of their own. */
export function allocateTables<S extends TableSpecs>(spec: S, memory: TableMemory | null): TableBlock<S> & { readonly inMemory: boolean } {
  if (memory !== null) {
    try {
      return { ...memory.allocate(spec), inMemory: true };
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
    }
  }
  const { offsets, end } = layout(spec, 0);
  return { views: createViews(spec, new ArrayBuffer(end), offsets), offsets: offsets as { [K in keyof S]: number }, bytes: end, inMemory: false };
}
