// The lazily materialised sequential fill (kernel/ftl/lazy-fill.ts, src/ftl/lazy-fill.ts) against
// the eager kernel fill (FtlState.lazyFill false: every L2P entry, head, page state and programmed
// byte written as the fill goes): the same seeded work after each — kernel trace replays that
// collect (MQSim's host configuration, 256 and 48 pages per block), the kernel run loop with
// writes that collect and with reads and TRIMs handed back to TypeScript, a power cut and
// recovery, inspection — must leave the same results and tables: every request's latency, the
// report, the L2P, the P2L (the heads), validity, valid counts, write pointers, oldest sequences,
// unit stamps, free pools, erase counts, page states, the device's counts. Where the work ran in
// the kernel, some of the fill must still have been implied at its end (the lazy side was lazy).
// The implied mapping itself: TypeScript's impliedPage gives the eager fill's L2P for every write,
// and a change to the kernel's tables of what is implied (two fill blocks swapped) changes the
// tables the replay leaves (the comparison catches it).
// Upstream counterpart: MQSim's preconditioning (FTL::Perform_precondition).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { isNandError } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import { SsdSimulator, fitToDevice, isSsdError, loadTrace } from '../src/index.ts';
import type { SimulatorConfig, TraceRequest } from '../src/index.ts';
import { impliedPage } from '../src/ftl/lazy-fill.ts';
import { preconditionSimulator } from '../src/precondition.ts';
import { MQSIM_HOST, replayOutcome } from './replay-comparison.ts';

const traceDir = fileURLToPath(new URL('./fixtures/traces/', import.meta.url));
const tpcc = loadTrace(`${traceDir}mqsim-tpcc-small.trace`).requests;

const mqsimGeometry = (blocks: number, pages: number): NandGeometry => ({
  pageSize: 8192, spareSize: 448, pagesPerBlock: pages, blocksPerDie: 4 * blocks, diesPerChannel: 2, channels: 2, planesPerDie: 4,
});

/** A new simulator filled sequentially to `occupancy` by the kernel's marked fill, lazily or not. */
function filled(config: SimulatorConfig, lazy: boolean, occupancy = 0.7): SsdSimulator {
  const sim = new SsdSimulator(config);
  sim.ftl.internalState.lazyFill = lazy;
  const report = preconditionSimulator(sim, { state: 'sequential', occupancy, seed: 321, fill: 'marked' });
  assert.equal(report.fill, 'marked', `marked fill (${report.fillNote ?? ''})`);
  assert.equal(sim.ftl.internalState.impliedFill !== null, lazy, lazy ? 'the fill left entries implied' : 'the eager fill wrote every entry');
  return sim;
}

/** The trace fitted to the device and written `times` over, 20 s apart. */
function repeated(sim: SsdSimulator, times: number): TraceRequest[] {
  const one = fitToDevice(tpcc, sim.userPages * 8192).requests;
  const all: TraceRequest[] = [];
  for (let k = 0; k < times; k++) for (const r of one) all.push({ ...r, arrivalNs: r.arrivalNs + k * 2e10 });
  return all;
}

/** Every table the FTL and the device keep (read through Ftl, which settles an implied fill first). */
function tables(sim: SsdSimulator): Record<string, unknown> {
  const f = sim.ftl;
  return {
    l2p: f.l2p,
    p2l: f.p2l,
    validBits: Array.from(f.validBits),
    blockValid: Array.from(f.blockValid),
    unitValid: Array.from(f.unitValid),
    blockState: Array.from(f.blockState),
    unitState: Array.from(f.unitState),
    writePointer: Array.from(f.writePointer),
    blockMinSeq: Array.from(f.blockMinSeq),
    unitStamp: Array.from(f.unitStamp),
    freeCount: Array.from(f.freeCount),
    nextSequence: f.nextSequence,
    hostCursor: f.internalState.hostCursor,
    counters: f.counters,
    pageState: Array.from(f.snapshot().pageState),
    eraseCounts: Array.from(sim.eraseCounts()),
    deviceStats: sim.device.stats,
  };
}

function assertSameTables(lazy: SsdSimulator, eager: SsdSimulator, label: string): void {
  const a = tables(lazy);
  const b = tables(eager);
  for (const key of Object.keys(b)) assert.deepEqual(a[key], b[key], `${label}: ${key}`);
  lazy.ftl.checkConsistency();
}

/** A kernel replay of tpcc-small written `times` over after the fill: its outcome and whether the fill was still implied at its end. */
function replayed(config: SimulatorConfig, lazy: boolean, times: number): { sim: SsdSimulator; implied: boolean; outcome: ReturnType<typeof replayOutcome> } {
  const sim = filled(config, lazy);
  const log: number[] = [];
  sim.requestLog = log;
  const report = sim.replay(repeated(sim, times));
  assert.equal(sim.engine().replayKernel, true, `the kernel replayed: ${sim.engine().typescriptBecause.join('; ')}`);
  const implied = sim.ftl.internalState.impliedFill !== null;
  return { sim, implied, outcome: replayOutcome(sim, log, report) };
}

describe('the lazy fill against the eager fill', () => {
  const replays: [string, SimulatorConfig, number][] = [
    ['kernel replay, 256 pages per block, collecting', { ...MQSIM_HOST, geometry: mqsimGeometry(16, 256) }, 6],
    ['kernel replay, 48 pages per block, collecting', { ...MQSIM_HOST, geometry: mqsimGeometry(80, 48) }, 6],
    ['kernel replay, 256 pages per block, once over (little GC)', { ...MQSIM_HOST, geometry: mqsimGeometry(64, 256) }, 1],
  ];
  for (const [name, config, times] of replays) {
    test(name, () => {
      const lazy = replayed(config, true, times);
      const eager = replayed(config, false, times);
      assert.equal(lazy.implied, true, 'part of the fill was still implied after the replay');
      assert.deepEqual(lazy.outcome.log, eager.outcome.log, 'every request');
      assert.equal(lazy.outcome.report, eager.outcome.report, 'report');
      assert.deepEqual(lazy.outcome.readHistogram, eager.outcome.readHistogram, 'read histogram');
      assert.deepEqual(lazy.outcome.writeHistogram, eager.outcome.writeHistogram, 'write histogram');
      assert.deepEqual(lazy.outcome.clock, eager.outcome.clock, 'clock');
      assertSameTables(lazy.sim, eager.sim, name);
      if (times > 1) assert.ok(lazy.sim.ftl.counters.gcRuns > 0, 'the replay collected');
    });
  }

  // The FTL kernel's run loop: one plane per die (round robin, and a static scheme).
  const small: NandGeometry = { pageSize: 2048, spareSize: 64, pagesPerBlock: 32, blocksPerDie: 48, diesPerChannel: 2, channels: 2 };
  const loops: [string, SimulatorConfig, boolean][] = [
    ['kernel run loop, uniform writes, round robin', { geometry: small, ftl: { overProvisioning: 0.2, wasmKernel: true }, workload: { kind: 'uniform', seed: 3 }, snapshotEvery: 0 }, true],
    ['kernel run loop, uniform writes, cwdp', { geometry: small, ftl: { overProvisioning: 0.2, wasmKernel: true, hostAllocation: 'cwdp' }, workload: { kind: 'uniform', seed: 4 }, snapshotEvery: 0 }, true],
    ['kernel run loop, reads and TRIMs handed back', { geometry: small, ftl: { overProvisioning: 0.2, wasmKernel: true }, workload: { kind: 'hotcold', seed: 5, readRatio: 0.2, trimRatio: 0.05 }, snapshotEvery: 500 }, false],
  ];
  for (const [name, config, writesOnly] of loops) {
    test(name, () => {
      const run = (lazy: boolean): { sim: SsdSimulator; implied: boolean; report: unknown } => {
        const sim = filled(config, lazy, 0.6);
        const report = sim.run(Math.round(sim.userPages * (writesOnly ? 0.8 : 2)));
        const implied = sim.ftl.internalState.impliedFill !== null;
        assert.ok(sim.kernelLoop.batches > 0, 'the kernel loop ran');
        return { sim, implied, report: JSON.parse(JSON.stringify(report)) as unknown };
      };
      const lazy = run(true);
      const eager = run(false);
      if (writesOnly) assert.equal(lazy.implied, true, 'part of the fill was still implied after the run');
      assert.deepEqual(lazy.report, eager.report, 'report');
      assertSameTables(lazy.sim, eager.sim, name);
      assert.ok(lazy.sim.ftl.counters.gcRuns > 0, 'the run collected');
    });
  }

  test('a power cut after kernel writes, then recovery', () => {
    const config: SimulatorConfig = { geometry: small, ftl: { overProvisioning: 0.2, wasmKernel: true }, workload: { kind: 'uniform', seed: 8 }, snapshotEvery: 0 };
    const cut = (lazy: boolean): SsdSimulator => {
      const sim = filled(config, lazy, 0.6);
      sim.run(200);
      assert.equal(sim.ftl.internalState.impliedFill !== null, lazy, 'still implied before the cut');
      sim.device.faults.cutPowerAfter(37);
      let lost = false;
      try {
        sim.run(2000);
      } catch (e) {
        if (!isSsdError(e, 'POWER_LOSS') && !isNandError(e, 'POWER_LOSS')) throw e;
        lost = true;
      }
      assert.ok(lost, 'the power was cut');
      sim.ftl.recover();
      sim.run(3000);
      return sim;
    };
    assertSameTables(cut(true), cut(false), 'power cut');
  });

  test('impliedPage gives the eager fill\'s L2P, and a change to the implied tables is caught', () => {
    const config: SimulatorConfig = { ...MQSIM_HOST, geometry: mqsimGeometry(16, 48) };
    const eager = filled(config, false);
    const lazy = filled(config, true);
    const st = lazy.ftl.internalState;
    const fill = st.impliedFill!;
    const l2p = eager.ftl.l2p;
    for (let i = 0; i < fill.count; i++) {
      if (impliedPage(fill, st.pagesPerBlock, st.dataPages, i) !== l2p[fill.first + i]) assert.fail(`write ${i}: implied page differs from the eager fill's`);
    }
    // Untouched, the settled tables are the eager fill's; with die 0's first two fill blocks
    // swapped in the kernel's list (what a wrong slot arithmetic would do), they are not.
    assertSameTables(lazy, eager, 'settled');
    const mutated = filled(config, true);
    const m = mutated.ftl.internalState.impliedFill!;
    const at = 2 * m.listStart[0]!;
    const [b0, r0, b1, r1] = [m.blockList[at]!, m.blockList[at + 1]!, m.blockList[at + 2]!, m.blockList[at + 3]!];
    m.blockList.set([b1, r1, b0, r0], at);
    assert.notDeepEqual(mutated.ftl.l2p, l2p, 'the mutation changes the L2P');
  });
});
