/**
 * Recycling of large output buffers. A fresh Float32Array of a few MB costs as much as the kernel
 * that fills it (the kernel page-faults in zeroed memory), and a training step creates thousands,
 * so buffers that the native kernels allocated return here when tfjs disposes their tensor and are
 * handed to the next kernel asking for the same length. Kernels that take a buffer from here
 * overwrite every element. A buffer is never recycled once it may be visible outside the backend:
 * read()/readSync() hand it to user code, or a cpu kernel made a view of it (tfjs-cpu's slice
 * returns subarrays); those buffers are marked escaped and left to the garbage collector.
 */
const MIN_POOLED_LENGTH = 1 << 14;
/**
 * How much freed memory the pool keeps. It must hold a whole training step's activations: with the
 * earlier 256 MiB, the batch-100 ContextUnet step (~650 MB of activations, all freed at its end)
 * dropped ~1,350 buffers per step and allocated ~500 MB afresh in the next (page faults, zeroing,
 * garbage collections). FLASHDIFF_NATIVE_POOL_MB overrides it (0 turns recycling off).
 */
const MAX_POOLED_BYTES = poolLimitBytes(process.env.FLASHDIFF_NATIVE_POOL_MB);

function poolLimitBytes(setting: string | undefined): number {
  const mb = setting === undefined || setting.trim() === '' ? 1024 : Number(setting);
  return Number.isFinite(mb) && mb >= 0 ? mb * 1024 * 1024 : 1024 * 1024 * 1024;
}

const free = new Map<number, Float32Array[]>();
const owned = new WeakSet<ArrayBufferLike>();
const escaped = new WeakSet<ArrayBufferLike>();
let pooledBytes = 0;
let enabled = true;

/** A Float32Array of `length` elements with unspecified contents (the caller overwrites all of it). */
export function takeBuffer(length: number): Float32Array {
  if (!enabled || length < MIN_POOLED_LENGTH) return new Float32Array(length);
  const list = free.get(length);
  const reused = list?.pop();
  if (reused) {
    pooledBytes -= reused.byteLength;
    return reused;
  }
  const fresh = new Float32Array(length);
  owned.add(fresh.buffer);
  return fresh;
}

/** Called when tfjs released a tensor's values. */
export function releaseBuffer(values: unknown): void {
  if (!(values instanceof Float32Array)) return;
  const buffer = values.buffer;
  if (!owned.has(buffer) || escaped.has(buffer)) return;
  if (values.byteOffset !== 0 || values.byteLength !== buffer.byteLength) return;
  if (pooledBytes + values.byteLength > MAX_POOLED_BYTES) return;
  let list = free.get(values.length);
  if (!list) {
    list = [];
    free.set(values.length, list);
  }
  // A buffer must not be in the free list twice (a double release would hand it out twice).
  if (list.includes(values)) return;
  list.push(values);
  pooledBytes += values.byteLength;
}

/** Marks a buffer as visible outside the backend: it will never be recycled. */
export function markEscaped(values: unknown): void {
  if (ArrayBuffer.isView(values)) escaped.add(values.buffer);
}

export function isOwned(values: unknown): boolean {
  return ArrayBuffer.isView(values) && owned.has(values.buffer);
}

/** Turns recycling off (and empties the pool); for A/B measurements and debugging. */
export function setBufferPooling(on: boolean): void {
  enabled = on;
  if (!on) {
    free.clear();
    pooledBytes = 0;
  }
}

export function pooledBufferBytes(): number {
  return pooledBytes;
}
