// The DRAM write-back data cache (src/cache/data-cache.ts, issue 17): hit/miss accounting on a
// hand-checked sequence, DRAM latency, LRU eviction with write-back, flushes (explicit and in
// replay's idle gaps), TRIM, a shadow model of the data read back, and what a power cut loses.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SsdSimulator, isSsdError, Xoshiro128 } from '../src/index.ts';
import type { SimulatorConfig, TraceRequest } from '../src/index.ts';
import { DataCache, resolveDataCacheOptions } from '../src/cache/data-cache.ts';

const geometry = { pageSize: 4096, spareSize: 64, pagesPerBlock: 16, blocksPerDie: 16, diesPerChannel: 1, channels: 2 };
const timing = { tR: 50_000, tPROG: 500_000, tBERS: 3_000_000, transferPerByte: 1 };
/** One 4 KiB page in DRAM with the defaults (MQSim's): tRCD + tCL = 26 ns, then 4096 / 1 / 2 bursts of 1000 / 100 ns. */
const DRAM_PAGE = 26 + (4096 / 2) * 10;

function simulator(extra: Partial<SimulatorConfig> = {}): SsdSimulator {
  const sim = new SsdSimulator({ geometry, timing, queueDepth: 1, backgroundGcIdleNs: 0, ...extra });
  sim.startMeasurement();
  return sim;
}

describe('DRAM data cache', () => {
  test('hits, misses, LRU eviction and write-backs on a hand-checked sequence', () => {
    const sim = simulator({ dataCache: { capacityPages: 2 } });
    sim.write(0); // miss, cached dirty            cache (MRU first): 0
    sim.write(1); // miss, cached dirty            1 0
    sim.read(0); //  hit                           0 1
    sim.write(2); // miss: evicts 1 (LRU), written back to flash      2 0
    sim.read(1); //  miss: read from flash         2 0
    sim.read(2); //  hit                           2 0
    sim.write(0); // hit (absorbed)                0 2
    sim.read(3); //  miss, never written
    let r = sim.report();
    assert.deepEqual(
      { ...r.dataCache },
      { capacityPages: 2, readHits: 2, readMisses: 2, readHitRatio: 0.5, writeHits: 1, writeMisses: 3, evictions: 1, writeBacks: 1, flushes: 0, flushedPages: 0, dirtyPages: 2, lostDirtyPages: 0 },
    );
    assert.equal(r.hostPageWrites, 4, 'host page writes are counted when the cache takes them');
    assert.equal(r.nandPageWrites, 1, 'only the evicted page reached flash');
    assert.equal(r.counters.cacheWriteBacks, 1);
    assert.equal(r.hostPageReads, 4);
    assert.equal(r.nandPageReads, 1, 'one read missed to flash (the never-written page is free)');
    // An explicit flush writes the two dirty pages, oldest write first (2, then 0).
    assert.equal(sim.dataCache!.oldestDirty(), 2);
    assert.equal(sim.flushDataCache(), 2);
    r = sim.report();
    assert.equal(r.nandPageWrites, 3);
    assert.equal(r.dataCache!.flushes, 1);
    assert.equal(r.dataCache!.flushedPages, 2);
    assert.equal(r.dataCache!.writeBacks, 3);
    assert.equal(r.dataCache!.dirtyPages, 0);
    assert.equal(r.waf, 3 / 4);
  });

  test('a read hit costs one DRAM access; a write to a full cache waits for the write-back', () => {
    const sim = simulator({ dataCache: { capacityPages: 1 } });
    sim.write(5);
    assert.equal(sim.report().writeLatencyUs.mean, DRAM_PAGE / 1000);
    sim.startMeasurement();
    sim.read(5);
    assert.equal(sim.report().readLatencyUs.mean, DRAM_PAGE / 1000);
    sim.startMeasurement();
    sim.write(6); // evicts 5: one program (transfer + tPROG) before the write completes
    const w = sim.report().writeLatencyUs.mean * 1000;
    assert.equal(w, 4096 + 64 + 500_000);
  });

  test('off by default; with a cache the run loop stays in TypeScript and counts host writes once', () => {
    const plain = new SsdSimulator({ geometry, timing, workload: { kind: 'uniform', seed: 3 } });
    const rPlain = plain.run(2000);
    assert.equal(rPlain.dataCache, null);
    assert.equal(rPlain.config.dataCache, null);
    const cached = new SsdSimulator({ geometry, timing, workload: { kind: 'uniform', seed: 3 }, dataCache: { capacityBytes: 64 * 4096 } });
    const r = cached.run(2000);
    assert.equal(cached.kernelLoop.batches, 0);
    assert.deepEqual(r.config.engine, { ftlKernel: true, runLoopKernel: false, typescriptBecause: ['the data cache (the kernel loop writes straight to the FTL)'] });
    assert.deepEqual(rPlain.config.engine, { ftlKernel: true, runLoopKernel: true, typescriptBecause: [] });
    assert.equal(r.hostPageWrites, 2000);
    assert.equal(r.dataCache!.capacityPages, 64);
    assert.equal(r.dataCache!.writeHits + r.dataCache!.writeMisses, 2000);
    // Every page written to flash is a write-back or GC's: NAND programs = write-backs + moved pages.
    assert.equal(r.nandPageWrites, r.counters.cacheWriteBacks + r.gcMovedPages);
    assert.equal(r.counters.cacheWriteBacks, r.dataCache!.writeBacks);
    assert.ok(r.waf < rPlain.waf, `absorbed overwrites lower the WAF (${r.waf} vs ${rPlain.waf})`);
  });

  test('bad options are INVALID_CONFIG naming the field', () => {
    const invalid = (extra: Partial<SimulatorConfig>, field: RegExp) =>
      assert.throws(() => new SsdSimulator({ geometry, ...extra }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && field.test((e as Error).message));
    invalid({ dataCache: {} }, /capacityPages/);
    invalid({ dataCache: { capacityPages: 2, capacityBytes: 8192 } }, /capacityPages/);
    invalid({ dataCache: { capacityBytes: 100 } }, /capacityBytes/);
    invalid({ dataCache: { capacityPages: 4, dramLatencyNs: -1 } }, /dramLatencyNs/);
  });

  test('TRIM drops cached pages; replay flushes in idle gaps longer than flushIdleUs', () => {
    const sim = simulator({ dataCache: { capacityPages: 8, flushIdleUs: 100 } });
    sim.write(1);
    sim.trim(1, 1);
    assert.equal(sim.report().dataCache!.dirtyPages, 0);
    assert.equal(sim.ftl.physicalPage(1), -1);
    sim.startMeasurement();
    const req = (line: number, arrivalNs: number, page: number, isRead: boolean): TraceRequest => ({ arrivalNs, device: 0, sector: page * 8, sectors: 8, isRead, line });
    // Three writes at once, then a read of one of them (a hit), then 1 ms idle: a flush.
    const r = sim.replay([req(1, 0, 10, false), req(2, 0, 11, false), req(3, 0, 12, false), req(4, 10_000, 11, true), req(5, 2_000_000, 13, false)]);
    assert.equal(r.dataCache!.readHits, 1);
    // One DRAM channel: the read at 10 µs waits for the three page writes' accesses before its own.
    assert.equal(r.readLatencyUs.mean, (4 * DRAM_PAGE - 10_000) / 1000);
    assert.equal(r.dataCache!.flushes, 1);
    assert.equal(r.dataCache!.flushedPages, 3);
    assert.equal(r.dataCache!.dirtyPages, 1, 'the last write is still in DRAM');
    assert.equal(r.nandPageWrites, 3);
    const busy = simulator({ dataCache: { capacityPages: 8, flushIdleUs: 0 } }).replay([req(1, 0, 10, false), req(2, 5_000_000, 11, false)]);
    assert.equal(busy.dataCache!.flushes, 0, 'flushIdleUs 0: never');
    // A DRAM access moves the sectors the request touches: one 512-byte sector of a cached page.
    const partial = simulator({ dataCache: { capacityPages: 8, flushIdleUs: 0 } });
    const one = partial.replay([req(1, 0, 10, false), { arrivalNs: 1_000_000, device: 0, sector: 10 * 8 + 3, sectors: 1, isRead: true, line: 2 }]);
    assert.equal(one.readLatencyUs.mean, (26 + (512 / 2) * 10) / 1000);
  });
});

describe('data cache under the transaction scheduler', () => {
  const req = (line: number, arrivalNs: number, page: number, isRead: boolean): TraceRequest => ({ arrivalNs, device: 0, sector: page * 8, sectors: 8, isRead, line });
  test('hits complete after their DRAM access; a write to a full cache completes with its write-back', () => {
    const sim = simulator({ transactionScheduling: 'read-first', dataCache: { capacityPages: 1, flushIdleUs: 0 } });
    // A write (DRAM), a read of it (a hit) 1 ms later, a write of another page 1 ms later (evicts the first: a program).
    const r = sim.replay([req(1, 0, 10, false), req(2, 1_000_000, 10, true), req(3, 2_000_000, 11, false)]);
    assert.equal(r.dataCache!.readHits, 1);
    assert.equal(r.dataCache!.writeBacks, 1);
    assert.equal(r.readLatencyUs.mean, DRAM_PAGE / 1000);
    assert.equal(r.writeLatencyUs.count, 2);
    // (DRAM_PAGE + the write-back's transfer and tPROG) / 2 writes.
    assert.equal(r.writeLatencyUs.mean, (DRAM_PAGE + 4096 + 64 + 500_000) / 2 / 1000);
    assert.equal(r.nandPageWrites, 1);
  });

  test('idle gaps flush dirty pages while the gap lasts; eager and scheduled agree on a quiet trace', () => {
    const trace = [req(1, 0, 1, false), req(2, 0, 2, false), req(3, 0, 3, false), req(4, 5_000_000, 4, false), req(5, 5_010_000, 1, true)];
    const eager = simulator({ dataCache: { capacityPages: 8, flushIdleUs: 100 } }).replay(trace);
    const fifo = simulator({ transactionScheduling: 'fifo', dataCache: { capacityPages: 8, flushIdleUs: 100 } }).replay(trace);
    for (const r of [eager, fifo]) {
      assert.equal(r.dataCache!.flushes, 1);
      assert.equal(r.dataCache!.flushedPages, 3);
      assert.equal(r.dataCache!.readHits, 1, 'a flushed page stays cached (clean)');
    }
    assert.equal(fifo.latencyUs.mean, eager.latencyUs.mean);
  });
});

describe('data cache shadow model and power loss', () => {
  for (const readAllocate of [false, true]) {
    test(`data read back is the latest written (readAllocate ${readAllocate}), in DRAM and after the flush`, () => {
      const sim = simulator({ metadataOnly: false, dataCache: { capacityPages: 6, readAllocate } });
      const user = sim.userPages;
      const rng = new Xoshiro128(7);
      const shadow = new Map<number, Uint8Array>();
      const out = new Uint8Array(4096);
      let hits = 0;
      for (let op = 0; op < 3000; op++) {
        const lba = rng.nextInt(Math.min(user, 40));
        const kind = rng.nextFloat();
        if (kind < 0.5) {
          const data = new Uint8Array(4096).fill(op & 0xff);
          data[0] = lba;
          data[1] = op >> 8;
          sim.write(lba, data);
          shadow.set(lba, data);
        } else if (kind < 0.95) {
          const before = sim.dataCache!.stats.readHits;
          sim.read(lba, out);
          hits += sim.dataCache!.stats.readHits - before;
          assert.deepEqual(out, shadow.get(lba) ?? new Uint8Array(4096), `op ${op}: read of ${lba}`);
        } else {
          sim.trim(lba, 1);
          shadow.delete(lba);
        }
      }
      assert.ok(hits > 100, `${hits} read hits`);
      sim.flushDataCache();
      for (let lba = 0; lba < 40; lba++) {
        sim.ftl.read(lba, out); // straight from flash
        assert.deepEqual(out, shadow.get(lba) ?? new Uint8Array(4096), `flash copy of ${lba}`);
      }
      sim.ftl.checkConsistency();
    });
  }

  test('a power cut loses exactly the dirty pages in DRAM (volatile cache); flushed data survives', () => {
    const sim = simulator({ metadataOnly: false, dataCache: { capacityPages: 8 } });
    const page = (v: number) => new Uint8Array(4096).fill(v);
    for (let lba = 0; lba < 4; lba++) sim.write(lba, page(1));
    sim.flushDataCache(); // 0–3 hold 1 on flash
    sim.write(0, page(2)); // dirty in DRAM only
    sim.write(1, page(2));
    sim.write(9, page(2)); // never on flash
    assert.equal(sim.dataCache!.dirtyPages, 3);
    sim.device.faults.cutPowerAfter(1);
    assert.throws(() => sim.flushDataCache(), (e: unknown) => isSsdError(e, 'POWER_LOSS'));
    sim.recover();
    const r = sim.report();
    assert.equal(r.dataCache!.lostDirtyPages, 3, 'the page being written back when power went is lost too');
    assert.equal(r.dataCache!.dirtyPages, 0);
    const out = new Uint8Array(4096);
    const expect: [number, number][] = [[0, 1], [1, 1], [2, 1], [3, 1], [9, 0]];
    for (const [lba, v] of expect) {
      sim.read(lba, out);
      assert.deepEqual(out, page(v), `LBA ${lba} after the cut`);
    }
  });

  test('a power cut during an eviction write-back loses that page and the write waiting for its slot', () => {
    const sim = simulator({ metadataOnly: false, dataCache: { capacityPages: 2 } });
    const page = (v: number) => new Uint8Array(4096).fill(v);
    sim.write(0, page(1));
    sim.write(1, page(1));
    sim.device.faults.cutPowerAfter(1);
    assert.throws(() => sim.write(2, page(1)), (e: unknown) => isSsdError(e, 'POWER_LOSS')); // evicts 0: its program is cut
    sim.recover();
    const r = sim.report();
    assert.equal(r.dataCache!.lostDirtyPages, 2, 'page 0 (being written back) and page 1 (in DRAM)');
    assert.equal(r.hostPageWrites, 2, 'the failed write is not counted');
    const out = new Uint8Array(4096);
    for (const lba of [0, 1, 2]) {
      sim.read(lba, out);
      assert.deepEqual(out, page(0), `LBA ${lba} never reached flash`);
    }
  });
});

describe('DataCache (the state alone)', () => {
  test('slots stay dense through removals; the dirty list keeps write order', () => {
    const c = new DataCache(resolveDataCacheOptions({ capacityPages: 4 }, 4096));
    for (const lba of [10, 11, 12, 13]) c.put(lba, true, null);
    c.invalidate(11, 1);
    c.put(10, true, null); // rewritten: newest
    c.put(14, false, null); // clean
    assert.equal(c.size, 4);
    assert.equal(c.dirtyPages, 3);
    assert.equal(c.oldestDirty(), 12);
    c.markFlushed(12);
    assert.equal(c.oldestDirty(), 13);
    assert.equal(c.mustEvict(15), true);
    // LRU order: 12 (oldest use), 13, 10, 14.
    assert.deepEqual(c.evict(), { lba: 12, dirty: false, data: null });
    assert.deepEqual(c.evict(), { lba: 13, dirty: true, data: null });
    c.invalidate(0, 100);
    assert.equal(c.size, 0);
    assert.equal(c.dirtyPages, 0);
  });
});
