// The FTL's metadata fast path (programSpareWords / copyback / copybackRun on the metadata-only
// device, the word-scanning GC with per-run VPC updates) must not drift from the reference: the
// same seeded workload on the fast device and on the general device (forceGeneric) must leave
// the same WAF, FTL counters, NAND counters, clock, erase count per block, tables and spares.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNandDevice, totalBlocks, totalPages } from '@flashdiff/nand';
import type { FaultOptions, NandGeometry, SimulatedNand } from '@flashdiff/nand';
import { Ftl, Xoshiro128 } from '../src/index.ts';
import type { FtlOptions } from '../src/index.ts';

// 2 channels × 2 dies × 24 blocks × 16 pages of 2048 + 64 bytes (metadata at spare offset 0).
const geometry: NandGeometry = { pageSize: 2048, spareSize: 64, pagesPerBlock: 16, blocksPerDie: 24, diesPerChannel: 2, channels: 2 };

interface Run {
  ftl: Ftl;
  device: SimulatedNand;
  /** Calls of the fast device's copybackRun that moved pages (0 on the general device). */
  runs: number;
}

/** Sequential fill, then `rounds` × user capacity of uniform random writes with TRIM and reads mixed in. */
function run(fast: boolean, options: Partial<FtlOptions>, seed: number, rounds: number, faults?: FaultOptions, firstSequence = 1, g: NandGeometry = geometry): Run {
  const device = createNandDevice({ geometry: g, metadataOnly: true, forceGeneric: !fast, ...(faults ? { faults } : {}) });
  const result: Run = { ftl: undefined as unknown as Ftl, device, runs: 0 };
  if (fast) {
    assert.equal(typeof device.copybackRun, 'function', 'the metadata-only device offers the fast path');
    const original = device.copybackRun!.bind(device);
    device.copybackRun = (sources, from, count, target, words) => {
      const done = original(sources, from, count, target, words);
      if (done && count > 0) result.runs++;
      return done;
    };
  } else {
    assert.equal(device.copybackRun, undefined, 'forceGeneric gives the general device');
  }
  const ftl = new Ftl(device, { overProvisioning: 0.25, gcThreshold: 2, ...options });
  ftl.nextSequence = firstSequence;
  result.ftl = ftl;
  const user = ftl.userPages;
  for (let lba = 0; lba < user; lba++) ftl.write(lba);
  const random = new Xoshiro128(seed);
  for (let i = 0; i < rounds * user; i++) {
    const roll = random.nextInt(100);
    if (roll < 4) {
      const lba = random.nextInt(user);
      ftl.trim(lba, Math.min(user - lba, 1 + random.nextInt(8)));
    } else if (roll < 8) {
      ftl.read(random.nextInt(user)); // checks the page's spare (LBA and CRC)
    } else {
      ftl.write(random.nextInt(user));
    }
    if (i % 997 === 0) ftl.backgroundGc(2);
  }
  return result;
}

function assertSame(fast: Run, general: Run, label: string): void {
  const geometry = fast.device.geometry;
  const a = fast.ftl;
  const b = general.ftl;
  assert.deepEqual(a.counters, b.counters, `${label}: FTL counters`);
  const waf = (r: Run): number => r.device.stats.pagePrograms / r.ftl.counters.hostPageWrites;
  assert.equal(waf(fast), waf(general), `${label}: WAF`);
  for (const key of ['pageReads', 'pagePrograms', 'blockErases', 'bytesRead', 'bytesWritten'] as const) {
    assert.equal(fast.device.stats[key], general.device.stats[key], `${label}: NAND ${key}`);
  }
  assert.deepEqual(fast.device.stats.readsPerBlock, general.device.stats.readsPerBlock, `${label}: reads per block`);
  assert.deepEqual(fast.device.stats.programsPerBlock, general.device.stats.programsPerBlock, `${label}: programs per block`);
  const erases = (r: Run): number[] => Array.from({ length: totalBlocks(geometry) }, (_, block) => r.device.eraseCount(block));
  assert.deepEqual(erases(fast), erases(general), `${label}: erase count per block`);
  assert.deepEqual(a.l2p, b.l2p, `${label}: L2P`);
  assert.deepEqual(a.p2l, b.p2l, `${label}: P2L`);
  assert.deepEqual(a.validBits, b.validBits, `${label}: VPBM`);
  assert.deepEqual(a.blockValid, b.blockValid, `${label}: VPC per block`);
  assert.deepEqual(a.unitValid, b.unitValid, `${label}: VPC per unit`);
  assert.deepEqual(a.blockState, b.blockState, `${label}: block states`);
  assert.equal(a.nextSequence, b.nextSequence, `${label}: sequence counter`);
  assert.equal(fast.device.timing.elapsed, general.device.timing.elapsed, `${label}: simulated time`);
  assert.deepEqual(fast.device.timing.dieBusy, general.device.timing.dieBusy, `${label}: die busy time`);
  const spareA = new Uint8Array(geometry.spareSize);
  const spareB = new Uint8Array(geometry.spareSize);
  for (let p = 0; p < totalPages(geometry); p++) {
    const erasedA = fast.device.readPage(p, undefined, spareA).erased;
    const erasedB = general.device.readPage(p, undefined, spareB).erased;
    assert.equal(erasedA, erasedB, `${label}: page ${p} erased`);
    assert.deepEqual(spareA, spareB, `${label}: page ${p} spare`);
  }
  a.checkConsistency();
}

/** Arms a power cut after `operations` NAND operations, writes random pages until it strikes (within 4000 writes), then recovers. */
function cutPowerWhileWriting(r: Run, random: Xoshiro128, operations: number): void {
  r.device.faults.cutPowerAfter(operations);
  let cut = false;
  for (let i = 0; i < 4000 && !cut; i++) {
    try {
      r.ftl.write(random.nextInt(r.ftl.userPages));
    } catch {
      cut = true;
    }
  }
  assert.ok(cut, 'the power cut happened');
  r.ftl.recover();
}

describe('FTL metadata fast path = general path', () => {
  const configurations: { name: string; options: Partial<FtlOptions> }[] = [];
  for (const gcPolicy of ['greedy', 'cost-benefit'] as const) {
    for (const gcUnit of ['block', 'superblock'] as const) {
      configurations.push({
        name: `${gcPolicy}, ${gcUnit} units, static wear leveling`,
        options: { gcPolicy, gcUnit, staticWearLeveling: true, staticWearLevelingThreshold: 2 },
      });
    }
  }
  // The configurations the WebAssembly kernel takes (greedy, block units, bitmap, no static wear leveling).
  configurations.push({ name: 'greedy, block units (the WebAssembly kernel)', options: {} });
  configurations.push({ name: 'greedy, block units, no dynamic wear leveling (the WebAssembly kernel)', options: { dynamicWearLeveling: false } });
  configurations.push({ name: 'greedy, block units, gcThreshold 0: collection in place (the WebAssembly kernel hands it back)', options: { gcThreshold: 0 } });
  configurations.push({ name: 'fifo, block units, no dynamic wear leveling', options: { gcPolicy: 'fifo', dynamicWearLeveling: false } });
  configurations.push({ name: 'greedy, scan validity', options: { validityMethod: 'scan' } });
  configurations.push({ name: 'greedy, p2l validity, superblock', options: { validityMethod: 'p2l', gcUnit: 'superblock' } });

  configurations.forEach(({ name, options }, index) => {
    test(`${name}: same WAF, counters, erase counts, tables, clock and spares`, () => {
      const fast = run(true, options, 11 + index, 6);
      const general = run(false, options, 11 + index, 6);
      const kernelFits = (options.gcPolicy ?? 'greedy') === 'greedy' && (options.gcUnit ?? 'block') === 'block' && (options.validityMethod ?? 'bitmap') === 'bitmap' && options.staticWearLeveling !== true;
      assert.equal(fast.ftl.wasmKernelActive, kernelFits, 'the kernel runs exactly where it fits');
      assert.equal(general.ftl.wasmKernelActive, false);
      assert.ok(fast.ftl.counters.gcRuns > 50, `GC ran (${fast.ftl.counters.gcRuns})`);
      assert.ok(fast.ftl.counters.hostTrimmedPages > 0, 'TRIM happened');
      if (options.staticWearLeveling === true) assert.ok(fast.ftl.counters.wearLevelingRuns > 0, 'static wear leveling ran');
      // The kernel moves its runs inside WebAssembly (not through the device's JavaScript copybackRun).
      if (!kernelFits && (options.validityMethod ?? 'bitmap') === 'bitmap' && (options.gcUnit ?? 'block') === 'block') {
        assert.ok(fast.runs > 0, 'GC moved pages by copybackRun');
      }
      assertSame(fast, general, name);
      // Recovery from the spares rebuilds the same map on both.
      fast.ftl.recover();
      general.ftl.recover();
      assert.deepEqual(fast.ftl.l2p, general.ftl.l2p, `${name}: L2P after recovery`);
    });
  });

  test('pages per block and blocks per die not powers of two (12 and 20, 3 dies per channel): the kernel looks dies and blocks up, same outcome', () => {
    // The kernels shift where the counts are powers of two and look up (or divide) elsewhere.
    const odd: NandGeometry = { pageSize: 2048, spareSize: 64, pagesPerBlock: 12, blocksPerDie: 20, diesPerChannel: 3, channels: 2 };
    const fast = run(true, {}, 41, 6, undefined, 1, odd);
    const general = run(false, {}, 41, 6, undefined, 1, odd);
    assert.equal(fast.ftl.wasmKernelActive, true);
    assert.ok(fast.ftl.counters.gcRuns > 50, `GC ran (${fast.ftl.counters.gcRuns})`);
    assertSame(fast, general, 'odd geometry');
  });

  test('sequence numbers crossing 2^32: the kernel steps the CRC term across the wrap as crc32.ts does', () => {
    // The spare holds the sequence number's low 32 bits; the kernel steps its CRC term page by page.
    const first = 2 ** 32 - 3000;
    const fast = run(true, {}, 31, 4, undefined, first);
    const general = run(false, {}, 31, 4, undefined, first);
    assert.equal(fast.ftl.wasmKernelActive, true);
    assert.ok(fast.ftl.nextSequence > 2 ** 32 + 1000, `the sequence number crossed 2^32 (${fast.ftl.nextSequence})`);
    assertSame(fast, general, 'across 2^32');
  });

  test('with program failures, erase failures and power cuts: the fast device falls back, same outcome', () => {
    const faults: FaultOptions = { seed: 5, factoryBadBlocks: [7, 30], programFailureRate: 0.0005, eraseFailureRate: 0.0005 };
    const outcome = (fast: boolean): Run => {
      const r = run(fast, { gcPolicy: 'greedy', overProvisioning: 0.6, staticWearLeveling: true, staticWearLevelingThreshold: 4 }, 3, 3, faults);
      // A power cut in the middle of GC-heavy writing, then recovery and more writes.
      const random = new Xoshiro128(77);
      cutPowerWhileWriting(r, random, 500);
      for (let i = 0; i < 2000; i++) r.ftl.write(random.nextInt(r.ftl.userPages));
      return r;
    };
    const fast = outcome(true);
    const general = outcome(false);
    assert.ok(fast.ftl.counters.programFailures > 0 && fast.ftl.counters.retiredBlocks > 0, 'failures were injected');
    assertSame(fast, general, 'faults');
  });

  test('the WebAssembly kernel hands back while a power cut is armed and resumes after recovery: same outcome', () => {
    const outcome = (fast: boolean): Run => {
      const r = run(fast, { gcPolicy: 'greedy' }, 9, 3);
      assert.equal(r.ftl.wasmKernelActive, fast);
      const random = new Xoshiro128(78);
      cutPowerWhileWriting(r, random, 700);
      for (let i = 0; i < 3 * r.ftl.userPages; i++) r.ftl.write(random.nextInt(r.ftl.userPages));
      return r;
    };
    assertSame(outcome(true), outcome(false), 'kernel with a power cut');
  });
});
