// Multi-plane commands under the transaction scheduler (issue 17): when a die starts a transaction,
// the waiting transactions of its kind on its other planes go with it (MQSim's
// TSU_Base::issue_command_to_chip), optionally only at the same page address (MQSim's PageID rule)
// and within one of the chip's dies; the report gives the transactions' mean turnaround.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MultiPlaneGrouping, createNandDevice } from '@flashdiff/nand';
import type { NandClock } from '@flashdiff/nand';
import { SsdSimulator, isSsdError } from '../src/index.ts';
import type { SimulatorConfig, TraceRequest } from '../src/index.ts';

const timing = { tR: 75_000, tPROG: 750_000, tBERS: 3_800_000, transferPerByte: 3 };
const TRANSFER = (8192 + 448) * 3;
const PROGRAM = TRANSFER + 750_000;
const READ = 75_000 + TRANSFER;
// 1 channel × 1 die × 2 planes: with cwdp, LBA n goes to plane n mod 2.
const geometry = { pageSize: 8192, spareSize: 448, pagesPerBlock: 16, blocksPerDie: 32, diesPerChannel: 1, channels: 1, planesPerDie: 2 };

function request(line: number, arrivalNs: number, page: number, isRead: boolean): TraceRequest {
  return { arrivalNs, device: 0, sector: page * 16, sectors: 16, isRead, line };
}

function simulator(extra: Partial<SimulatorConfig>): SsdSimulator {
  const sim = new SsdSimulator({ geometry, timing, backgroundGcIdleNs: 0, queueDepth: 64, transactionScheduling: 'read-first', ftl: { hostAllocation: 'cwdp' }, ...extra });
  sim.startMeasurement();
  return sim;
}

/** Each request's latency (ns), in trace order. */
function latencies(sim: SsdSimulator, trace: TraceRequest[]): number[] {
  const out: number[] = [];
  for (const r of trace) out.push(sim.replay([r]).latencyUs.max * 1000);
  return out;
}

describe('multi-plane commands under the transaction scheduler', () => {
  // LBA 2 (plane 0, page 0) keeps the die busy from t = 0; then LBA 0 (plane 0, page 1), LBA 1
  // (plane 1, page 0) and LBA 3 (plane 1, page 1) wait for it together.
  const trace = [request(1, 0, 2, false), request(2, 1000, 0, false), request(3, 1000, 1, false), request(4, 1000, 3, false)];

  test('any pages: the first waiting program takes the first one waiting on the other plane (two transfers, one tPROG)', () => {
    const sim = simulator({ multiPlane: true });
    const r = sim.replay(trace);
    // LBA 0 + LBA 1 at PROGRAM (one command), then LBA 3 alone.
    const pair = PROGRAM + 2 * TRANSFER + 750_000;
    assert.equal(r.writeLatencyUs.max, (pair + PROGRAM - 1000) / 1000);
    assert.equal(r.writeLatencyUs.mean, (PROGRAM + 2 * (pair - 1000) + (pair + PROGRAM - 1000)) / 4 / 1000);
    assert.equal(sim.multiPlane!.multiPlaneCommands, 1);
    assert.equal(r.transactionTurnaround!.programs, 4);
    assert.equal(r.transactionTurnaround!.programMeanUs, r.writeLatencyUs.mean);
  });

  test('same page address (MQSim): LBA 0 (page 1) pairs with LBA 3 (page 1), never with LBA 1 (page 0)', () => {
    const pair = PROGRAM + 2 * TRANSFER + 750_000;
    // Without LBA 3: nothing pairs, the three programs take turns.
    const three = simulator({ multiPlane: true, multiPlaneSamePage: true });
    const r3 = three.replay(trace.slice(0, 3));
    assert.equal(three.multiPlane!.multiPlaneCommands, 0);
    assert.equal(r3.writeLatencyUs.max, (3 * PROGRAM - 1000) / 1000);
    // Any pages: LBA 0 and LBA 1 pair.
    const any = simulator({ multiPlane: true });
    assert.equal(any.replay(trace.slice(0, 3)).writeLatencyUs.max, (pair - 1000) / 1000);
    // With LBA 3: LBA 0 and LBA 3 pair, LBA 1 goes after them.
    const four = simulator({ multiPlane: true, multiPlaneSamePage: true });
    const r4 = four.replay(trace);
    assert.equal(four.multiPlane!.multiPlaneCommands, 1);
    assert.equal(r4.writeLatencyUs.max, (pair + PROGRAM - 1000) / 1000);
  });

  test('without multiPlane the planes take turns', () => {
    const sim = simulator({});
    const r = sim.replay(trace);
    assert.equal(r.writeLatencyUs.max, (4 * PROGRAM - 1000) / 1000);
    assert.equal(sim.multiPlane, null);
  });

  test('reads on two planes: one tR, two transfers out', () => {
    // Write LBA 0 and 1 (page 0 of each plane) far apart, then keep the die busy with a program
    // (LBA 2) and read LBA 0 and 1 while it runs.
    const sim = simulator({ multiPlane: true, multiPlaneSamePage: true });
    latencies(sim, [request(1, 0, 0, false), request(2, 10_000_000, 1, false)]);
    const before = sim.multiPlane!.multiPlaneCommands;
    sim.startMeasurement();
    const r = sim.replay([request(3, 0, 2, false), request(4, 1000, 0, true), request(5, 1000, 1, true)]);
    assert.equal(sim.multiPlane!.multiPlaneCommands - before, 1);
    // Both reads start when the program ends: the first page out after tR, the second after it.
    assert.equal(r.readLatencyUs.max, (PROGRAM + READ + TRANSFER - 1000) / 1000);
    assert.equal(r.readLatencyUs.mean, (PROGRAM + READ - 1000 + PROGRAM + READ + TRANSFER - 1000) / 2 / 1000);
    assert.equal(r.transactionTurnaround!.reads, 2);
    assert.equal(r.transactionTurnaround!.readMeanUs, r.readLatencyUs.mean);
  });

  test('multiPlaneDiesPerChip: planes of different dies of the chip never share a command', () => {
    // 4 planes = 2 dies × 2 planes (plane q is die q mod 2): LBA 1 (plane 1) cannot join LBA 0 (plane 0), LBA 2 (plane 2) can.
    const four = { ...geometry, planesPerDie: 4 };
    const run = (diesPerChip: number) => {
      const sim = simulator({ geometry: four, multiPlane: true, multiPlaneDiesPerChip: diesPerChip });
      sim.replay([request(1, 0, 3, false), request(2, 1000, 0, false), request(3, 1000, 1, false), request(4, 1000, 2, false)]);
      return sim.multiPlane!.multiPlaneOperations;
    };
    assert.equal(run(1), 3); // LBA 0, 1 and 2 in one command
    assert.equal(run(2), 2); // LBA 0 and 2 (die 0), then LBA 1 alone
    assert.throws(() => simulator({ geometry: four, multiPlane: true, multiPlaneDiesPerChip: 3 }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /multiPlaneDiesPerChip/.test(e.message));
    assert.throws(() => simulator({ multiPlaneSamePage: true }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG'));
  });
});

describe('the same rules in the eager grouping (MultiPlaneGrouping)', () => {
  test('samePage and planeSets decide which programs join the die\'s command', () => {
    /** [commands, operations] of multi-plane commands after programs on (plane, page) in turn, all waiting together. */
    const run = (rules: { samePage: boolean; planeSets: number }, ops: [plane: number, page: number][]): [number, number] => {
      const device = createNandDevice({ geometry: { ...geometry, planesPerDie: 4 }, metadataOnly: true, wasmKernel: false });
      const clock = device.timing as NandClock;
      const grouping = new MultiPlaneGrouping(clock, 4, 1);
      grouping.samePage = rules.samePage;
      grouping.planeSets = rules.planeSets;
      clock.sink = grouping;
      for (const [plane, page] of ops) {
        grouping.setPlanes(0, plane);
        grouping.programPageInBlock = page;
        clock.program(0, 0, 8192 + 448);
      }
      return [grouping.multiPlaneCommands, grouping.multiPlaneOperations];
    };
    const pages: [number, number][] = [[0, 5], [1, 5], [2, 6], [3, 5]];
    assert.deepEqual(run({ samePage: false, planeSets: 1 }, pages), [1, 4]);
    // Planes 0 and 1 at page 5 join; plane 2 (page 6) starts a command that plane 3 (page 5) cannot join.
    assert.deepEqual(run({ samePage: true, planeSets: 1 }, pages), [1, 2]);
    const sets: [number, number][] = [[0, 5], [2, 5], [1, 5], [3, 5]];
    assert.deepEqual(run({ samePage: false, planeSets: 1 }, sets), [1, 4]);
    // Two dies of two planes (plane q in die q mod 2): planes 0 + 2, then 1 + 3.
    assert.deepEqual(run({ samePage: false, planeSets: 2 }, sets), [2, 4]);
  });
});
