// The controller's transaction scheduler (issue 17): per-die queues, host reads first, and the
// replay host model over it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { SsdSimulator, isSsdError, readTraceFile } from '../src/index.ts';
import type { SimulatorConfig, TraceRequest } from '../src/index.ts';

const timing = { tR: 75_000, tPROG: 750_000, tBERS: 3_800_000, transferPerByte: 3 };
const TRANSFER = (8192 + 448) * 3;
const PROGRAM = TRANSFER + 750_000;
const READ = 75_000 + TRANSFER;
// 4 channels × 1 die: with cwdp allocation LBAs 0, 4, 8 … all go to die 0.
const geometry = { pageSize: 8192, spareSize: 448, pagesPerBlock: 16, blocksPerDie: 32, diesPerChannel: 1, channels: 4 };

function request(line: number, arrivalNs: number, page: number, isRead: boolean): TraceRequest {
  return { arrivalNs, device: 0, sector: page * 16, sectors: 16, isRead, line };
}

function simulator(extra: Partial<SimulatorConfig>): SsdSimulator {
  const sim = new SsdSimulator({ geometry, timing, backgroundGcIdleNs: 0, queueDepth: 64, ftl: { hostAllocation: 'cwdp' }, ...extra });
  sim.startMeasurement();
  return sim;
}

describe('transaction scheduler', () => {
  // Three programs queue on die 0 at t = 0; a read of another die-0 page arrives 1 µs later.
  const trace = [request(1, 0, 0, false), request(2, 0, 4, false), request(3, 0, 8, false), request(4, 1000, 12, true)];

  test('fifo: the read waits for every program queued before it (as the eager clock computes)', () => {
    for (const transactionScheduling of ['eager', 'fifo'] as const) {
      const r = simulator({ transactionScheduling, unmappedReads: 'flash-read' }).replay(trace);
      assert.equal(r.readLatencyUs.max, (3 * PROGRAM + READ - 1000) / 1000, transactionScheduling);
      assert.equal(r.writeLatencyUs.max, (3 * PROGRAM) / 1000, transactionScheduling);
    }
  });

  test('read-first: the read waits only for the program its die is running, then goes first', () => {
    const r = simulator({ transactionScheduling: 'read-first', unmappedReads: 'flash-read' }).replay(trace);
    assert.equal(r.readLatencyUs.max, (PROGRAM + READ - 1000) / 1000);
    // The last program is pushed back by the read.
    assert.equal(r.writeLatencyUs.max, (3 * PROGRAM + READ) / 1000);
    assert.equal(r.config.transactionScheduling, 'read-first');
  });

  test('fifo equals the eager clock on a real trace where no channel is shared', () => {
    const path = fileURLToPath(new URL('./fixtures/traces/mqsim-tpcc-small.trace', import.meta.url));
    const requests = readTraceFile(path).slice(0, 1500);
    const eager = simulator({ unmappedReads: 'flash-read', ftl: {} }).replay(requests);
    const fifo = simulator({ transactionScheduling: 'fifo', unmappedReads: 'flash-read', ftl: {} }).replay(requests);
    assert.deepEqual(fifo.readLatencyUs, eager.readLatencyUs);
    assert.deepEqual(fifo.writeLatencyUs, eager.writeLatencyUs);
    assert.equal(fifo.throughput.simulatedSeconds, eager.throughput.simulatedSeconds);
    assert.equal(fifo.nandPageWrites, eager.nandPageWrites);
  });

  test('queue depth 1 with the scheduler: each request issues when the one before completes', () => {
    const writes = [request(1, 0, 0, false), request(2, 0, 1, false), request(3, 0, 2, false)];
    const r = simulator({ transactionScheduling: 'read-first', queueDepth: 1 }).replay(writes);
    assert.equal(r.writeLatencyUs.count, 3);
    assert.equal(r.writeLatencyUs.max, (3 * PROGRAM) / 1000);
    assert.equal(r.throughput.simulatedSeconds, (3 * PROGRAM) / 1e9);
  });

  test('partial-page transfers move only the sectors touched', () => {
    const half = [{ arrivalNs: 0, device: 0, sector: 8, sectors: 8, isRead: false, line: 1 }];
    const r = simulator({ transactionScheduling: 'read-first', partialPageTransfers: true }).replay(half);
    assert.equal(r.writeLatencyUs.max, (4096 * 3 + 750_000) / 1000);
  });

  test('read-modify-write: a partial write of a page with data reads it first and programs after the read', () => {
    const trace = [request(1, 0, 0, false), { arrivalNs: 10_000_000, device: 0, sector: 8, sectors: 8, isRead: false, line: 2 }];
    const overwrite = simulator({ transactionScheduling: 'read-first' }).replay(trace);
    assert.equal(overwrite.readModifyWriteReads, 0);
    assert.equal(overwrite.writeLatencyUs.max, PROGRAM / 1000);
    const rmw = simulator({ transactionScheduling: 'read-first', partialPageWrites: 'read-modify-write' }).replay(trace);
    assert.equal(rmw.readModifyWriteReads, 1);
    assert.equal(rmw.nandPageReads, 1);
    assert.equal(rmw.writeLatencyUs.max, (READ + PROGRAM) / 1000);
    assert.equal(rmw.config.partialPageWrites, 'read-modify-write');
    // Partial transfers: the read moves the half the write leaves, the program the half it brings.
    const partial = simulator({ transactionScheduling: 'read-first', partialPageWrites: 'read-modify-write', partialPageTransfers: true }).replay(trace);
    assert.equal(partial.writeLatencyUs.max, (75_000 + 4096 * 3 + 4096 * 3 + 750_000) / 1000);
    // The eager clock charges the read too (issued with the program, not before it).
    const eager = simulator({ partialPageWrites: 'read-modify-write' }).replay(trace);
    assert.equal(eager.readModifyWriteReads, 1);
    assert.equal(eager.nandPageReads, 1);
  });

  test('program suspend: a host read arriving mid-program runs after the suspend latency; the program ends later by as much', () => {
    // A program on die 0 from 0 to PROGRAM; a read of another die-0 page arrives at 100 µs.
    const trace = [request(1, 0, 0, false), request(2, 100_000, 4, true)];
    const plain = simulator({ transactionScheduling: 'read-first', unmappedReads: 'flash-read' }).replay(trace);
    assert.equal(plain.readLatencyUs.max, (PROGRAM - 100_000 + READ) / 1000);
    assert.equal(plain.suspensions, 0);
    const suspended = simulator({ transactionScheduling: 'read-first', unmappedReads: 'flash-read', suspend: { operations: 'program', latencyNs: 20_000 } }).replay(trace);
    const read = 20_000 + READ;
    assert.equal(suspended.suspensions, 1);
    assert.equal(suspended.readLatencyUs.max, read / 1000);
    assert.equal(suspended.writeLatencyUs.max, (PROGRAM + read) / 1000);
    // Too little of the program left (under minimumRemainingNs): no suspension.
    const late = simulator({ transactionScheduling: 'read-first', unmappedReads: 'flash-read', suspend: { operations: 'program', minimumRemainingNs: 700_000 } }).replay(trace);
    assert.equal(late.suspensions, 0);
    // Erase suspension only: a program is not suspended.
    const eraseOnly = simulator({ transactionScheduling: 'read-first', unmappedReads: 'flash-read', suspend: { operations: 'erase' } }).replay(trace);
    assert.equal(eraseOnly.suspensions, 0);
    assert.throws(() => simulator({ suspend: { operations: 'program' } }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /suspend/.test(e.message));
  });

  test('an unknown transactionScheduling is INVALID_CONFIG', () => {
    assert.throws(() => simulator({ transactionScheduling: 'lifo' as 'fifo' }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /transactionScheduling/.test(e.message));
    assert.throws(() => simulator({ partialPageWrites: 'merge' as 'overwrite' }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /partialPageWrites/.test(e.message));
  });
});
