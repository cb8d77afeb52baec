/**
 * allocator.ts's findAllocBlock picks the least-erased empty block (lowest index among equals)
 * from a heap (O(log B) a block, not a look at every block): over a seeded workload of writes,
 * overwrites, deletions, garbage collection, checkpointed and scanned remounts, the heap's choice
 * is at every step what a look at every block picks, and erasedBlockCount (a count kept as block
 * states change, block-info.ts setBlockState) what counting the empty blocks gives. (Images staying byte for byte the same is
 * checked by the byte-identity tests: stream-import.test.ts against importTree.)
 * Upstream counterpart: yaffs_guts.c yaffs_find_alloc_block (which takes the next empty block
 * round-robin instead).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Yaffs2 } from '../src/index.ts';
import { erasedBlockCount, leastErasedEmptyBlock } from '../src/allocator.ts';
import { BlockState } from '../src/block-info.ts';
import type { Yaffs2Dev } from '../src/block-info.ts';
import { bytes, formatted, prng } from './helpers.ts';

/** The choice made by looking at every block (what findAllocBlock did before the heap). */
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

/** Empty blocks, counted block by block (what erasedBlockCount did before the count was kept). */
function emptyBlocksCounted(dev: Yaffs2Dev): number {
  let n = 0;
  for (let b = 0; b < dev.blockCount; b++) if (dev.blockState[b] === BlockState.empty) n++;
  return n;
}

const devOf = (f: Yaffs2): Yaffs2Dev => (f as unknown as { dev: Yaffs2Dev }).dev;

test('findAllocBlock: the heap picks what a look at every block picks, and the kept count of empty blocks is what counting gives, through writes, deletions, GC and remounts', () => {
  for (const checkpoint of [false, true]) {
    const { device, fs: first } = formatted(48, { checkpoint });
    let f = first;
    const random = prng(checkpoint ? 7 : 16);
    const names: string[] = [];
    let checks = 0;
    let distinctCounts = 0;
    let lowOnErased = 0;
    const check = (what: string): void => {
      const dev = devOf(f);
      assert.equal(leastErasedEmptyBlock(dev), everyBlockChoice(dev), `${what} (step ${checks})`);
      // The kept count of empty blocks (setBlockState) is what counting them gives.
      assert.equal(erasedBlockCount(dev), emptyBlocksCounted(dev), `erased blocks ${what} (step ${checks})`);
      if (dev.erasedBlocks < dev.blockCount / 4) lowOnErased++;
      checks++;
    };
    for (let step = 0; step < 400; step++) {
      const pick = random();
      if (pick < 0.55 || names.length === 0) {
        const name = `/f${Math.floor(random() * 24)}`;
        try {
          f.writeFile(name, bytes(Math.floor(random() * 3 * 64 * 2048), step));
          if (!names.includes(name)) names.push(name);
        } catch (e) {
          if ((e as { code?: string }).code !== 'ENOSPC') throw e;
        }
        check('after a write');
      } else if (pick < 0.85) {
        const name = names.splice(Math.floor(random() * names.length), 1)[0]!;
        f.unlink(name);
        check('after an unlink');
      } else if (pick < 0.93) {
        f.gc();
        check('after gc');
      } else {
        f.unmount();
        f = Yaffs2.mount(device, { checkpoint });
        check('after a remount');
      }
    }
    const counts = new Set<number>();
    for (let b = 0; b < devOf(f).blockCount; b++) counts.add(device.eraseCount(b));
    distinctCounts = counts.size;
    // The workload wore blocks unevenly (the choice depends on erase counts, not only on indexes).
    assert.ok(distinctCounts >= 3, `${distinctCounts} distinct erase counts`);
    assert.ok(checks === 400);
    // The count was checked where it matters: with few empty blocks left (aggressive GC).
    assert.ok(lowOnErased > 0, 'the workload never ran low on empty blocks');
    f.unmount();
  }
});
