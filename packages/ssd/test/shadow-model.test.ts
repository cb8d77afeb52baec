// Randomized tests against a shadow model: a map from LBA to the version of its latest contents.
// Every page written carries (lba, version) in its payload; every read is checked. TRIM, factory
// and runtime bad blocks, and power cuts (with recovery from the spares) are mixed in.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MultiPlaneGrouping, NandClock, createNandDevice } from '@flashdiff/nand';
import type { SimulatedNand } from '@flashdiff/nand';
import { Ftl, PlaneView, Xoshiro128, isSsdError } from '../src/index.ts';
import type { FtlOptions } from '../src/index.ts';

// Small pages (512 + 32 spare) keep the payload cheap; 4 dies × 32 blocks × 8 pages.
const geometry = { pageSize: 512, spareSize: 32, pagesPerBlock: 8, blocksPerDie: 32, diesPerChannel: 2, channels: 2 };

function payload(lba: number, version: number): Uint8Array {
  const data = new Uint8Array(geometry.pageSize);
  const view = new DataView(data.buffer);
  for (let i = 0; i < data.length; i += 8) {
    view.setUint32(i, lba, true);
    view.setUint32(i + 4, (version * 2654435761 + i) >>> 0, true);
  }
  return data;
}

/** Version whose payload `data` is (0 = all zeros), or −1 when it matches neither. */
function versionOf(lba: number, data: Uint8Array, candidates: number[]): number {
  for (const v of candidates) {
    if (v === 0 ? data.every((b) => b === 0) : Buffer.compare(data, payload(lba, v)) === 0) return v;
  }
  return -1;
}

interface Scenario {
  name: string;
  options: Partial<FtlOptions>;
  seed: number;
  operations: number;
  powerCuts: boolean;
  programFailureRate: number;
  eraseFailureRate: number;
  /**
   * Planes per die: the FTL then sees them through a PlaneView with multi-plane grouping, and each
   * die has `planes` times the blocks, so that each plane's pool is as large as a one-plane die's
   * (smaller pools run out and collect in place, which is not power-safe by design).
   */
  planes?: number;
}

function runScenario(sc: Scenario): { recoveries: number; retired: number; trims: number; gcRuns: number } {
  const planes = sc.planes ?? 1;
  const device: SimulatedNand = createNandDevice({
    geometry: planes > 1 ? { ...geometry, planesPerDie: planes, blocksPerDie: geometry.blocksPerDie * planes } : geometry,
    faults: {
      seed: sc.seed,
      factoryBadBlocks: [5, 40, 77],
      programFailureRate: sc.programFailureRate,
      eraseFailureRate: sc.eraseFailureRate,
    },
  });
  let ftlDevice: SimulatedNand | PlaneView = device;
  if (planes > 1) {
    const clock = device.timing as NandClock;
    const grouping = new MultiPlaneGrouping(clock, planes, geometry.channels * geometry.diesPerChannel);
    clock.sink = grouping;
    ftlDevice = new PlaneView(device, grouping);
  }
  const ftl = new Ftl(ftlDevice, { overProvisioning: 0.4, gcThreshold: 3, ...sc.options });
  const user = ftl.userPages;
  const shadow = new Int32Array(user); // 0: never written or trimmed (reads zeros)
  const random = new Xoshiro128(sc.seed);
  const out = new Uint8Array(geometry.pageSize);
  let nextVersion = 1;
  let recoveries = 0;

  const check = (lba: number): void => {
    ftl.read(lba, out);
    const want = shadow[lba]!;
    assert.equal(versionOf(lba, out, [want]), want, `LBA ${lba}: expected version ${want}`);
  };
  const checkAll = (): void => {
    for (let lba = 0; lba < user; lba++) check(lba);
    ftl.checkConsistency();
  };

  for (let i = 0; i < sc.operations; i++) {
    if (sc.powerCuts && random.nextFloat() < 0.01) device.faults.cutPowerAfter(1 + random.nextInt(12));
    const r = random.nextFloat();
    const lba = random.nextInt(user);
    // The operation in flight when power fails may land or not: remember what it may leave.
    let inFlight: { lbas: number[]; alternatives: number[][] } | null = null;
    try {
      if (r < 0.62) {
        const version = nextVersion++;
        inFlight = { lbas: [lba], alternatives: [[shadow[lba]!, version]] };
        ftl.write(lba, payload(lba, version));
        shadow[lba] = version;
        check(lba);
      } else if (r < 0.7) {
        const count = 1 + random.nextInt(6);
        const lbas: number[] = [];
        for (let x = lba; x < Math.min(user, lba + count); x++) lbas.push(x);
        inFlight = { lbas, alternatives: lbas.map((x) => [shadow[x]!, 0]) };
        ftl.trim(lba, lbas.length);
        for (const x of lbas) shadow[x] = 0;
        for (const x of lbas) check(x);
      } else {
        check(lba);
      }
    } catch (e) {
      if (!isSsdError(e, 'POWER_LOSS')) throw e;
      device.faults.cutPowerAfter(0);
      ftl.recover();
      recoveries++;
      if (inFlight) {
        inFlight.lbas.forEach((x, k) => {
          ftl.read(x, out);
          const got = versionOf(x, out, inFlight!.alternatives[k]!);
          assert.notEqual(got, -1, `after a cut, LBA ${x} holds neither ${inFlight!.alternatives[k]!.join(' nor ')}`);
          shadow[x] = got;
        });
      }
      checkAll();
    }
    if (i % 500 === 499) checkAll();
  }
  device.faults.cutPowerAfter(0);
  checkAll();
  // A clean remount from the spares alone gives the same contents.
  ftl.recover();
  checkAll();
  assert.equal(ftl.counters.inPlaceGcRuns, 0, 'the power-safe path was used throughout');
  return { recoveries, retired: ftl.counters.retiredBlocks, trims: ftl.counters.hostTrimmedPages, gcRuns: ftl.counters.gcRuns };
}

const scenarios: Scenario[] = [
  { name: 'block / bitmap / greedy', options: { gcUnit: 'block', validityMethod: 'bitmap', gcPolicy: 'greedy' }, seed: 11, operations: 6000, powerCuts: true, programFailureRate: 0.001, eraseFailureRate: 0.002 },
  { name: 'superblock / scan / cost-benefit', options: { gcUnit: 'superblock', validityMethod: 'scan', gcPolicy: 'cost-benefit' }, seed: 12, operations: 6000, powerCuts: true, programFailureRate: 0.001, eraseFailureRate: 0.002 },
  { name: 'block / p2l / fifo', options: { gcUnit: 'block', validityMethod: 'p2l', gcPolicy: 'fifo' }, seed: 13, operations: 6000, powerCuts: true, programFailureRate: 0.001, eraseFailureRate: 0.002 },
  { name: 'superblock / bitmap / random + static wear leveling', options: { gcUnit: 'superblock', validityMethod: 'bitmap', gcPolicy: 'random', staticWearLeveling: true, staticWearLevelingThreshold: 4 }, seed: 14, operations: 6000, powerCuts: true, programFailureRate: 0.0005, eraseFailureRate: 0.001 },
  { name: '2 planes per die, pcwd, multi-plane grouping / bitmap / greedy', options: { gcUnit: 'block', hostAllocation: 'pcwd' }, seed: 16, operations: 6000, powerCuts: true, programFailureRate: 0.001, eraseFailureRate: 0.002, planes: 2 },
  { name: '4 planes per die, round robin / p2l / greedy', options: { gcUnit: 'block', validityMethod: 'p2l' }, seed: 17, operations: 6000, powerCuts: true, programFailureRate: 0.001, eraseFailureRate: 0.002, planes: 4 },
  { name: '2 planes per die / superblock / bitmap', options: { gcUnit: 'superblock' }, seed: 18, operations: 6000, powerCuts: true, programFailureRate: 0.0005, eraseFailureRate: 0.001, planes: 2 },
  { name: 'block / scan / greedy, no power cuts, no dynamic wear leveling', options: { gcUnit: 'block', validityMethod: 'scan', gcPolicy: 'greedy', dynamicWearLeveling: false }, seed: 15, operations: 6000, powerCuts: false, programFailureRate: 0.001, eraseFailureRate: 0.001 },
];

describe('shadow model: every read matches the latest write, through TRIM, bad blocks and power cuts', () => {
  for (const sc of scenarios) {
    test(sc.name, () => {
      const r = runScenario(sc);
      // The scenario really exercised what it claims to.
      assert.ok(r.gcRuns > 20, `GC ran ${r.gcRuns} times`);
      assert.ok(r.trims > 0, 'TRIM unmapped pages');
      if (sc.powerCuts) assert.ok(r.recoveries >= 5, `only ${r.recoveries} power cuts`);
      assert.ok(r.retired > 0, 'some blocks were retired at run time');
    });
  }
});
