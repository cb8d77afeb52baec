// The kernels' memory per page and the largest devices they run (issue 17: "Geometries up to 4 TiB
// run in the kernel … with memory ≤ 30 bytes per page"). Covers the layout arithmetic that
// bench/ssd-kernel-memory.ts projects from (each table's bytes per page, and the memory linear in
// blocks per die), and a 1 TiB device of 16 KiB pages running host writes in the kernel. 4 TiB is
// left to the bench: it does not fit the 4 GiB table memory (the device's spare heads alone take
// 16 bytes a page; see docs/DESIGN.md), and a run near that size allocates 4 GiB.
// Upstream counterpart: none (MQSim's tables live on the C++ heap).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
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
  readonly p2l: number;
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
    l2p: sim.ftl.l2p.byteLength,
    p2l: sim.ftl.p2l.byteLength,
    validBits: sim.ftl.validBits.byteLength,
  };
}

describe('kernel table memory per page', () => {
  test("each per-page table takes the bytes the bench's breakdown names", () => {
    const l = layoutOf(geometry(32));
    assert.equal(l.heads, 16 * l.pages, 'spare heads: four words a page');
    assert.equal(l.pageState, l.pages, 'page state: a byte a page');
    assert.equal(l.programmed, l.pages, 'programmed flag: a byte a page');
    assert.equal(l.l2p, 4 * l.userPages, 'L2P: a word a user page');
    assert.equal(l.p2l, 4 * l.pages, 'P2L: a word a page');
    assert.equal(l.validBits, l.pages / 8, 'validity: a bit a page');
    const perPage = l.used / l.pages;
    assert.ok(perPage > 25 && perPage < 30, `${perPage} bytes a page (issue 17: ≤ 30)`);
  });

  test('the memory grows linearly in blocks per die (what the bench projects 4 TiB from)', () => {
    const [a, b, c] = [32, 64, 160].map((blocks) => layoutOf(geometry(blocks)).used);
    // Per-die and fixed tables cancel; per-block and per-page ones scale with the block count, up
    // to rounding (each table padded to 8 bytes, the user page count floored): a few hundred bytes
    // in the 1.1 MB at 160 blocks, where anything not linear (per block², say) would be megabytes.
    const projected = b! + ((b! - a!) / (64 - 32)) * (160 - 64);
    assert.ok(Math.abs(c! - projected) <= 512, `${c} bytes, projected ${projected}`);
    assert.ok(c! > 1e6, `${c} bytes at 160 blocks`);
  });

  test('a 1 TiB device of 16 KiB pages runs host writes in the kernel', () => {
    // 8 channels × 8 dies × 4096 blocks × 256 pages = 2^26 pages of 16 KiB: 1 TiB, ~1.6 GiB of tables.
    const g: NandGeometry = { pageSize: 16384, spareSize: 64, pagesPerBlock: 256, blocksPerDie: 4096, diesPerChannel: 8, channels: 8 };
    const sim = new SsdSimulator({ geometry: g, snapshotEvery: 0, workload: { kind: 'uniform', seed: 11 } });
    const report = sim.run(20_000);
    // What FLASHDIFF_REQUIRE_KERNEL=1 cannot see: tables that do not fit fall back without an error.
    assert.deepEqual(sim.engine(), { ftlKernel: true, runLoopKernel: true, typescriptBecause: [] });
    assert.ok(sim.kernelLoop.batches > 0, 'the run loop ran in the kernel');
    assert.equal(sim.kernelLoop.handedBackWrites, 0, 'no write went back to TypeScript');
    assert.equal(report.hostPageWrites, 20_000);
    assert.equal(report.nandPageWrites, 20_000);
    const used = sim.device.metadataKernel!.memory.usedBytes;
    assert.ok(used > 2 ** 30, `${used} bytes of tables`);
    assert.ok(used / 2 ** 26 <= 30, `${used / 2 ** 26} bytes a page`);
    // Every write is mapped where the kernel put it: its L2P entry's page holds its LBA.
    let mapped = 0;
    for (let lba = 0; lba < sim.userPages; lba++) {
      const ppa = sim.ftl.l2p[lba]!;
      if (ppa < 0) continue;
      assert.equal(sim.ftl.p2l[ppa], lba);
      mapped++;
    }
    assert.ok(mapped > 19_000 && mapped <= 20_000, `${mapped} LBAs mapped`);
  });
});
