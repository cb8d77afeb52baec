/**
 * Garbage collection (upstream: yaffs_guts.c yaffs_check_gc, yaffs_find_gc_block,
 * yaffs_gc_block; yaffs_yaffs2.c yaffs2_find_oldest_dirty_seq, yaffs_block_ok_for_gc).
 */
import { emptyTags } from './tags.ts';
import type { ChunkTags } from './tags.ts';
import { BlockState, PASSIVE_GC_CHUNKS } from './block-info.ts';
import type { Yaffs2Dev } from './block-info.ts';
import { checkpointBlocksRequired, erasedBlockCount } from './allocator.ts';
import { deleteChunk, eraseBlockNow, readChunk, retireBlockNow, writeNewChunk } from './nand-io.ts';
import { writeHeader } from './objects.ts';

/** Lowest sequence number among full blocks still holding stale chunks (yaffs2_find_oldest_dirty_seq). */
export function oldestDirtySequence(dev: Yaffs2Dev): number {
  let oldest = Infinity;
  for (let b = 0; b < dev.blockCount; b++) {
    if (dev.blockState[b] !== BlockState.full) continue;
    if (dev.blockLive[b]! < dev.blockWritten[b]! || dev.blockLive[b]! < dev.pagesPerBlock) {
      if (dev.blockSequence[b]! < oldest) oldest = dev.blockSequence[b]!;
    }
  }
  return oldest;
}

/** yaffs_block_ok_for_gc: a block with a shrink/shadow header waits until it is the oldest dirty one. */
export function blockOkForGc(dev: Yaffs2Dev, block: number, oldestDirty: number): boolean {
  return dev.blockProtected[block] === 0 || dev.blockSequence[block]! <= oldestDirty;
}

/** A full block without live chunks: erase it now (or retire it) when allowed. */
export function tryReclaimBlock(dev: Yaffs2Dev, block: number): void {
  if (dev.readOnly) return;
  if (!blockOkForGc(dev, block, oldestDirtySequence(dev))) return;
  if (dev.blockNeedsRetiring[block]) retireBlockNow(dev, block);
  else eraseBlockNow(dev, block);
}

/**
 * yaffs_check_gc: retire blocks that asked for it; collect whole blocks aggressively when
 * erased blocks run low; otherwise copy a few chunks of a very dirty block (passive).
 */
export function checkGc(dev: Yaffs2Dev): void {
  if (dev.gcRunning || dev.readOnly) return;
  dev.gcRunning = true;
  try {
    // Prioritised: blocks that must be retired (their live chunks move first).
    for (let b = 0; b < dev.blockCount; b++) {
      if (dev.blockNeedsRetiring[b] && dev.blockState[b] === BlockState.full) collectBlock(dev, b, Infinity);
    }
    const threshold = dev.reservedBlocks + checkpointBlocksRequired(dev) + 1;
    for (let pass = 0; pass < dev.blockCount; pass++) {
      const erased = erasedBlockCount(dev);
      const aggressive = erased < threshold;
      if (!aggressive && dev.gcBlock >= 0 && dev.blockState[dev.gcBlock] === BlockState.full) {
        collectBlock(dev, dev.gcBlock, PASSIVE_GC_CHUNKS);
        break;
      }
      const victim = findGcBlock(dev, aggressive);
      if (victim < 0) break;
      if (aggressive) {
        collectBlock(dev, victim, Infinity);
        continue;
      }
      dev.gcBlock = victim;
      collectBlock(dev, victim, PASSIVE_GC_CHUNKS);
      break;
    }
  } finally {
    dev.gcRunning = false;
  }
}

/** yaffs_find_gc_block: the dirtiest full block; passive GC only takes blocks at most half live. */
export function findGcBlock(dev: Yaffs2Dev, aggressive: boolean): number {
  const oldestDirty = oldestDirtySequence(dev);
  let best = -1;
  let bestLive = Infinity;
  const limit = aggressive ? dev.pagesPerBlock - 1 : dev.pagesPerBlock >> 1;
  for (let b = 0; b < dev.blockCount; b++) {
    if (dev.blockState[b] !== BlockState.full) continue;
    const live = dev.blockLive[b]!;
    if (live > limit) continue;
    if (!blockOkForGc(dev, b, oldestDirty)) continue;
    if (live < bestLive || (live === bestLive && best >= 0 && dev.blockSequence[b]! < dev.blockSequence[best]!)) {
      best = b;
      bestLive = live;
    }
  }
  return best;
}

/** Copies up to `maxChunks` live chunks out of `block`; erases (or retires) it once empty. */
export function collectBlock(dev: Yaffs2Dev, block: number, maxChunks: number): void {
  const first = block * dev.pagesPerBlock;
  let copied = 0;
  const data = new Uint8Array(dev.chunkSize);
  const tags = emptyTags();
  for (let i = 0; i < dev.pagesPerBlock && copied < maxChunks && dev.blockLive[block]! > 0; i++) {
    const page = first + i;
    if (!dev.chunkLive[page]) continue;
    copied++;
    copyLiveChunk(dev, page, data, tags);
  }
  if (dev.blockLive[block] === 0 && dev.blockState[block] === BlockState.full) {
    if (dev.gcBlock === block) dev.gcBlock = -1;
    dev.stats.gcBlocksCollected++;
    if (dev.blockNeedsRetiring[block]) retireBlockNow(dev, block);
    else if (blockOkForGc(dev, block, oldestDirtySequence(dev))) eraseBlockNow(dev, block);
  }
}

export function copyLiveChunk(dev: Yaffs2Dev, page: number, data: Uint8Array, tags: ChunkTags): void {
  readChunk(dev, page, data, tags);
  const owner = dev.objects.get(tags.objectId);
  dev.stats.gcChunksCopied++;
  if (!owner) {
    deleteChunk(dev, page);
    return;
  }
  if (owner.headerPage === page) {
    // A moved header drops its shrink/shadow marks: the block it leaves is the oldest dirty
    // one, so nothing older remains for them to act on (as upstream's GC does).
    writeHeader(dev, owner, false, 0);
    return;
  }
  const k = tags.chunkId;
  if (k >= 1 && k <= owner.chunks.length && owner.chunks[k - 1] === page) {
    const newPage = writeNewChunk(dev, data, owner.id, k, tags.byteCount, null, true);
    owner.chunks[k - 1] = newPage;
    deleteChunk(dev, page);
    return;
  }
  deleteChunk(dev, page);
}
