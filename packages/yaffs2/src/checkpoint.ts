/**
 * The checkpoint (upstream: yaffs_checkptrw.c for the chunk stream, yaffs_yaffs2.c
 * yaffs2_checkpt_save/restore): the mounted state saved in checkpoint blocks at sync.
 */
import { isNandError } from '@flashdiff/nand';
import { Yaffs2Error } from './errors.ts';
import { decodeName } from './header.ts';
import { emptyTags, ObjectType, packTags } from './tags.ts';
import { crc32, StreamReader, StreamWriter } from './checkpoint-codec.ts';
import { BlockState, setBlockState, markLive, OBJECT_ID_LIMIT, OBJECT_ID_LOST_AND_FOUND, OBJECT_ID_ROOT, resetState, SEQUENCE_CHECKPOINT_DATA } from './block-info.ts';
import type { Yaffs2Dev } from './block-info.ts';
import { erasedBlockCount } from './allocator.ts';
import { encodeDataEcc, eraseBlockNow, markForRetirement, readChunk, readTagsFromSpare } from './nand-io.ts';

/** The checkpoint stream's validity marker (YAFFS_MAGIC) and this format's version. */
export const CHECKPOINT_MAGIC = 0x5941ff53;
export const CHECKPOINT_END_MAGIC = 0x53ff4159;
export const CHECKPOINT_FORMAT_VERSION = 0x46440001; // "FD" + 1: this project's stream, not upstream's v8
export const CHECKPOINT_CHUNK_HEADER = 16;

/**
 * Checkpoint stream (this project's format, carried in upstream's checkpoint chunks):
 *   u32 magic 0x5941FF53, u32 version 0x46440001, u32 blocks, u32 pages per block,
 *   u32 sequence number, u32 next object id, i32 alloc block, u32 alloc page,
 *   per block: u8 state, u32 sequence, u16 written, u8 flags (1 protected, 2 retire,
 *     4 erase-before-use), u8 ECC strikes,
 *   u32 object count, per object: u32 id, u8 type, u32 parent, u16 name length + bytes,
 *     u32 mode, uid, gid, atime, mtime, ctime, rdev, f64 size, u32 equiv id,
 *     u16 alias length + bytes, i32 header page, u32 chunk count + i32 page per chunk,
 *   u32 end magic 0x53FF4159, u32 CRC-32 of everything before it.
 * Each checkpoint chunk: tags seq 0x21, obj id = next-block hint, chunk id = page number + 1,
 * byte count = chunk size; data starts with u32 version, u32 page number, u32 byte sum,
 * u32 byte xor of the stream so far (yaffs_checkpt_chunk_hdr), then stream bytes.
 */
export function buildCheckpointStream(dev: Yaffs2Dev): Uint8Array {
  const w = new StreamWriter();
  w.u32(CHECKPOINT_MAGIC);
  w.u32(CHECKPOINT_FORMAT_VERSION);
  w.u32(dev.blockCount);
  w.u32(dev.pagesPerBlock);
  w.u32(dev.sequenceNumber);
  w.u32(dev.nextObjectId);
  w.i32(dev.allocBlock);
  w.u32(dev.allocPage);
  for (let b = 0; b < dev.blockCount; b++) {
    w.u8(dev.blockState[b]!);
    w.u32(dev.blockSequence[b]!);
    w.u16(dev.blockWritten[b]!);
    w.u8((dev.blockProtected[b] ? 1 : 0) | (dev.blockNeedsRetiring[b] ? 2 : 0) | (dev.blockEraseBeforeUse[b] ? 4 : 0));
    w.u8(dev.blockEccStrikes[b]!);
  }
  const list = [...dev.objects.values()];
  w.u32(list.length);
  for (const o of list) {
    w.u32(o.id);
    w.u8(o.type);
    w.u32(o.parentId);
    w.u16(o.name.length);
    w.bytes(o.name);
    for (const v of [o.mode, o.uid, o.gid, o.atime, o.mtime, o.ctime, o.rdev]) w.u32(v);
    w.f64(o.size);
    w.u32(o.equivId);
    w.u16(o.alias.length);
    w.bytes(o.alias);
    w.i32(o.headerPage);
    let n = o.chunks.length;
    while (n > 0 && o.chunks[n - 1]! < 0) n--;
    w.u32(n);
    for (let k = 0; k < n; k++) w.i32(o.chunks[k]!);
  }
  w.u32(CHECKPOINT_END_MAGIC);
  const body = w.finish();
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32(body), true);
  return out;
}

export function writeCheckpoint(dev: Yaffs2Dev): void {
  // Old checkpoint blocks are stale: erase them first (ensureWritable did when anything changed).
  for (let b = 0; b < dev.blockCount; b++) if (dev.blockState[b] === BlockState.checkpoint) eraseBlockNow(dev, b);
  const stream = buildCheckpointStream(dev);
  const perChunk = dev.chunkSize - CHECKPOINT_CHUNK_HEADER;
  const chunksNeeded = Math.ceil(stream.length / perChunk);
  const blocksNeeded = Math.ceil(chunksNeeded / dev.pagesPerBlock);
  // yaffs2_checkpt_space_ok: only from erased blocks beyond the reserve.
  if (erasedBlockCount(dev) - dev.reservedBlocks < blocksNeeded) return;
  const blocks: number[] = [];
  for (let b = 0; b < dev.blockCount && blocks.length < blocksNeeded; b++) {
    if (dev.blockState[b] === BlockState.empty) blocks.push(b);
  }
  const chunk = new Uint8Array(dev.chunkSize);
  const spare = new Uint8Array(dev.device.geometry.spareSize);
  let sum = 0;
  let xor = 0;
  let offset = 0;
  for (let c = 0; c < chunksNeeded; c++) {
    const blockIndex = Math.floor(c / dev.pagesPerBlock);
    const block = blocks[blockIndex]!;
    const inBlock = c % dev.pagesPerBlock;
    if (inBlock === 0) {
      if (dev.blockEraseBeforeUse[block] && !eraseBlockNow(dev, block)) return;
      setBlockState(dev, block, BlockState.checkpoint);
      dev.checkpointBlocksPresent = true;
    }
    chunk.fill(0);
    const view = new DataView(chunk.buffer);
    view.setUint32(0, CHECKPOINT_FORMAT_VERSION, true);
    view.setUint32(4, c, true);
    view.setUint32(8, sum >>> 0, true);
    view.setUint32(12, xor, true);
    const n = Math.min(perChunk, stream.length - offset);
    chunk.set(stream.subarray(offset, offset + n), CHECKPOINT_CHUNK_HEADER);
    for (let i = offset; i < offset + n; i++) {
      sum = (sum + stream[i]!) >>> 0;
      xor ^= stream[i]!;
    }
    offset += n;
    spare.fill(0xff);
    const nextHint = blocks[blockIndex + 1] ?? 0;
    packTags(spare, dev.layout.tagsOffset, SEQUENCE_CHECKPOINT_DATA, nextHint, c + 1, dev.chunkSize, null, dev.layout);
    encodeDataEcc(dev, chunk, spare);
    try {
      dev.device.programPage(block * dev.pagesPerBlock + inBlock, chunk, spare);
    } catch (e) {
      if (isNandError(e, 'PROGRAM_FAILED')) {
        markForRetirement(dev, block);
        return; // no checkpoint this time; the next mount scans
      }
      throw e;
    }
  }
  dev.checkpointValid = true;
  dev.stats.checkpointsWritten++;
}

export function tryLoadCheckpoint(dev: Yaffs2Dev): boolean {
  const ppb = dev.pagesPerBlock;
  const spare = new Uint8Array(dev.device.geometry.spareSize);
  const tags = emptyTags();
  const blocks: number[] = [];
  for (let b = 0; b < dev.blockCount; b++) {
    if (dev.device.isBad(b)) continue;
    dev.device.readPage(b * ppb, undefined, spare);
    readTagsFromSpare(spare, dev.layout, tags);
    if (!tags.erased && tags.eccResult !== 'unfixed' && tags.sequenceNumber === SEQUENCE_CHECKPOINT_DATA) blocks.push(b);
  }
  if (blocks.length === 0) return false;
  const pieces: Uint8Array[] = [];
  const chunk = new Uint8Array(dev.chunkSize);
  let pageNumber = 0;
  let total = 0;
  let sum = 0;
  let xor = 0;
  outer: for (const b of blocks) {
    for (let i = 0; i < ppb; i++) {
      if (!readChunk(dev, b * ppb + i, chunk, tags)) return false;
      if (tags.erased) break outer;
      if (tags.sequenceNumber !== SEQUENCE_CHECKPOINT_DATA || tags.chunkId !== pageNumber + 1) return false;
      const view = new DataView(chunk.buffer);
      if (view.getUint32(0, true) !== CHECKPOINT_FORMAT_VERSION || view.getUint32(4, true) !== pageNumber) return false;
      if (view.getUint32(8, true) !== sum || view.getUint32(12, true) !== xor) return false;
      const piece = chunk.slice(CHECKPOINT_CHUNK_HEADER);
      for (const v of piece) {
        sum = (sum + v) >>> 0;
        xor ^= v;
      }
      pieces.push(piece);
      total += piece.length;
      pageNumber++;
      if (pageNumber === 1 && new DataView(piece.buffer).getUint32(0, true) !== CHECKPOINT_MAGIC) return false;
    }
  }
  const stream = concat(pieces, total);
  try {
    return applyCheckpoint(dev, stream, blocks);
  } catch (e) {
    if (e instanceof Yaffs2Error) {
      resetState(dev);
      return false;
    }
    throw e;
  }
}

export function applyCheckpoint(dev: Yaffs2Dev, stream: Uint8Array, checkpointBlocks: number[]): boolean {
  const r = new StreamReader(stream);
  const bad = (why: string): never => {
    throw new Yaffs2Error('CORRUPT_IMAGE', `checkpoint: ${why}`);
  };
  if (r.u32() !== CHECKPOINT_MAGIC || r.u32() !== CHECKPOINT_FORMAT_VERSION) bad('bad marker');
  if (r.u32() !== dev.blockCount || r.u32() !== dev.pagesPerBlock) bad('geometry differs');
  dev.sequenceNumber = r.u32();
  dev.nextObjectId = r.u32();
  dev.allocBlock = r.i32();
  dev.allocPage = r.u32();
  dev.allocEpoch++; // block states restored (findAllocBlock's heap is rebuilt)
  for (let b = 0; b < dev.blockCount; b++) {
    setBlockState(dev, b, r.u8());
    dev.deadEpoch++;
    dev.blockSequence[b] = r.u32();
    dev.blockWritten[b] = r.u16();
    const flags = r.u8();
    dev.blockProtected[b] = flags & 1;
    dev.blockNeedsRetiring[b] = (flags >> 1) & 1;
    dev.blockEraseBeforeUse[b] = (flags >> 2) & 1;
    dev.blockEccStrikes[b] = r.u8();
    if (dev.blockState[b]! < BlockState.empty || dev.blockState[b]! > BlockState.dead) bad('bad block state');
  }
  const count = r.u32();
  if (count > OBJECT_ID_LIMIT) bad('object count');
  dev.objects.clear();
  const totalPages = dev.blockCount * dev.pagesPerBlock;
  for (let i = 0; i < count; i++) {
    const id = r.u32();
    const type = r.u8();
    const parentId = r.u32();
    const name = r.bytesOf(r.u16());
    const [mode, uid, gid, atime, mtime, ctime, rdev] = [r.u32(), r.u32(), r.u32(), r.u32(), r.u32(), r.u32(), r.u32()];
    const size = r.f64();
    const equivId = r.u32();
    const alias = r.bytesOf(r.u16());
    const headerPage = r.i32();
    const n = r.u32();
    if (n > totalPages) bad('chunk count');
    const chunks = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      const p = r.i32();
      if (p >= totalPages) bad('chunk page');
      chunks[k] = p;
    }
    if (headerPage >= totalPages) bad('header page');
    const fake = id === OBJECT_ID_ROOT || id === OBJECT_ID_LOST_AND_FOUND;
    dev.objects.set(id, {
      id,
      type,
      parentId,
      name,
      nameString: decodeName(name),
      mode,
      uid,
      gid,
      atime,
      mtime,
      ctime,
      rdev,
      size,
      equivId,
      alias,
      headerPage,
      chunks,
      children: type === ObjectType.directory ? new Map() : null,
      links: type === ObjectType.file ? new Set() : null,
      headerDirty: false,
      fake,
    });
  }
  if (r.u32() !== CHECKPOINT_END_MAGIC) bad('missing end marker');
  const bodyEnd = r.offset;
  if (r.u32() !== crc32(stream, 0, bodyEnd)) bad('checksum mismatch');
  if (!dev.objects.has(OBJECT_ID_ROOT) || !dev.objects.has(OBJECT_ID_LOST_AND_FOUND)) bad('missing root');
  // Rebuild derived state: live chunks, directory children, hard-link sets.
  for (const o of dev.objects.values()) {
    if (o.headerPage >= 0) markLive(dev, o.headerPage);
    for (let k = 0; k < o.chunks.length; k++) if (o.chunks[k]! >= 0) markLive(dev, o.chunks[k]!);
  }
  const ids = [...dev.objects.keys()].sort((a, b) => a - b);
  for (const id of ids) {
    const o = dev.objects.get(id)!;
    if (o.type === ObjectType.hardlink) dev.objects.get(o.equivId)?.links?.add(o.id);
    if (id === OBJECT_ID_ROOT) continue;
    const parent = dev.objects.get(o.parentId);
    if (!parent || !parent.children) bad(`object ${id} has no parent directory`);
    parent!.children!.set(o.nameString, id);
  }
  for (const b of checkpointBlocks) setBlockState(dev, b, BlockState.checkpoint);
  if (checkpointBlocks.length > 0) dev.checkpointBlocksPresent = true;
  if (dev.allocBlock >= 0 && dev.blockState[dev.allocBlock] !== BlockState.allocating) dev.allocBlock = -1;
  dev.checkpointValid = true;
  return true;
}

function concat(pieces: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of pieces) {
    if (at >= length) break;
    const n = Math.min(p.length, length - at);
    out.set(p.subarray(0, n), at);
    at += n;
  }
  return out;
}
