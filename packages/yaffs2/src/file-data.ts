/**
 * File contents (upstream: yaffs_guts.c yaffs_file_rd, yaffs_do_file_wr, yaffs_resize_file,
 * yaffs_prune_chunks; the chunk map stands in for yaffs_tnode.c's tree).
 */
import { Yaffs2Error } from './errors.ts';
import { type Yaffs2Dev, type YObject, growChunkMap } from './block-info.ts';
import { hasSpaceFor } from './allocator.ts';
import { deleteChunk, readChunk, writeNewChunk } from './nand-io.ts';
import { checkGc } from './gc.ts';
import { ensureWritable, writeHeader } from './objects.ts';

/** Reads logical chunk k of a file into `out` (zeros for holes and past the chunk's byte count). */
export function readFileChunk(dev: Yaffs2Dev, o: YObject, k: number, out: Uint8Array): void {
  const page = k <= o.chunks.length ? o.chunks[k - 1]! : -1;
  if (page < 0) {
    out.fill(0);
    return;
  }
  const tags = dev.tagsScratch;
  if (!readChunk(dev, page, out, tags)) {
    throw new Yaffs2Error('EIO', `uncorrectable ECC error in chunk ${k} of object ${o.id} (page ${page})`);
  }
  const valid = Math.min(tags.byteCount, dev.chunkSize);
  if (valid < dev.chunkSize) out.fill(0, valid);
}

export function setChunk(dev: Yaffs2Dev, o: YObject, k: number, page: number): void {
  o.chunks = growChunkMap(o.chunks, k, 8);
  const old = o.chunks[k - 1]!;
  o.chunks[k - 1] = page;
  if (old >= 0) deleteChunk(dev, old);
}

/** Deletes data chunks whose start lies at or beyond `size` (yaffs_prune_chunks). */
export function pruneChunks(dev: Yaffs2Dev, o: YObject, size: number): void {
  const keep = Math.ceil(size / dev.chunkSize);
  for (let k = keep + 1; k <= o.chunks.length; k++) {
    const page = o.chunks[k - 1]!;
    if (page >= 0) {
      o.chunks[k - 1] = -1;
      deleteChunk(dev, page);
    }
  }
}

/**
 * Bytes `position`… of the file, at most `length`: a new array, or with `into` (at least
 * `length` bytes) the start of `into` (no allocation per read: extract streams through one).
 */
export function readObject(dev: Yaffs2Dev, o: YObject, position: number, length: number, into?: Uint8Array): Uint8Array {
  if (!(position >= 0) || !(length >= 0) || !Number.isSafeInteger(position) || !Number.isSafeInteger(length)) {
    throw new Yaffs2Error('EINVAL', `bad read range ${position}+${length}`);
  }
  if (into !== undefined && into.length < length) throw new Yaffs2Error('EINVAL', `read of ${length} bytes into ${into.length}`);
  const end = Math.min(o.size, position + length);
  if (end <= position) return new Uint8Array(0);
  const out = into !== undefined ? into.subarray(0, end - position) : new Uint8Array(end - position);
  const cs = dev.chunkSize;
  const buf = dev.pageBuffer;
  let at = position;
  while (at < end) {
    const k = Math.floor(at / cs) + 1;
    const inChunk = at - (k - 1) * cs;
    const n = Math.min(cs - inChunk, end - at);
    if (n === cs) {
      // A whole chunk: straight into the result (no copy through the page buffer).
      readFileChunk(dev, o, k, out.subarray(at - position, at - position + cs));
    } else {
      readFileChunk(dev, o, k, buf);
      out.set(buf.subarray(inChunk, inChunk + n), at - position);
    }
    at += n;
  }
  return out;
}

export function writeObject(dev: Yaffs2Dev, o: YObject, position: number, data: Uint8Array): void {
  if (!(position >= 0) || !Number.isSafeInteger(position)) throw new Yaffs2Error('EINVAL', `bad write position ${position}`);
  ensureWritable(dev);
  const cs = dev.chunkSize;
  const end = position + data.length;
  const newSize = Math.max(o.size, end);
  let at = position;
  const buf = new Uint8Array(cs);
  while (at < end) {
    checkGc(dev);
    const k = Math.floor(at / cs) + 1;
    const start = (k - 1) * cs;
    const inChunk = at - start;
    const n = Math.min(cs - inChunk, end - at);
    const existing = k <= o.chunks.length && o.chunks[k - 1]! >= 0;
    if ((inChunk !== 0 || n !== cs) && existing) readFileChunk(dev, o, k, buf);
    else buf.fill(0);
    buf.set(data.subarray(at - position, at - position + n), inChunk);
    const byteCount = Math.min(cs, newSize - start);
    if (byteCount < cs) buf.fill(0xff, byteCount); // as mkyaffs2image pads a short chunk
    if (!hasSpaceFor(dev, 1)) throw new Yaffs2Error('ENOSPC', `no space to write chunk ${k} of object ${o.id}`);
    const page = writeNewChunk(dev, buf, o.id, k, byteCount, null, false);
    setChunk(dev, o, k, page);
    at += n;
    if (at > o.size) o.size = at;
  }
  o.mtime = dev.now();
  o.headerDirty = true;
}

export function truncateObject(dev: Yaffs2Dev, o: YObject, size: number): void {
  const cs = dev.chunkSize;
  if (size < o.size) {
    // yaffs_resize_file_down: zero the tail of a partial last chunk, drop chunks past the
    // end, then write a shrink header so a scan also drops the older chunks.
    const partial = size % cs;
    const k = Math.floor(size / cs) + 1;
    if (partial !== 0 && k <= o.chunks.length && o.chunks[k - 1]! >= 0) {
      const buf = new Uint8Array(cs);
      readFileChunk(dev, o, k, buf);
      buf.fill(0xff, partial);
      const page = writeNewChunk(dev, buf, o.id, k, partial, null, true);
      setChunk(dev, o, k, page);
    }
    pruneChunks(dev, o, size);
    o.size = size;
    o.mtime = dev.now();
    writeHeader(dev, o, true, 0);
  } else if (size > o.size) {
    o.size = size;
    o.mtime = dev.now();
    writeHeader(dev, o, false, 0);
  }
}
