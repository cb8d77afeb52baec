// The scheduler's multi-plane gather (src/scheduler/multi-plane.ts, found through the die queues'
// chains by plane, kind and page) driven directly: a transaction queued for later (held behind a
// read on another die, so issued when that read is done) must not join a command its die starts
// before then, and joins one started after; reads and programs in one queue, and pages, keep
// apart. Then whole replays with long queues (MQSim's tpcc-small written twice over on a small
// device filled 70 % first), TypeScript engine: every request's latency and the report the same
// as with the gather before the chains (test/whole-queue-walk.ts), with one page address per
// command or any, planes of one or two dies per command, read-first or fifo.
// Upstream counterpart: MQSim's TSU_Base::issue_command_to_chip (a transaction joins only once it
// is in the chip's queue).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { MultiPlaneGrouping, createNandDevice } from '@flashdiff/nand';
import type { NandClock } from '@flashdiff/nand';
import { SsdSimulator, fitToDevice, loadTrace, preconditionSimulator } from '../src/index.ts';
import type { SimulatorConfig, TraceRequest } from '../src/index.ts';
import { CLASS_READ, CLASS_WRITE, TransactionScheduler } from '../src/scheduler.ts';
import { MQSIM_HOST } from './replay-comparison.ts';
import { useWholeQueueWalk } from './whole-queue-walk.ts';

const timing = { tR: 75_000, tPROG: 750_000, tBERS: 3_800_000, transferPerByte: 3 };
const BYTES = 8192 + 448;
const TRANSFER = BYTES * 3;
const READ = 75_000 + TRANSFER;
const PROGRAM = TRANSFER + 750_000;
// 1 channel × 2 dies × 2 planes.
const geometry = { pageSize: 8192, spareSize: 448, pagesPerBlock: 16, blocksPerDie: 32, diesPerChannel: 2, channels: 1, planesPerDie: 2 };

function setup(pagesPerBlock: number): { sc: TransactionScheduler; mp: MultiPlaneGrouping; done: number[] } {
  const clock = createNandDevice({ geometry, timing, metadataOnly: true }).timing as NandClock;
  const sc = new TransactionScheduler(clock, clock.params, 2, 'read-first');
  const mp = new MultiPlaneGrouping(clock, 2, 2);
  mp.samePage = true;
  sc.pagesPerBlock = pagesPerBlock;
  sc.multiPlane = mp;
  const done: number[] = [];
  sc.onComplete = (request, completion) => {
    done[request] = completion;
  };
  return { sc, mp, done };
}

/** Hands over one host read or program on `die`, `plane`, `page` as request `request`. */
function operation(sc: TransactionScheduler, mp: MultiPlaneGrouping, request: number, kind: 'read' | 'program', die: number, plane: number, page: number): void {
  sc.open(request);
  mp.setPlanes(plane, plane);
  mp.readPageInBlock = page;
  mp.programPageInBlock = page;
  // A host read, in the die's read queue; a host write's program in its write queue.
  sc.operationClass = kind === 'read' ? CLASS_READ : CLASS_WRITE;
  if (kind === 'read') sc.read(die, 0, BYTES);
  else sc.program(die, 0, BYTES);
  sc.seal(request);
}

describe('multi-plane gather through the chains', () => {
  for (const pagesPerBlock of [16, 0]) {
    const chains = pagesPerBlock > 0 ? 'by page' : 'by plane and kind only';
    test(`a program held behind another die's read joins no command before its issue, one after (${chains})`, () => {
      for (const busy of [false, true]) {
        const { sc, mp, done } = setup(pagesPerBlock);
        // With `busy`, die 1 first runs an erase (until tBERS) as request 2.
        if (busy) {
          sc.open(2);
          mp.setPlanes(0, 0);
          sc.erase(1);
          sc.seal(2);
        }
        // Request 0: a host read on die 0, and a program on die 1 plane 1 page 5 held until the
        // read is done (queued when the read starts, issued at READ).
        sc.open(0);
        sc.operationClass = CLASS_READ;
        mp.setPlanes(0, 0);
        mp.readPageInBlock = 3;
        sc.read(0, 0, BYTES);
        sc.holdAfter = sc.lastTransaction;
        sc.operationClass = CLASS_WRITE;
        mp.setPlanes(1, 1);
        mp.programPageInBlock = 5;
        sc.program(1, 0, BYTES);
        sc.holdAfter = null;
        sc.seal(0);
        // Request 1: a program on die 1 plane 0 page 5.
        operation(sc, mp, 1, 'program', 1, 0, 5);
        sc.drain();
        if (!busy) {
          // Die 1 starts it at 0 (after die 0's read, which queued the held program), before the
          // held program is issued: alone.
          assert.equal(mp.multiPlaneCommands, 0);
          assert.equal(done[1], PROGRAM);
        } else {
          // Die 1 starts it after the erase, at tBERS: the held program, issued at READ, joins it.
          assert.equal(mp.multiPlaneCommands, 1);
          assert.equal(done[1], timing.tBERS + 2 * TRANSFER + timing.tPROG);
          assert.equal(done[0], done[1]);
        }
      }
    });

    test(`a read takes the read at its page on the other plane, not a program or another page (${chains})`, () => {
      const { sc, mp, done } = setup(pagesPerBlock);
      // Die 0 busy with a program from 0; at 1 µs a program and two reads wait on plane 1, a read on plane 0.
      operation(sc, mp, 0, 'program', 0, 0, 9);
      sc.advance(1000);
      operation(sc, mp, 1, 'program', 0, 1, 4);
      operation(sc, mp, 2, 'read', 0, 1, 7);
      operation(sc, mp, 3, 'read', 0, 1, 4);
      operation(sc, mp, 4, 'read', 0, 0, 4);
      sc.drain();
      assert.equal(mp.multiPlaneCommands, 1);
      // After the first program: reads first, request 2's read alone (no page 7 on plane 0), then
      // request 3's with request 4's (page 4 on both planes: one tR, two transfers), then the program.
      assert.equal(done[2], PROGRAM + READ);
      assert.equal(done[3], PROGRAM + 2 * READ);
      assert.equal(done[4], PROGRAM + 2 * READ + TRANSFER);
      assert.equal(done[1], PROGRAM + 2 * READ + TRANSFER + PROGRAM);
    });

    test(`a read takes no program waiting at its page on the other plane (${chains})`, () => {
      const { sc, mp, done } = setup(pagesPerBlock);
      operation(sc, mp, 0, 'program', 0, 0, 9);
      sc.advance(1000);
      operation(sc, mp, 1, 'program', 0, 0, 4);
      operation(sc, mp, 2, 'read', 0, 1, 4);
      sc.drain();
      assert.equal(mp.multiPlaneCommands, 0);
      assert.equal(done[2], PROGRAM + READ);
      assert.equal(done[1], PROGRAM + READ + PROGRAM);
    });
  }
});

describe('the chains form the commands of a whole-queue walk (TypeScript replays with long queues)', () => {
  const tpcc = loadTrace(fileURLToPath(new URL('./fixtures/traces/mqsim-tpcc-small.trace', import.meta.url))).requests;
  const small = { pageSize: 8192, spareSize: 448, pagesPerBlock: 48, blocksPerDie: 4 * 40, diesPerChannel: 2, channels: 2, planesPerDie: 4 };

  function replay(config: SimulatorConfig, walk: boolean): { log: number[]; report: string; commands: number } {
    const sim = new SsdSimulator({ ...config, ftl: { ...config.ftl, wasmKernel: false } });
    preconditionSimulator(sim, { state: 'sequential', occupancy: 0.7, seed: 321 });
    const one = fitToDevice(tpcc, sim.userPages * 8192).requests;
    const all: TraceRequest[] = [];
    for (let k = 0; k < 2; k++) for (const r of one) all.push({ ...r, arrivalNs: r.arrivalNs + k * 2e10 });
    const log: number[] = [];
    sim.requestLog = log;
    useWholeQueueWalk(walk);
    try {
      const report = sim.replay(all);
      return { log, report: JSON.stringify({ ...report, config: null }), commands: sim.multiPlane!.multiPlaneCommands };
    } finally {
      useWholeQueueWalk(false);
    }
  }

  const cases: [string, SimulatorConfig][] = [
    ['one page address, two dies per chip, read-first', { ...MQSIM_HOST, geometry: small }],
    ['any page, two dies per chip', { ...MQSIM_HOST, geometry: small, multiPlaneSamePage: false }],
    ['one page address, one die per chip, fifo', { ...MQSIM_HOST, geometry: small, multiPlaneDiesPerChip: 1, transactionScheduling: 'fifo' }],
  ];
  for (const [name, config] of cases) {
    test(name, () => {
      const chains = replay(config, false);
      const walked = replay(config, true);
      assert.ok(chains.commands > 1000, `multi-plane commands formed (${chains.commands})`);
      assert.equal(chains.commands, walked.commands);
      assert.equal(chains.log.length, walked.log.length);
      assert.deepEqual(chains.log, walked.log);
      assert.equal(chains.report, walked.report);
    });
  }
});
