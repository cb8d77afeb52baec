// Garbage collection under the transaction scheduler (issue 17): foreground GC's operations are a
// class of their own; with 'read-first' a die serves its GC transactions before host reads and
// writes (MQSim's PRIORITY_OUT_OF_ORDER with non-preemptible GC), and GC moves whole pages even
// inside a request that moves part of one.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SsdSimulator, isSsdError } from '../src/index.ts';
import type { SimulatorConfig, TraceRequest } from '../src/index.ts';

const timing = { tR: 75_000, tPROG: 750_000, tBERS: 3_800_000, transferPerByte: 3 };
const TRANSFER = (8192 + 448) * 3;
// 1 channel × 1 die × 8 blocks × 4 pages, OP 1: 16 user pages, GC below 2 free blocks.
const geometry = { pageSize: 8192, spareSize: 448, pagesPerBlock: 4, blocksPerDie: 8, diesPerChannel: 1, channels: 1 };

function request(line: number, arrivalNs: number, page: number, isRead: boolean): TraceRequest {
  return { arrivalNs, device: 0, sector: page * 16, sectors: 16, isRead, line };
}

function simulator(transactionScheduling: 'fifo' | 'read-first', extra: Partial<SimulatorConfig> = {}): SsdSimulator {
  const config: SimulatorConfig = { geometry, timing, backgroundGcIdleNs: 0, queueDepth: 64, transactionScheduling, ftl: { overProvisioning: 1 }, ...extra };
  const sim = new SsdSimulator(config);
  sim.startMeasurement();
  return sim;
}

// Fill the 16 pages, then overwrite LBAs 0, 1, 4, 5, 8, 9, 12, 13, 2: the next write (LBA 3) finds
// one free block and collects two victims, moving 3 valid pages.
const PREPARE = [...Array(16).keys(), 0, 1, 4, 5, 8, 9, 12, 13, 2];

/** Replays PREPARE one request at a time, then writes LBA 3 with a host read of LBA 6 1 µs behind it. */
function gcWithRead(transactionScheduling: 'fifo' | 'read-first', extra: Partial<SimulatorConfig> = {}): { erases: number; moved: number; read: number; write: number } {
  const sim = simulator(transactionScheduling, extra);
  PREPARE.forEach((p, i) => sim.replay([request(i + 1, 0, p, false)]));
  const erases = sim.ftl.counters.erases;
  const moved = sim.ftl.counters.gcMovedPages;
  sim.startMeasurement();
  const r = sim.replay([request(100, 0, 3, false), request(101, 1000, 6, true)]);
  return { erases: sim.ftl.counters.erases - erases, moved: sim.ftl.counters.gcMovedPages - moved, read: r.readLatencyUs.max * 1000, write: r.writeLatencyUs.max * 1000 };
}

describe('GC under the transaction scheduler', () => {
  test('read-first: a host read waits for the GC its die has queued (GC first, as MQSim), then goes before the host program', () => {
    const outcome = gcWithRead('read-first');
    assert.deepEqual([outcome.erases, outcome.moved], [2, 3]);
    // GC: per moved page a read and a program; then the erase. The read comes after all of it
    // (its tR and transfer), and the host program after the read.
    const gc = outcome.moved * (timing.tR + 2 * TRANSFER + timing.tPROG) + outcome.erases * timing.tBERS;
    const read = timing.tR + TRANSFER;
    assert.equal(outcome.read, gc + read - 1000);
    assert.equal(outcome.write, gc + read + TRANSFER + timing.tPROG);
    // fifo: the same order here (GC, the host program queued with it, then the read).
    const fifo = gcWithRead('fifo');
    assert.equal(fifo.write, gc + TRANSFER + timing.tPROG);
    assert.equal(fifo.read, gc + TRANSFER + timing.tPROG + read - 1000);
  });

  test("gcPriority 'preemptible' (MQSim's preemptible GC): the read goes before GC while no pool is below gcHardThreshold", () => {
    const first = gcWithRead('read-first');
    const gc = first.moved * (timing.tR + 2 * TRANSFER + timing.tPROG) + first.erases * timing.tBERS;
    const read = timing.tR + TRANSFER;
    // Host work first: the host program at 0, the host read when it ends, GC after them.
    const preemptible = gcWithRead('read-first', { gcPriority: 'preemptible', gcHardThreshold: 1 });
    const program = TRANSFER + timing.tPROG;
    assert.equal(preemptible.write, program);
    assert.equal(preemptible.read, program + read - 1000);
    assert.ok(gc > program + read);
    // Below the hard threshold (every pool has fewer than 8 free blocks) GC goes first again.
    const urgent = gcWithRead('read-first', { gcPriority: 'preemptible', gcHardThreshold: 8 });
    assert.equal(urgent.read, first.read);
    assert.throws(() => simulator('fifo', { gcPriority: 'preemptible' }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /gcPriority/.test(e.message));
    assert.throws(() => simulator('read-first', { gcPriority: 'later' as 'first' }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /gcPriority/.test(e.message));
    assert.throws(() => new SsdSimulator({ geometry, gcPriority: 'preemptible' }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG'));
  });
});
