// The kernels' table memory past 2 GiB (nand's TableMemory grows to 4 GiB, TABLE_MEMORY_MAX_BYTES):
// tables whose addresses lie above 2³¹ must work in the WebAssembly kernels exactly as below it
// (the kernels keep addresses as usize and index with unsigned arithmetic), and a device whose
// kernel tables need more than the old 2 GiB limit must now select the kernel.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TableMemory, uint8Table } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import { SsdSimulator } from '../src/index.ts';

// 2 channels × 2 dies × 32 blocks × 32 pages: 4096 pages, GC active after one fill.
const small: NandGeometry = { pageSize: 2048, spareSize: 64, pagesPerBlock: 32, blocksPerDie: 32, diesPerChannel: 2, channels: 2 };

function simulate(wasmKernel: boolean): { sim: SsdSimulator; report: string; l2p: number[] } {
  const sim = new SsdSimulator({ geometry: small, ftl: { overProvisioning: 0.25, wasmKernel }, snapshotEvery: 0, workload: { kind: 'uniform', seed: 7, readRatio: 0.2, trimRatio: 0.05 } });
  sim.precondition();
  const report = sim.run(3 * sim.userPages);
  const l2p: number[] = [];
  for (let lba = 0; lba < sim.userPages; lba++) l2p.push(sim.ftl.physicalPage(lba));
  return { sim, report: JSON.stringify({ ...report, config: null }), l2p };
}

describe('kernel table memory past 2 GiB', () => {
  test('with every kernel table above 2 GiB the kernel run equals the TypeScript run', () => {
    const create = TableMemory.create.bind(TableMemory);
    let padded = 0;
    // Each new table memory first hands out 2 GiB of padding (untouched, so never committed), so
    // the device's, the FTL's and the run loop's tables all start above address 2³¹.
    TableMemory.create = () => {
      const memory = create();
      if (memory !== null) {
        memory.allocate({ padding: uint8Table(2 ** 31) });
        padded++;
      }
      return memory;
    };
    let kernel: ReturnType<typeof simulate>;
    try {
      kernel = simulate(true);
    } finally {
      TableMemory.create = create;
    }
    assert.ok(padded > 0, 'the device took its tables from a padded table memory');
    const memory = kernel.sim.device.metadataKernel?.memory;
    assert.ok(memory !== undefined && memory !== null && memory.usedBytes > 2 ** 31, 'the tables lie past 2 GiB');
    assert.deepEqual(kernel.sim.engine(), { ftlKernel: true, runLoopKernel: true, typescriptBecause: [] });
    assert.ok(kernel.sim.kernelLoop.batches > 0, 'the run loop ran in the kernel');
    const typescript = simulate(false);
    assert.equal(typescript.sim.engine().ftlKernel, false);
    assert.equal(kernel.report, typescript.report);
    assert.deepEqual(kernel.l2p, typescript.l2p);
  });

  test('a device whose kernel tables need more than 2 GiB selects the kernel', () => {
    // 8 × 8 dies × 12288 blocks × 256 pages = 201 M pages (3 TiB) at ~14 bytes a page: ~2.6 GiB
    // of tables (allocated and initialised, nothing written; before the 4 GiB memory this fell back).
    const sim = new SsdSimulator({ geometry: { pageSize: 16384, spareSize: 64, pagesPerBlock: 256, blocksPerDie: 12288, diesPerChannel: 8, channels: 8 }, snapshotEvery: 0 });
    const used = sim.device.metadataKernel?.memory.usedBytes ?? 0;
    assert.ok(used > 2 ** 31, `kernel tables of ${used} bytes`);
    assert.deepEqual(sim.engine(), { ftlKernel: true, runLoopKernel: true, typescriptBecause: [] });
  });
});
