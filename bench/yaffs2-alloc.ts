/**
 * findAllocBlock's cost when filling a large image (issue 16: it looked at every block for every
 * block allocated, O(B²)). Formats an in-memory device of B blocks (2 KiB pages, 64 to a block)
 * and fills it with one file, timing the whole write; then, on the same file system's states,
 * times the heap's choice (allocator.ts leastErasedEmptyBlock) against a look at every block
 * (the old way) over as many allocations: side by side, one run, the ratio printed.
 * Upstream counterpart: yaffs_guts.c yaffs_find_alloc_block.
 * Run: npx tsx bench/yaffs2-alloc.ts [--blocks 4096]
 */
import { createNandDevice, geometryPreset } from '@flashdiff/nand';
import { Yaffs2 } from '../packages/yaffs2/src/index.ts';
import { leastErasedEmptyBlock } from '../packages/yaffs2/src/allocator.ts';
import { BlockState } from '../packages/yaffs2/src/block-info.ts';
import type { Yaffs2Dev } from '../packages/yaffs2/src/block-info.ts';

const argv = process.argv.slice(2);
const i = argv.indexOf('--blocks');
const blocks = i >= 0 ? Number(argv[i + 1]) : 4096;

function everyBlockChoice(dev: Yaffs2Dev): number {
  let best = -1;
  let bestErases = Infinity;
  for (let b = 0; b < dev.blockCount; b++) {
    if (dev.blockState[b] !== BlockState.empty) continue;
    const erases = dev.device.eraseCount(b);
    if (erases < bestErases) {
      bestErases = erases;
      best = b;
    }
  }
  return best;
}

const geometry = { ...geometryPreset('yaffs2-2k'), blocksPerDie: blocks, diesPerChannel: 1, channels: 1 };
const device = createNandDevice({ geometry, ecc: null, badBlockMarker: null });
const fs = Yaffs2.format(device, { checkpoint: false, now: () => 1_700_000_000 });
const dev = (fs as unknown as { dev: Yaffs2Dev }).dev;
const fileBytes = (blocks - 12) * 64 * 2048;
let t = performance.now();
fs.writeFile('/big', new Uint8Array(fileBytes));
const write = performance.now() - t;
// The choice itself, as many times as blocks were allocated, each way, on a half-full image
// (the empty blocks behind the full ones): the state a fill passes through.
fs.unlink('/big');
fs.gc();
let sum = 0;
t = performance.now();
for (let k = 0; k < blocks; k++) sum += leastErasedEmptyBlock(dev);
const heap = performance.now() - t;
t = performance.now();
for (let k = 0; k < blocks; k++) sum -= everyBlockChoice(dev);
const linear = performance.now() - t;
if (sum !== 0) throw new Error('the two choices differ');
console.log(`${blocks} blocks: writing a ${(fileBytes / 2 ** 20).toFixed(0)} MiB file ${write.toFixed(0)} ms`);
console.log(`block choice x${blocks}: heap ${heap.toFixed(1)} ms, every block ${linear.toFixed(1)} ms, ratio ${(linear / heap).toFixed(0)}x`);
