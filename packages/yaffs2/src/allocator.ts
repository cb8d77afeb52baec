/**
 * Chunk allocation and space accounting (upstream: yaffs_guts.c yaffs_find_alloc_block,
 * yaffs_alloc_chunk, yaffs_check_alloc_available; yaffs_yaffs2.c yaffs_calc_checkpt_blocks_required).
 */
import { Yaffs2Error } from './errors.ts';
import { BlockState, setBlockState, HIGHEST_SEQUENCE_NUMBER } from './block-info.ts';
import type { Yaffs2Dev } from './block-info.ts';
import { eraseBlockNow } from './nand-io.ts';
import { CHECKPOINT_CHUNK_HEADER } from './checkpoint.ts';

/** Blocks in the empty state (upstream's n_erased_blocks): kept as block states change (block-info.ts setBlockState), not counted here. */
export function erasedBlockCount(dev: Yaffs2Dev): number {
  return dev.erasedBlocks;
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

/*
 * The least-erased empty block, lowest index among equals (this package's choice: upstream's
 * yaffs_find_alloc_block takes the next empty block round-robin), from a min-heap of the empty
 * blocks keyed erase count × blockCount + block, so that filling an image of B blocks costs
 * O(B log B) rather than a look at every block per block allocated (O(B²): 64 million erase-count
 * reads for an 8,000-block image). The heap is built from the block states when allocEpoch
 * changes (a mount's scan or checkpoint, a reset) and an erase adds its block (noteBlockEmptied,
 * from eraseBlockNow, the only place a block's erase count changes). Entries are not removed when
 * their block is allocated, retired or erased again: such stale entries (block not empty, or its
 * erase count no longer the key's) are dropped when they reach the top. Between rebuilds no block
 * becomes empty nor changes its erase count without an entry, so the top valid entry is what a
 * scan of every block would pick.
 */

function heapPush(keys: number[], key: number): void {
  let i = keys.length;
  keys.push(key);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (keys[parent]! <= key) break;
    keys[i] = keys[parent]!;
    i = parent;
  }
  keys[i] = key;
}

function heapPop(keys: number[]): void {
  const last = keys.pop()!;
  const n = keys.length;
  if (n === 0) return;
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && keys[child + 1]! < keys[child]!) child++;
    if (keys[child]! >= last) break;
    keys[i] = keys[child]!;
    i = child;
  }
  keys[i] = last;
}

/** eraseBlockNow: `block` is empty now, with its new erase count (findAllocBlock's heap, when built, takes it). */
export function noteBlockEmptied(dev: Yaffs2Dev, block: number): void {
  const heap = dev.allocHeap;
  if (heap.epoch === dev.allocEpoch) heapPush(heap.keys, dev.device.eraseCount(block) * dev.blockCount + block);
}

/** The least-erased empty block (lowest index among equals), or −1; allocates nothing (see above). */
export function leastErasedEmptyBlock(dev: Yaffs2Dev): number {
  const heap = dev.allocHeap;
  const n = dev.blockCount;
  // Looked up once, not once per block (the device may be a wrapper: file-device.ts).
  const eraseCount = dev.device.eraseCount.bind(dev.device);
  if (heap.epoch !== dev.allocEpoch) {
    const keys: number[] = [];
    for (let b = 0; b < n; b++) if (dev.blockState[b] === BlockState.empty) keys.push(eraseCount(b) * n + b);
    heap.keys = keys.sort((a, b) => a - b); // ascending: a valid heap
    heap.epoch = dev.allocEpoch;
  }
  const keys = heap.keys;
  while (keys.length > 0) {
    const key = keys[0]!;
    const b = key % n;
    if (dev.blockState[b] !== BlockState.empty) {
      heapPop(keys);
      continue;
    }
    const erases = eraseCount(b);
    if (erases * n + b === key) return b;
    // An empty block whose erase count is not the key's: an older entry (it was erased since,
    // and has an entry of its own) or counts changed under the heap (a reloaded store); the
    // entry is replaced by a current one, which its block then keeps.
    heapPop(keys);
    heapPush(keys, erases * n + b);
  }
  return -1;
}

/** yaffs_find_alloc_block: the least-erased empty block ({@link leastErasedEmptyBlock}), with the next sequence number. */
export function findAllocBlock(dev: Yaffs2Dev): number {
  for (let attempts = 0; attempts < dev.blockCount; attempts++) {
    const best = leastErasedEmptyBlock(dev);
    if (best < 0) return -1;
    if (dev.blockEraseBeforeUse[best] && !eraseBlockNow(dev, best)) continue;
    if (dev.sequenceNumber >= HIGHEST_SEQUENCE_NUMBER) throw new Yaffs2Error('ENOSPC', 'sequence numbers exhausted');
    dev.sequenceNumber++;
    setBlockState(dev, best, BlockState.allocating);
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
    setBlockState(dev, block, BlockState.full);
    dev.allocBlock = -1;
  }
  return page;
}

/** Abandons the rest of a block after a write failure (it will be retired by GC). */
export function skipRestOfBlock(dev: Yaffs2Dev, block: number): void {
  if (dev.allocBlock === block) {
    dev.allocBlock = -1;
    dev.blockWritten[block] = dev.pagesPerBlock;
    setBlockState(dev, block, BlockState.full);
  }
}
