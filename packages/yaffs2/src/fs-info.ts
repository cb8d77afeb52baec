/**
 * Figures about a mounted file system: free and total space, block states and erase counts,
 * object counts, one block's allocation facts (upstream: yaffsfs.c's yaffs_freespace /
 * yaffs_totalspace, yaffs_guts.c's yaffs_get_n_free_chunks, the yaffs_block_info fields that
 * yaffs_dump_dev prints). The Yaffs2 class (fs.ts) calls these.
 */
import { BLOCK_STATE_NAMES } from './block-info.ts';
import type { BlockInfo, StatFs, Yaffs2Dev } from './block-info.ts';
import { checkpointBlocksRequired, erasedBlockCount, freeChunkCount, usableBlockCount } from './allocator.ts';
import { assertMounted } from './objects.ts';
import { Yaffs2Error } from './errors.ts';
import { ObjectType } from './tags.ts';
import type { SpareLayoutName } from './tags.ts';

/** Block states, erase counts and object counts, for `yaffs2 info`. */
export interface FileSystemInfo {
  layout: SpareLayoutName;
  objects: number;
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  blocksByState: Record<string, number>;
  eraseCounts: { min: number; max: number; mean: number };
  sequenceNumber: number;
}

export function statFileSystem(dev: Yaffs2Dev): StatFs {
  assertMounted(dev);
  const usable = usableBlockCount(dev);
  const reserved = dev.reservedBlocks + checkpointBlocksRequired(dev);
  const free = freeChunkCount(dev);
  return {
    chunkSize: dev.chunkSize,
    chunksPerBlock: dev.pagesPerBlock,
    totalBlocks: dev.blockCount,
    usableBlocks: usable,
    erasedBlocks: erasedBlockCount(dev),
    reservedBlocks: dev.reservedBlocks,
    freeChunks: free,
    freeBytes: Math.max(0, free - reserved * dev.pagesPerBlock - 1) * dev.chunkSize,
    totalBytes: Math.max(0, usable - reserved) * dev.pagesPerBlock * dev.chunkSize,
  };
}

/** Block states, erase counts and object counts, for `yaffs2 info`. */
export function fileSystemInfo(dev: Yaffs2Dev): FileSystemInfo {
  const blocksByState: Record<string, number> = { empty: 0, allocating: 0, full: 0, checkpoint: 0, dead: 0 };
  let min = Infinity;
  let max = 0;
  let sum = 0;
  for (let b = 0; b < dev.blockCount; b++) {
    const name = BLOCK_STATE_NAMES[dev.blockState[b]!] ?? 'unknown';
    blocksByState[name] = (blocksByState[name] ?? 0) + 1;
    const e = dev.device.eraseCount(b);
    min = Math.min(min, e);
    max = Math.max(max, e);
    sum += e;
  }
  let files = 0;
  let directories = 0;
  let symlinks = 0;
  let hardlinks = 0;
  for (const o of dev.objects.values()) {
    if (o.fake) continue;
    if (o.type === ObjectType.file) files++;
    else if (o.type === ObjectType.directory) directories++;
    else if (o.type === ObjectType.symlink) symlinks++;
    else if (o.type === ObjectType.hardlink) hardlinks++;
  }
  return {
    layout: dev.layout.name,
    objects: dev.objects.size - 2,
    files,
    directories,
    symlinks,
    hardlinks,
    blocksByState,
    eraseCounts: { min: dev.blockCount ? min : 0, max, mean: dev.blockCount ? sum / dev.blockCount : 0 },
    sequenceNumber: dev.sequenceNumber,
  };
}

/**
 * One block's allocation facts (upstream's yaffs_block_info): state name, sequence number,
 * chunks written since its erase, chunks still live, and its erase count. "dirty" is not a
 * state of its own: a full block with live < written holds stale chunks that GC can reclaim.
 */
export function blockInfoOf(dev: Yaffs2Dev, block: number): BlockInfo {
  if (!Number.isInteger(block) || block < 0 || block >= dev.blockCount) {
    throw new Yaffs2Error('EINVAL', `block ${block} is outside 0..${dev.blockCount - 1}`);
  }
  return {
    block,
    state: BLOCK_STATE_NAMES[dev.blockState[block]!] ?? 'unknown',
    sequence: dev.blockSequence[block]!,
    pagesWritten: dev.blockWritten[block]!,
    pagesLive: dev.blockLive[block]!,
    eraseCount: dev.device.eraseCount(block),
    bad: dev.device.isBad(block),
  };
}
