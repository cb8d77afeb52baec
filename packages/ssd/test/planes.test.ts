// Planes and multi-plane commands in the SSD (issue 17, "The device"): the plane allocation
// schemes place consecutive LPNs on the (channel, die, plane) sequence each defines, and a
// write-only run gets faster with planes + multi-plane commands than with one plane (same blocks).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNandDevice, planeOfBlock } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import { Ftl, PlaneView, SsdSimulator, isSsdError, parseScenarioText, planeViewGeometry, resolveScenario, runScenario } from '../src/index.ts';
import type { HostAllocation } from '../src/index.ts';

// 2 channels × 2 dies × 2 planes × 16 blocks per plane × 16 pages.
const geometry: NandGeometry = { pageSize: 4096, spareSize: 128, pagesPerBlock: 16, blocksPerDie: 32, diesPerChannel: 2, channels: 2, planesPerDie: 2 };

/** (channel, die within the channel, plane) of the real page holding `lba`. */
function placeOf(ftl: Ftl, view: PlaneView, lba: number): [number, number, number] {
  const block = Math.floor(view.realPage(ftl.physicalPage(lba)) / geometry.pagesPerBlock);
  const die = Math.floor(block / geometry.blocksPerDie);
  return [Math.floor(die / geometry.diesPerChannel), die % geometry.diesPerChannel, planeOfBlock(geometry, block)];
}

function ftlOn(hostAllocation: HostAllocation, gcUnit: 'block' | 'superblock' = 'block'): { ftl: Ftl; view: PlaneView } {
  const view = new PlaneView(createNandDevice({ geometry, metadataOnly: true }), null);
  return { ftl: new Ftl(view, { hostAllocation, gcUnit }), view };
}

describe('plane view', () => {
  test('the FTL sees one die per plane; view blocks map onto real blocks b with b mod planes = the plane', () => {
    assert.deepEqual({ ...planeViewGeometry(geometry) }, { pageSize: 4096, spareSize: 128, pagesPerBlock: 16, blocksPerDie: 16, diesPerChannel: 4, channels: 2 });
    const view = new PlaneView(createNandDevice({ geometry, metadataOnly: true }), null);
    // view die 0 = die 0 plane 0: real blocks 0, 2, 4…; view die 1 = die 0 plane 1: 1, 3, 5…; view die 2 = die 1 plane 0: 32, 34…
    assert.deepEqual([0, 1, 15, 16, 17, 32, 33, 63].map((b) => view.physicalBlock(b)), [0, 2, 30, 1, 3, 32, 34, 63]);
    const seen = new Set<number>();
    for (let b = 0; b < 128; b++) seen.add(view.physicalBlock(b));
    assert.equal(seen.size, 128);
    assert.equal(view.realPage(16 * 16 + 5), 1 * 16 + 5);
    assert.throws(() => view.eraseBlock(128), (e: unknown) => (e as { code?: string }).code === 'OUT_OF_RANGE');
  });
});

describe('plane allocation schemes', () => {
  const first8: Record<string, [number, number, number][]> = {
    // channel first, then the die (way), then the plane
    cwdp: [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]],
    // plane first, then the channel, then the die
    pcwd: [[0, 0, 0], [0, 0, 1], [1, 0, 0], [1, 0, 1], [0, 1, 0], [0, 1, 1], [1, 1, 0], [1, 1, 1]],
    // channel, plane, then the die
    cpwd: [[0, 0, 0], [1, 0, 0], [0, 0, 1], [1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 1, 1], [1, 1, 1]],
  };
  for (const [scheme, want] of Object.entries(first8)) {
    test(`${scheme}: LPNs 0…7 on its (channel, die, plane) sequence, and every LPN on it after GC`, () => {
      const { ftl, view } = ftlOn(scheme as HostAllocation);
      for (let lba = 0; lba < 8; lba++) ftl.write(lba);
      assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((lba) => placeOf(ftl, view, lba)), want);
      for (let round = 0; round < 5; round++) for (let lba = 0; lba < ftl.userPages; lba += 1 + (round % 3)) ftl.write(lba);
      assert.ok(ftl.counters.gcRuns > 0);
      for (let lba = 0; lba < ftl.userPages; lba++) assert.deepEqual(placeOf(ftl, view, lba), want[lba % 8], `lba ${lba}`);
      ftl.checkConsistency();
    });
  }

  test('round robin and superblock striping visit every (channel, die, plane) in 8 writes', () => {
    for (const [allocation, unit] of [['round-robin', 'block'], ['round-robin', 'superblock']] as const) {
      const { ftl, view } = ftlOn(allocation, unit);
      for (let lba = 0; lba < 8; lba++) ftl.write(lba);
      assert.equal(new Set([0, 1, 2, 3, 4, 5, 6, 7].map((lba) => placeOf(ftl, view, lba).join())).size, 8, `${allocation} / ${unit}`);
    }
    // round robin: channel, die, then plane (every real die before a second plane of one)
    const { ftl, view } = ftlOn('round-robin');
    for (let lba = 0; lba < 8; lba++) ftl.write(lba);
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((lba) => placeOf(ftl, view, lba)), first8.cwdp);
  });

  test('an unknown scheme is INVALID_CONFIG naming hostAllocation', () => {
    assert.throws(() => ftlOn('cwdx' as HostAllocation), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /hostAllocation/.test(e.message));
  });
});

describe('multi-plane writes in the simulator', () => {
  // 4 channels × 1 die × 128 blocks of 32 pages (the same blocks with 1, 2 or 4 planes); no GC.
  const base: NandGeometry = { pageSize: 4096, spareSize: 128, pagesPerBlock: 32, blocksPerDie: 128, diesPerChannel: 1, channels: 4 };
  const run = (planes: number, multiPlane: boolean) => {
    const sim = new SsdSimulator({ geometry: { ...base, planesPerDie: planes }, multiPlane, workload: { kind: 'seq', seed: 1 }, queueDepth: 32, snapshotEvery: 0 });
    sim.startMeasurement();
    const r = sim.run(4000);
    return { mbps: r.throughput.hostWriteMBps, planesConfig: r.config.planes as { multiPlaneCommands: number } | undefined, engine: r.config.engine as { ftlKernel: boolean; typescriptBecause: string[] } };
  };

  test('write-only throughput rises with planes + multi-plane commands (same total blocks)', () => {
    const one = run(1, false);
    const two = run(2, true);
    const four = run(4, true);
    const twoPlain = run(2, false);
    assert.equal(one.planesConfig, undefined, 'one-plane reports are as before');
    assert.ok(two.planesConfig!.multiPlaneCommands > 0);
    assert.ok(two.mbps > 1.6 * one.mbps, `2 planes ${two.mbps} vs 1 plane ${one.mbps} MB/s`);
    assert.ok(four.mbps > 1.6 * two.mbps, `4 planes ${four.mbps} vs 2 planes ${two.mbps} MB/s`);
    // without multi-plane commands the planes of a die take turns: no faster than one plane
    assert.ok(twoPlain.mbps <= one.mbps * 1.01, `2 planes without multi-plane ${twoPlain.mbps} vs ${one.mbps} MB/s`);
    assert.equal(twoPlain.planesConfig!.multiPlaneCommands, 0);
    assert.equal(two.engine.ftlKernel, false);
    assert.ok(two.engine.typescriptBecause.some((why) => why.includes('planesPerDie')));
  });

  test('multiPlane with a transaction scheduler: the scheduler forms the commands (scheduler-multi-plane.test.ts has the timing)', () => {
    const sim = new SsdSimulator({ geometry: { ...base, planesPerDie: 2 }, multiPlane: true, transactionScheduling: 'fifo', queueDepth: 64 });
    sim.startMeasurement();
    const trace = Array.from({ length: 64 }, (_, i) => ({ arrivalNs: 0, device: 0, sector: i * (base.pageSize / 512), sectors: base.pageSize / 512, isRead: false, line: i + 1 }));
    sim.replay(trace);
    assert.ok(sim.multiPlane!.multiPlaneCommands > 0);
  });
});

describe('planes in scenarios', () => {
  test('device.geometry.planesPerDie, device.multiPlane and device.ftl.hostAllocation reach the simulator', () => {
    const text = [
      'device:',
      '  preset: ssd-small',
      '  geometry: { blocksPerDie: 64, planesPerDie: 2 }',
      '  multiPlane: true',
      '  ftl: { hostAllocation: pcwd }',
      'precondition: { state: none }',
      'workload: { kind: seq, writes: 2000 }',
    ].join('\n');
    const { value, where } = parseScenarioText(text, 'planes.yaml');
    const report = runScenario(resolveScenario(value, where));
    const config = report.config as { planes: { planesPerDie: number; multiPlaneCommands: number }; ftl: { hostAllocation: string } };
    assert.equal(config.planes.planesPerDie, 2);
    assert.ok(config.planes.multiPlaneCommands > 0);
    assert.equal(config.ftl.hostAllocation, 'pcwd');
  });
});
