// The replay's host interface model (issue 17): NVMe-style submission queue with a depth, open and
// closed loop, read and write latency histograms apart, reads of never-written LBAs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SsdSimulator, isSsdError } from '../src/index.ts';
import type { SimulatorConfig, TraceRequest } from '../src/index.ts';

// 4 channels × 1 die, 8 KiB pages: page p of a trace maps to LBA p (no wrap at these addresses).
const geometry = { pageSize: 8192, spareSize: 448, pagesPerBlock: 16, blocksPerDie: 32, diesPerChannel: 1, channels: 4 };
const timing = { tR: 75_000, tPROG: 750_000, tBERS: 3_800_000, transferPerByte: 3 };
const TRANSFER = (8192 + 448) * 3;
const READ = 75_000 + TRANSFER;

function request(line: number, arrivalNs: number, page: number, isRead: boolean): TraceRequest {
  return { arrivalNs, device: 0, sector: page * 16, sectors: 16, isRead, line };
}

function simulator(extra: Partial<SimulatorConfig> = {}): SsdSimulator {
  const sim = new SsdSimulator({ geometry, timing, backgroundGcIdleNs: 0, ...extra });
  sim.startMeasurement();
  return sim;
}

describe('replay host model', () => {
  test('reads of never-written LBAs: free by default, one flash read with unmappedReads flash-read', () => {
    const trace = [request(1, 0, 5, true)];
    const free = simulator().replay(trace);
    assert.equal(free.readLatencyUs.mean, 0);
    assert.equal(free.unmappedFlashReads, 0);
    assert.equal(free.config.unmappedReads, 'free');
    const charged = simulator({ unmappedReads: 'flash-read' }).replay(trace);
    assert.equal(charged.readLatencyUs.mean, READ / 1000);
    assert.equal(charged.unmappedFlashReads, 1);
  });

  test('reads and writes get separate histograms and percentiles', () => {
    const sim = simulator({ unmappedReads: 'flash-read', queueDepth: 64 });
    const trace = [request(1, 0, 0, false), request(2, 0, 1, true), request(3, 10_000_000, 2, true), request(4, 20_000_000, 3, false)];
    const r = sim.replay(trace);
    assert.equal(r.readLatencyUs.count, 2);
    assert.equal(r.writeLatencyUs.count, 2);
    // Writes: an idle die takes the transfer and tPROG; reads: tR and the transfer.
    assert.equal(r.writeLatencyUs.max, (TRANSFER + 750_000) / 1000);
    assert.equal(r.readLatencyUs.max, READ / 1000);
    assert.equal(r.writeLatencyUs.mean, (TRANSFER + 750_000) / 1000);
    for (const key of ['p50', 'p90', 'p99', 'p999', 'p9999', 'max'] as const) assert.ok(r.readLatencyUs[key] > 0 && r.readLatencyUs[key] <= r.writeLatencyUs[key]);
  });

  test('queue depth 1: a request waits in the host for the one before; its latency counts from arrival', () => {
    // Two writes arriving together go to dies on different channels: with slots to spare they
    // overlap completely; with one slot the second is issued when the first completes.
    const trace = [request(1, 0, 0, false), request(2, 0, 1, false)];
    const deep = simulator({ queueDepth: 32 }).replay(trace);
    const shallow = simulator({ queueDepth: 1 }).replay(trace);
    const write = TRANSFER + 750_000;
    assert.equal(deep.writeLatencyUs.max, write / 1000);
    assert.equal(shallow.writeLatencyUs.max, (2 * write) / 1000);
  });

  test('closed loop ignores arrival times: issues as fast as the queue allows', () => {
    const trace = [request(1, 0, 0, false), request(2, 1e9, 1, false), request(3, 2e9, 2, false)];
    const open = simulator({ queueDepth: 1 }).replay(trace);
    const closed = simulator({ queueDepth: 1, replayLoop: 'closed' }).replay(trace);
    assert.ok(open.throughput.simulatedSeconds > 2);
    assert.ok(closed.throughput.simulatedSeconds < 0.003, String(closed.throughput.simulatedSeconds));
    assert.equal(closed.writeLatencyUs.max, (TRANSFER + 750_000) / 1000);
    assert.equal(closed.config.replayLoop, 'closed');
  });

  test('an unknown replayLoop or unmappedReads is an INVALID_CONFIG error', () => {
    assert.throws(() => simulator({ replayLoop: 'sideways' as 'open' }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /replayLoop/.test(e.message));
    assert.throws(() => simulator({ unmappedReads: 'maybe' as 'free' }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /unmappedReads/.test(e.message));
  });

  test('synthetic runs: the write histogram is the whole less the reads', () => {
    const sim = new SsdSimulator({ geometry, timing, workload: { kind: 'uniform', readRatio: 0.3, seed: 3 } });
    sim.precondition();
    const r = sim.run(2000);
    assert.equal(r.writeLatencyUs.count, 2000);
    assert.equal(r.readLatencyUs.count + r.writeLatencyUs.count, r.hostPageReads + r.hostPageWrites);
    assert.ok(r.writeLatencyUs.max <= r.latencyUs.max && r.writeLatencyUs.mean > 0);
  });
});
