// The FTL's format of a fresh device in block mode (src/ftl/free-pool.ts formatBlocks, one pass
// over the blocks) against what format means, written out here independently: factory-bad blocks
// out, every good block free with a whole block's capacity, each die's free heap holding its good
// blocks in block order (keys: erase counts, all 0 on a fresh device, or insertion stamps), the
// free counts and the pools' capacity. With and without dynamic wear leveling, with and without
// planes (the plane view), on a geometry whose blocks per die are not a power of two. Where the
// tables are in the FTL's module's memory the module formats (kernel/ftl/free-pool.ts
// formatBlocks): its tables against the TypeScript loop's, also with erase counts that differ
// block to block (keys out of block order: the heaps' sifts move blocks).
// Upstream counterpart: MQSim's Flash_Block_Manager_Base constructor (every block to its plane's free pool).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NandGeometry } from '@flashdiff/nand';
import { BLOCK_BAD, BLOCK_FREE } from '../src/ftl/abi.ts';
import { format } from '../src/ftl/free-pool.ts';
import { FtlState } from '../src/ftl/state.ts';
import { SsdSimulator } from '../src/index.ts';

const base: NandGeometry = { pageSize: 4096, spareSize: 128, pagesPerBlock: 32, blocksPerDie: 36, diesPerChannel: 2, channels: 2 };
const bad = [0, 7, 36, 37, 100, 143];

describe('format of a fresh device (block mode)', () => {
  for (const dynamicWearLeveling of [true, false]) {
    for (const planesPerDie of [1, 2]) {
      test(`${dynamicWearLeveling ? 'dynamic wear leveling' : 'insertion order'}, ${planesPerDie} plane(s) per die`, () => {
        const sim = new SsdSimulator({ geometry: { ...base, planesPerDie }, ftl: { overProvisioning: 0.25, dynamicWearLeveling }, faults: { seed: 1, factoryBadBlocks: bad }, snapshotEvery: 0 });
        const st = sim.ftl.internalState;
        assert.equal(st.blockMode, true);
        // The FTL's device: the plane view with planes (its blocks are the planes' blocks).
        const isBad = (b: number): boolean => st.device.isBad(b);
        assert.ok(Array.from({ length: st.totalBlocks }, (_, b) => b).filter(isBad).length >= bad.length - 1, 'factory-bad blocks present');
        // Insertion stamps follow block order over the whole device.
        const stampOf = new Map<number, number>();
        for (let b = 0; b < st.totalBlocks; b++) if (!isBad(b)) stampOf.set(b, stampOf.size);
        for (let pool = 0; pool < st.poolCount; pool++) {
          const members: number[] = [];
          for (let b = 0; b < st.totalBlocks; b++) if (st.dieOfBlock[b] === pool && !isBad(b)) members.push(b);
          assert.equal(st.freeCount[pool], members.length, `pool ${pool}: free count`);
          assert.equal(st.heapSize[pool], members.length, `pool ${pool}: heap size`);
          assert.deepEqual(Array.from(st.heap.subarray(pool * st.unitsPerPool, pool * st.unitsPerPool + members.length)), members, `pool ${pool}: heap in block order`);
          assert.equal(st.poolCapacity[pool], members.length * st.dataPages, `pool ${pool}: capacity`);
          for (const b of members) {
            assert.equal(st.heapKey[b], dynamicWearLeveling ? 0 : stampOf.get(b), `block ${b}: key`);
          }
        }
        for (let b = 0; b < st.totalBlocks; b++) {
          const expected = isBad(b) ? BLOCK_BAD : BLOCK_FREE;
          assert.equal(st.blockState[b], expected, `block ${b}: state`);
          assert.equal(st.unitState[b], expected, `block ${b}: unit state`);
          assert.equal(st.unitCapacity[b], isBad(b) ? 0 : st.dataPages, `block ${b}: capacity`);
        }
        if (!dynamicWearLeveling) assert.equal(st.insertionStamp, stampOf.size);
      });
    }
  }
});

/** The tables format writes, copied. */
function formatTables(st: FtlState): Record<string, number[]> {
  return {
    blockState: Array.from(st.blockState), unitState: Array.from(st.unitState), unitCapacity: Array.from(st.unitCapacity),
    heap: Array.from(st.heap), heapKey: Array.from(st.heapKey), heapSize: Array.from(st.heapSize), freeCount: Array.from(st.freeCount),
    poolCapacity: Array.from(st.poolCapacity), insertionStamp: [st.insertionStamp],
  };
}

describe("format in the FTL's module against the TypeScript loop", () => {
  for (const dynamicWearLeveling of [true, false]) {
    for (const planesPerDie of [1, 2]) {
      test(`${dynamicWearLeveling ? 'dynamic wear leveling' : 'insertion order'}, ${planesPerDie} plane(s) per die, erase counts differing`, () => {
        const sim = new SsdSimulator({ geometry: { ...base, planesPerDie }, ftl: { overProvisioning: 0.25, dynamicWearLeveling }, faults: { seed: 1, factoryBadBlocks: bad }, snapshotEvery: 0 });
        const st = sim.ftl.internalState;
        assert.notEqual(st.moduleKernel, null, "the tables are in the module's memory");
        // Erase counts that fall and rise along each die (a seeded pattern): keys out of block order.
        const device = st.device;
        let x = 12345;
        for (let b = 0; b < st.totalBlocks; b++) {
          if (device.isBad(b)) continue;
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          for (let k = (x >>> 16) % 4; k > 0; k--) device.eraseBlock(b);
        }
        const counts = Array.from({ length: st.totalBlocks }, (_, b) => device.eraseCount(b));
        assert.ok(new Set(counts).size > 2, 'erase counts differ');
        const inModule = new FtlState(device, { ...st.options });
        const inTypeScript = new FtlState(device, { ...st.options, wasmKernel: false });
        assert.notEqual(inModule.moduleKernel, null);
        assert.equal(inTypeScript.moduleKernel, null);
        format(inModule);
        format(inTypeScript);
        const a = formatTables(inModule);
        const b = formatTables(inTypeScript);
        assert.deepEqual(a, b);
        if (dynamicWearLeveling) {
          // The sifts moved blocks: some die's heap is not in block order.
          const moved = a.heap!.some((u, i) => i > 0 && i % st.unitsPerPool < a.heapSize![Math.floor(i / st.unitsPerPool)]! && u < a.heap![i - 1]!);
          assert.ok(moved, 'keys out of block order');
        }
      });
    }
  }
});
