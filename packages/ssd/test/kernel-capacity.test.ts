// The kernels' memory per page and the largest devices they run (issue 17: "Geometries up to 4 TiB
// run in the kernel … with memory ≤ 30 bytes per page"). Covers the layout arithmetic that
// bench/ssd-kernel-memory.ts projects from (each table's bytes per page: the device's compact
// spare heads 8, page state 1, programmed flag 1; the FTL's L2P 4 a user page and validity 1/8,
// no P2L table), the memory linear in blocks per die, that P2L derived from the spare heads
// equals the table a TypeScript-only FTL keeps, and a 4 TiB device of 16 KiB pages (2^28 pages)
// running host writes in the kernel within the 4 GiB table memory.
// Upstream counterpart: none (MQSim's tables live on the C++ heap).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TABLE_MEMORY_MAX_BYTES } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import { SsdSimulator } from '../src/index.ts';

const geometry = (blocksPerDie: number, pagesPerBlock = 64): NandGeometry => ({
  pageSize: 16384, spareSize: 64, pagesPerBlock, blocksPerDie, diesPerChannel: 2, channels: 2,
});

interface Layout {
  readonly used: number;
  readonly pages: number;
  readonly userPages: number;
  readonly heads: number;
  readonly pageState: number;
  readonly programmed: number;
  readonly l2p: number;
  readonly validBits: number;
}

function layoutOf(g: NandGeometry): Layout {
  const sim = new SsdSimulator({ geometry: g, snapshotEvery: 0 });
  assert.deepEqual(sim.engine(), { ftlKernel: true, runLoopKernel: true, typescriptBecause: [] });
  const layout = sim.device.metadataKernel!;
  const at = layout.globals;
  return {
    used: layout.memory.usedBytes,
    pages: sim.ftl.totalPages,
    userPages: sim.ftl.userPages,
    heads: at.pageState! - at.heads!,
    pageState: at.eraseCounts! - at.pageState!,
    programmed: at.nextPage! - at.programmed!,
    l2p: sim.ftl.l2pTable.byteLength,
    validBits: sim.ftl.validBits.byteLength,
  };
}

describe('kernel table memory per page', () => {
  test("each per-page table takes the bytes the bench's breakdown names", () => {
    const l = layoutOf(geometry(32));
    assert.equal(l.heads, 8 * l.pages, 'compact spare heads: two words a page');
    assert.equal(l.pageState, l.pages, 'page state: a byte a page');
    assert.equal(l.programmed, l.pages, 'programmed flag: a byte a page');
    assert.equal(l.l2p, 4 * l.userPages, 'L2P: a word a user page');
    assert.equal(l.validBits, l.pages / 8, 'validity: a bit a page');
    const perPage = l.used / l.pages;
    // 8192 pages: the per-die and fixed tables add ~2.6 bytes a page here (0.1 at 4 TiB, below).
    assert.ok(perPage > 13 && perPage < 18, `${perPage} bytes a page`);
  });

  test('the memory grows linearly in blocks per die (what the bench projects 4 TiB from)', () => {
    const [a, b, c] = [32, 64, 160].map((blocks) => layoutOf(geometry(blocks)).used);
    // Per-die and fixed tables cancel; per-block and per-page ones scale with the block count, up
    // to rounding (each table padded to 8 bytes, the user page count floored): a few hundred bytes
    // in the 0.6 MB at 160 blocks, where anything not linear (per block², say) would be megabytes.
    const projected = b! + ((b! - a!) / (64 - 32)) * (160 - 64);
    assert.ok(Math.abs(c! - projected) <= 512, `${c} bytes, projected ${projected}`);
    assert.ok(c! > 5e5, `${c} bytes at 160 blocks`);
  });

  test('P2L derived from the spare heads equals the table of a TypeScript-only FTL, TRIM records and GC included', () => {
    const run = (wasmKernel: boolean): SsdSimulator => {
      const sim = new SsdSimulator({ geometry: geometry(16, 32), ftl: { overProvisioning: 0.25, wasmKernel }, snapshotEvery: 0, workload: { kind: 'uniform', seed: 5, readRatio: 0.1, trimRatio: 0.05 } });
      sim.precondition();
      sim.run(3 * sim.userPages);
      return sim;
    };
    const kernel = run(true);
    const typescript = run(false);
    assert.equal(kernel.engine().ftlKernel, true);
    assert.equal(typescript.engine().ftlKernel, false);
    assert.ok(kernel.ftl.counters.gcRuns > 0, 'GC ran');
    const derived = kernel.ftl.p2l;
    const kept = typescript.ftl.p2l;
    assert.equal(kept.length, kernel.ftl.totalPages, 'the TypeScript-only FTL keeps its table');
    assert.ok(derived.some((x) => x === -2), 'TRIM records among the derived entries');
    assert.deepEqual(derived, kept);
    for (let ppa = 0; ppa < kernel.ftl.totalPages; ppa += 7) assert.equal(kernel.ftl.p2lOf(ppa), kept[ppa]);
  });

  test('a 4 TiB device of 16 KiB pages runs host writes in the kernel, in ≤ 16 bytes a page', () => {
    // 8 channels × 8 dies × 16384 blocks × 256 pages = 2^28 pages of 16 KiB: 4 TiB, ~3.5 GiB of tables.
    const g: NandGeometry = { pageSize: 16384, spareSize: 64, pagesPerBlock: 256, blocksPerDie: 16384, diesPerChannel: 8, channels: 8 };
    const sim = new SsdSimulator({ geometry: g, snapshotEvery: 0, workload: { kind: 'uniform', seed: 11 } });
    const report = sim.run(20_000);
    // What FLASHDIFF_REQUIRE_KERNEL=1 cannot see: tables that do not fit fall back without an error.
    assert.deepEqual(sim.engine(), { ftlKernel: true, runLoopKernel: true, typescriptBecause: [] });
    assert.ok(sim.kernelLoop.batches > 0, 'the run loop ran in the kernel');
    assert.equal(sim.kernelLoop.handedBackWrites, 0, 'no write went back to TypeScript');
    assert.equal(report.hostPageWrites, 20_000);
    assert.equal(report.nandPageWrites, 20_000);
    const used = sim.device.metadataKernel!.memory.usedBytes;
    assert.ok(used > 3 * 2 ** 30 && used <= TABLE_MEMORY_MAX_BYTES, `${used} bytes of tables`);
    assert.ok(used / 2 ** 28 <= 16, `${used / 2 ** 28} bytes a page`);
    // Every write is mapped where the kernel put it: its L2P entry's page holds its LBA (P2L from the head).
    let mapped = 0;
    for (let lba = 0; lba < sim.userPages; lba++) {
      const ppa = sim.ftl.physicalPage(lba);
      if (ppa < 0) continue;
      assert.equal(sim.ftl.p2lOf(ppa), lba);
      mapped++;
    }
    assert.ok(mapped > 19_000 && mapped <= 20_000, `${mapped} LBAs mapped`);
  });
});
