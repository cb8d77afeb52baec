// Internal helpers for per-page byte arrays (not exported from the package).

/**
 * Zeroes bytes first … first + count − 1 of `bytes`; `words` is the same buffer as 32-bit words
 * (or null). A block's per-page bytes are cleared at every erase: when the range is word-aligned,
 * a quarter as many stores (TypedArray.prototype.fill is a call into C++, dearer than a short loop).
 */
export function clearPageBytes(bytes: Uint8Array, words: Uint32Array | null, first: number, count: number): void {
  if (words !== null && ((first | count) & 3) === 0 && count <= 1024) {
    const end = (first + count) >>> 2;
    for (let w = first >>> 2; w < end; w++) words[w] = 0;
  } else if (count <= 256) {
    const end = first + count;
    for (let i = first; i < end; i++) bytes[i] = 0;
  } else {
    bytes.fill(0, first, first + count);
  }
}

/** A Uint32Array over the same buffer as `bytes` when its length allows, else null (see clearPageBytes). */
export function wordsOver(bytes: Uint8Array): Uint32Array | null {
  return (bytes.byteOffset & 3) === 0 && (bytes.length & 3) === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2) : null;
}
