// The demand-paged cached mapping table (src/ftl/cached-mapping.ts, DFTL, issue 17): hit/miss and
// translation-page accounting on a hand-checked sequence, WAF against the full table, a shadow
// model with GC, TRIM and power cuts, and recovery of the translation directory.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNandDevice } from '@flashdiff/nand';
import { Ftl, SsdSimulator, isSsdError, Xoshiro128 } from '../src/index.ts';
import { mappingEntrySizes } from '../src/ftl/cached-mapping.ts';

// 512-byte pages of 1 sector on 1024 physical pages: a GTD entry is ⌈(10 + 1) / 8⌉ = 2 bytes,
// so a translation page holds 256 entries; a CMT entry is ⌈(20 + 1) / 8⌉ = 3 bytes.
const geometry = { pageSize: 512, spareSize: 32, pagesPerBlock: 16, blocksPerDie: 32, diesPerChannel: 1, channels: 2 };

/** Every translation page the GTD names is valid and carries its marker; the L2P tables agree. */
function checkTranslationPages(ftl: Ftl): number {
  const gtd = (ftl as unknown as { state: { cmt: { gtd: Int32Array } } }).state.cmt.gtd;
  let valid = 0;
  for (let t = 0; t < gtd.length; t++) {
    const ppa = gtd[t]!;
    if (ppa < 0) continue;
    assert.ok(ftl.isValid(ppa), `translation page ${t} at ${ppa} is valid`);
    assert.equal(ftl.p2l[ppa], -4 - t, `P2L marker of translation page ${t}`);
    valid++;
  }
  ftl.checkConsistency();
  return valid;
}

describe('cached mapping table (DFTL)', () => {
  test("entry sizes follow MQSim's formulas", () => {
    assert.deepEqual(mappingEntrySizes(geometry), { cmtEntryBytes: 3, gtdEntryBytes: 2, entriesPerPage: 256 });
    // MQSim's default device: 2^24 pages of 8 KiB (16 sectors): ⌈(48 + 16) / 8⌉ = 8, ⌈(24 + 16) / 8⌉ = 5.
    const mqsim = mappingEntrySizes({ pageSize: 8192, spareSize: 448, pagesPerBlock: 256, blocksPerDie: 8192, diesPerChannel: 2, channels: 4 });
    assert.deepEqual(mqsim, { cmtEntryBytes: 8, gtdEntryBytes: 5, entriesPerPage: 1638 });
  });

  test('hits, misses, translation reads and write-backs on a hand-checked sequence', () => {
    const device = createNandDevice({ geometry, metadataOnly: true });
    const ftl = new Ftl(device, { mappingCacheEntries: 2 });
    assert.equal(ftl.wasmKernelActive, false);
    ftl.write(0); //   miss (translation page 0 never written: no read)      CMT: 0*
    ftl.write(256); // miss                                                   256* 0*
    ftl.read(0); //    hit                                                    0* 256*
    ftl.write(512); // miss; evicts 256 (dirty): program page 1              512* 0*
    ftl.read(256); //  miss; evicts 0 (dirty): program page 0; read page 1    256 512*
    ftl.read(300); //  miss; evicts 512 (dirty): program page 2; read page 1  300 256
    ftl.read(256); //  hit
    const r = ftl.mappingCacheReport()!;
    assert.deepEqual(
      { ...r },
      { capacityEntries: 2, entriesPerTranslationPage: 256, translationPages: Math.ceil(ftl.userPages / 256), entryBytes: 3, hits: 2, misses: 5, hitRatio: 2 / 7, translationReads: 2, translationWrites: 3, evictions: 3, dirtyEvictions: 3, batchUpdates: 0, coalescedMisses: 0 },
    );
    assert.equal(ftl.counters.translationPagePrograms, 3);
    assert.equal(ftl.counters.translationPageReads, 2);
    assert.equal(device.stats.pagePrograms, 6, '3 data pages + 3 translation pages');
    assert.equal(device.stats.pageReads, 2 + 3, '2 translation reads + data reads of 0, 256, 256 (300 is unmapped)');
    assert.equal(checkTranslationPages(ftl), 3);
    // A second write-back of page 1 reads the old copy first and invalidates it.
    ftl.write(257); // miss; evicts 300 (clean): read page 1                  257* 256
    ftl.write(258); // miss; evicts 256 (clean): read page 1                  258* 257*
    ftl.read(5); //    miss; evicts 257 (dirty): read old page 1, program it; read page 0
    const r2 = ftl.mappingCacheReport()!;
    assert.equal(r2.translationWrites, 4);
    assert.equal(r2.translationReads, 2 + 2 + 2);
    assert.equal(checkTranslationPages(ftl), 3);
    // 258 is still dirty in the CMT, but page 1 was written with it (one epoch): clean now.
    ftl.recover();
    assert.equal(checkTranslationPages(ftl), 3, 'recovery finds the newest copy of each translation page');
    assert.equal(ftl.physicalPage(258) >= 0, true);
  });

  test('a tiny table raises the WAF above the full table on a random workload (translation pages and their GC counted)', () => {
    const run = (mappingCacheEntries: number) => {
      const sim = new SsdSimulator({ geometry, ftl: { mappingCacheEntries }, workload: { kind: 'uniform', seed: 5 } });
      sim.precondition();
      return sim.run(3 * sim.userPages);
    };
    const full = run(0);
    const tiny = run(16);
    assert.equal(full.mappingCache, null);
    assert.equal((tiny.config.engine as { ftlKernel: boolean }).ftlKernel, false);
    assert.deepEqual((tiny.config.engine as { typescriptBecause: string[] }).typescriptBecause, ['the cached mapping table (the kernel has none)']);
    assert.equal(full.counters.translationPagePrograms, 0);
    const m = tiny.mappingCache!;
    assert.ok(m.misses > m.hits, `random over ${tiny.config.userPages} pages with 16 entries misses mostly (${m.hits} hits, ${m.misses} misses)`);
    assert.ok(m.translationWrites > 0 && m.translationReads > 0 && m.batchUpdates > 0);
    assert.ok(tiny.waf > full.waf + 0.3, `WAF ${tiny.waf} (16 entries) vs ${full.waf} (full table)`);
    // Every program is a host page, a GC move (data or translation) or a translation write-back.
    assert.equal(tiny.nandPageWrites, tiny.hostPageWrites + tiny.gcMovedPages + m.translationWrites);
    assert.ok(tiny.latencyUs.mean > full.latencyUs.mean, 'translation reads and programs cost time');
    // The same options in bytes: 48 bytes hold 16 entries of 3 bytes.
    const sim = new SsdSimulator({ geometry, ftl: { mappingCacheBytes: 48 }, workload: { kind: 'uniform', seed: 5 } });
    assert.equal(sim.ftl.mappingCacheReport()!.capacityEntries, 16);
    assert.throws(() => new Ftl(createNandDevice({ geometry }), { mappingCacheEntries: 4, mappingCacheBytes: 64 }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG'));
  });

  for (const transactionScheduling of ['eager', 'read-first'] as const) {
    test(`a read miss waits for its translation-page read (${transactionScheduling})`, () => {
      const timing = { tR: 50_000, tPROG: 500_000, tBERS: 3_000_000, transferPerByte: 1 };
      const sim = new SsdSimulator({ geometry, timing, ftl: { mappingCacheEntries: 2 }, transactionScheduling, backgroundGcIdleNs: 0 });
      sim.startMeasurement();
      const req = (line: number, arrivalNs: number, page: number, isRead: boolean) => ({ arrivalNs, device: 0, sector: page, sectors: 1, isRead, line });
      // 0 and 1 share translation page 0; writing 256 evicts 0 (dirty): page 0 is programmed with
      // both entries, 1 stays cached clean. A second later, reading 0 misses: 1 leaves (clean, no
      // write), translation page 0 is read, then the data page.
      const r = sim.replay([req(1, 0, 0, false), req(2, 0, 1, false), req(3, 0, 256, false), req(4, 1_000_000_000, 0, true)]);
      assert.equal(r.mappingCache!.translationWrites, 1);
      assert.equal(r.mappingCache!.translationReads, 1);
      const read = timing.tR + (512 + 32) * timing.transferPerByte;
      assert.equal(r.readLatencyUs.mean, (2 * read) / 1000);
    });
  }

  test('misses on a translation page whose read is in flight wait for it instead of reading it again (scheduler)', () => {
    const timing = { tR: 50_000, tPROG: 500_000, tBERS: 3_000_000, transferPerByte: 1 };
    // unmappedReads flash-read: translation pages never written are present (a device full of data).
    const sim = new SsdSimulator({ geometry, timing, ftl: { mappingCacheEntries: 8 }, transactionScheduling: 'read-first', unmappedReads: 'flash-read', backgroundGcIdleNs: 0 });
    sim.startMeasurement();
    const req = (line: number, arrivalNs: number, page: number) => ({ arrivalNs, device: 0, sector: page, sectors: 1, isRead: true, line });
    // LPAs 0, 1, 2 share translation page 0; 300 is on page 1. All four arrive at once.
    const r = sim.replay([req(1, 0, 0), req(2, 0, 1), req(3, 0, 2), req(4, 0, 300)]);
    const m = r.mappingCache!;
    assert.equal(m.misses, 4);
    assert.equal(m.translationReads, 2, 'one read per translation page');
    assert.equal(m.coalescedMisses, 2);
    // Each request: its translation read (or the one in flight), then its data read (never written: charged on its die).
    assert.ok(r.readLatencyUs.max * 1000 >= 2 * (timing.tR + 544), `${r.readLatencyUs.max} µs`);
  });

  for (const options of [
    { name: 'block / bitmap', o: { mappingCacheEntries: 8 } },
    { name: 'superblock / scan', o: { mappingCacheEntries: 8, gcUnit: 'superblock' as const, validityMethod: 'scan' as const } },
    { name: 'block / p2l / fifo', o: { mappingCacheEntries: 8, validityMethod: 'p2l' as const, gcPolicy: 'fifo' as const } },
  ]) {
    test(`shadow model with GC, TRIM and power cuts (${options.name})`, () => {
      const device = createNandDevice({ geometry, metadataOnly: false });
      const ftl = new Ftl(device, { overProvisioning: 0.25, ...options.o });
      const rng = new Xoshiro128(21);
      const shadow = new Map<number, number>();
      const span = Math.min(ftl.userPages, 600);
      const out = new Uint8Array(512);
      const page = (v: number) => new Uint8Array(512).fill(v);
      let cuts = 0;
      for (let op = 0; op < 8000; op++) {
        const lba = rng.nextInt(span);
        const kind = rng.nextFloat();
        if (rng.nextFloat() < 0.003) device.faults.cutPowerAfter(1 + rng.nextInt(6));
        try {
          if (kind < 0.6) {
            const v = 1 + (op % 250);
            ftl.write(lba, page(v));
            shadow.set(lba, v);
          } else if (kind < 0.95) {
            ftl.read(lba, out);
            assert.equal(out[0], shadow.get(lba) ?? 0, `op ${op}: read of ${lba}`);
          } else {
            ftl.trim(lba, 1);
            shadow.delete(lba);
          }
        } catch (e) {
          if (!isSsdError(e, 'POWER_LOSS')) throw e;
          cuts++;
          ftl.recover();
          // The operation in flight happened or not; the rest is exactly as written.
          ftl.read(lba, out);
          const before = shadow.get(lba) ?? 0;
          const after = kind < 0.6 ? 1 + (op % 250) : kind < 0.95 ? before : 0;
          assert.ok(out[0] === before || out[0] === after, `op ${op}: ${lba} reads ${out[0]} after the cut (${before} or ${after})`);
          if (out[0] === 0) shadow.delete(lba);
          else shadow.set(lba, out[0]!);
          checkTranslationPages(ftl);
        }
      }
      assert.ok(cuts >= 3, `${cuts} power cuts`);
      assert.ok(ftl.counters.gcRuns > 50, `${ftl.counters.gcRuns} GC runs`);
      checkTranslationPages(ftl);
      for (let lba = 0; lba < span; lba++) {
        ftl.read(lba, out);
        assert.equal(out[0], shadow.get(lba) ?? 0, `final read of ${lba}`);
      }
    });
  }
});
