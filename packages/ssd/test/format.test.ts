// The FTL's format of a fresh device in block mode (src/ftl/free-pool.ts formatBlocks, one pass
// over the blocks) against what format means, written out here independently: factory-bad blocks
// out, every good block free with a whole block's capacity, each die's free heap holding its good
// blocks in block order (keys: erase counts, all 0 on a fresh device, or insertion stamps), the
// free counts and the pools' capacity. With and without dynamic wear leveling, with and without
// planes (the plane view), on a geometry whose blocks per die are not a power of two.
// Upstream counterpart: MQSim's Flash_Block_Manager_Base constructor (every block to its plane's free pool).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NandGeometry } from '@flashdiff/nand';
import { BLOCK_BAD, BLOCK_FREE } from '../src/ftl/abi.ts';
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
