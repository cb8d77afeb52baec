/**
 * Chunk allocation and space accounting (upstream: yaffs_guts.c yaffs_find_alloc_block,
 * yaffs_alloc_chunk, yaffs_check_alloc_available; yaffs_yaffs2.c yaffs_calc_checkpt_blocks_required).
 */
import { Yaffs2Error } from './errors.ts';
import { BlockState, HIGHEST_SEQUENCE_NUMBER } from './block-info.ts';
import type { Yaffs2Dev } from './block-info.ts';
import { eraseBlockNow } from './nand-io.ts';
import { CHECKPOINT_CHUNK_HEADER } from './checkpoint.ts';

export function erasedBlockCount(dev: Yaffs2Dev): number {
  let n = 0;
  for (let b = 0; b < dev.blockCount; b++) if (dev.blockState[b] === BlockState.empty) n++;
  return n;
}

export function usableBlockCount(dev: Yaffs2Dev): number {
  const cache = dev.usableCache;
  if (cache.epoch === dev.deadEpoch) return cache.blocks;
  let n = 0;
  for (let b = 0; b < dev.blockCount; b++) if (dev.blockState[b] !== BlockState.dead) n++;
  cache.epoch = dev.deadEpoch;
  cache.blocks = n;
  return n;
}

/** Chunks not holding live data, in blocks that can hold data (checkpoint blocks count as free: they are erased on the first write). */
export function freeChunkCount(dev: Yaffs2Dev): number {
  return usableBlockCount(dev) * dev.pagesPerBlock - dev.liveChunks;
}

/** Blocks a checkpoint of the present state needs (yaffs_calc_checkpt_blocks_required). */
export function checkpointBlocksRequired(dev: Yaffs2Dev): number {
  if (!dev.useCheckpoint) return 0;
  // An O(1) estimate (names average well under 60 bytes); if it falls short, the checkpoint is
  // simply not written and the next mount scans.
  const bytes = 64 + dev.blockCount * 9 + dev.objects.size * 120 + dev.liveChunks * 4;
  const perChunk = dev.chunkSize - CHECKPOINT_CHUNK_HEADER;
  return Math.ceil(Math.ceil(bytes / perChunk) / dev.pagesPerBlock) + 1;
}

/** yaffs_check_alloc_available: free chunks beyond the reserve. */
export function hasSpaceFor(dev: Yaffs2Dev, chunks: number): boolean {
  const reserved = (dev.reservedBlocks + checkpointBlocksRequired(dev)) * dev.pagesPerBlock;
  return freeChunkCount(dev) > reserved + chunks;
}

/** yaffs_find_alloc_block: the least-erased empty block, with the next sequence number. */
export function findAllocBlock(dev: Yaffs2Dev): number {
  // Looked up once, not once per block (the device may be a wrapper: file-device.ts).
  const eraseCount = dev.device.eraseCount.bind(dev.device);
  for (let attempts = 0; attempts < dev.blockCount; attempts++) {
    let best = -1;
    let bestErases = Infinity;
    for (let b = 0; b < dev.blockCount; b++) {
      if (dev.blockState[b] !== BlockState.empty) continue;
      const erases = eraseCount(b);
      if (erases < bestErases) {
        bestErases = erases;
        best = b;
      }
    }
    if (best < 0) return -1;
    if (dev.blockEraseBeforeUse[best] && !eraseBlockNow(dev, best)) continue;
    if (dev.sequenceNumber >= HIGHEST_SEQUENCE_NUMBER) throw new Yaffs2Error('ENOSPC', 'sequence numbers exhausted');
    dev.sequenceNumber++;
    dev.blockState[best] = BlockState.allocating;
    dev.blockSequence[best] = dev.sequenceNumber;
    dev.blockWritten[best] = 0;
    dev.blockLive[best] = 0;
    return best;
  }
  return -1;
}

/** yaffs_alloc_chunk: the next page of the allocation block. */
export function allocChunk(dev: Yaffs2Dev, useReserve: boolean): number {
  if (!useReserve && !hasSpaceFor(dev, 1)) {
    throw new Yaffs2Error('ENOSPC', 'no free chunks beyond the reserved blocks');
  }
  if (dev.allocBlock < 0) {
    dev.allocBlock = findAllocBlock(dev);
    dev.allocPage = 0;
    if (dev.allocBlock < 0) throw new Yaffs2Error('ENOSPC', 'no erased block left');
  }
  const block = dev.allocBlock;
  const page = block * dev.pagesPerBlock + dev.allocPage;
  dev.allocPage++;
  dev.blockWritten[block] = dev.allocPage;
  if (dev.allocPage >= dev.pagesPerBlock) {
    dev.blockState[block] = BlockState.full;
    dev.allocBlock = -1;
  }
  return page;
}

/** Abandons the rest of a block after a write failure (it will be retired by GC). */
export function skipRestOfBlock(dev: Yaffs2Dev, block: number): void {
  if (dev.allocBlock === block) {
    dev.allocBlock = -1;
    dev.blockWritten[block] = dev.pagesPerBlock;
    dev.blockState[block] = BlockState.full;
  }
}
