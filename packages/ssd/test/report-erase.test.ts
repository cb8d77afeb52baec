// The report's erase-count statistics (src/simulator/report.ts deviceEraseStats): where the FTL's
// module shares the device's table memory it tallies the device's erase counts and bad blocks
// itself (kernel/metrics.ts eraseTally); its figures against eraseStats over
// SsdSimulator.eraseCounts() and the device's isBad, on devices with factory-bad blocks and erase
// counts that differ block to block (a seeded pattern), with and without planes, and where the
// module is off (wasmKernel false: the TypeScript passes).
// Upstream counterpart: none (MQSim reports no erase-count distribution).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NandGeometry } from '@flashdiff/nand';
import { eraseStats } from '../src/metrics.ts';
import { SsdSimulator } from '../src/index.ts';

const base: NandGeometry = { pageSize: 4096, spareSize: 128, pagesPerBlock: 32, blocksPerDie: 36, diesPerChannel: 2, channels: 2 };
const bad = [0, 7, 36, 37, 100, 143];

describe('report erase statistics', () => {
  for (const planesPerDie of [1, 2]) {
    for (const wasmKernel of [true, false]) {
      for (const spread of [0, 3, 700]) {
        test(`${planesPerDie} plane(s) per die, ${wasmKernel ? 'in the module' : 'TypeScript'}, erase counts 0…${spread}`, () => {
          const sim = new SsdSimulator({ geometry: { ...base, planesPerDie }, ftl: { overProvisioning: 0.25, wasmKernel }, faults: { seed: 1, factoryBadBlocks: bad }, snapshotEvery: 0 });
          assert.equal(sim.ftl.internalState.moduleKernel !== null, wasmKernel);
          const device = sim.device;
          let x = 987654321;
          for (let b = 0; b < sim.ftl.totalBlocks; b++) {
            if (device.isBad(b)) continue;
            x = (Math.imul(x, 1103515245) + 12345) >>> 0;
            const k = spread === 0 ? 0 : (x >>> 8) % (spread + 1);
            // Erasing the real device's block k times (fewer for the widest spread: its counts by tens).
            for (let i = 0; i < (spread > 10 ? Math.floor(k / 10) : k); i++) device.eraseBlock(b);
          }
          const expected = eraseStats(sim.eraseCounts(), (b) => device.isBad(b));
          if (spread > 0) assert.ok(expected.max > expected.min, 'counts differ');
          assert.ok(expected.histogram.counts.length >= 1);
          const report = sim.report();
          assert.deepEqual(report.erase, expected);
          // A second report reuses the module's cells: the same figures again.
          assert.deepEqual(sim.report().erase, expected);
        });
      }
    }
  }
});
