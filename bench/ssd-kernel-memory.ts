// Memory of the WebAssembly kernel's tables per flash page, and the largest device that runs in the
// kernel (issue 17: "Geometries up to 4 TiB run in the kernel … with memory ≤ 30 bytes per page").
// The kernel's tables (the metadata device's spare heads, page states and flags; the FTL's L2P,
// P2L, validity bits and per-block tables; the run loop's tables) live in one shared WebAssembly
// memory (nand's TableMemory), which a 32-bit module can address up to 4 GiB (TABLE_MEMORY_MAX_BYTES;
// it was 2 GiB). This script builds one simulator (the tables are allocated and initialised,
// nothing is written), reads the bytes the table memory handed out, and prints them per physical
// page, whether the kernel was selected, and the largest device of each page size whose tables fit
// at that rate. Measured (16.8 M pages): 25.77 bytes/page (FTL 7.67: L2P 4 × user/physical, P2L 4,
// validity 1/8; device 18: the 16-byte spare head, page state and programmed flag), so 4 GiB
// holds 167 M pages: 2.48 TiB of 16 KiB pages (1.24 TiB with the old 2 GiB). 4 TiB of 16 KiB
// pages needs ≤ 16 bytes/page, which needs the device's per-page state shrunk (not done).
// Loop tables (completions, histograms) are per queue slot and bucket, not per page.
// Run: npx tsx bench/ssd-kernel-memory.ts [--blocks N]
//   --blocks: blocks per die of the measured geometry (default 1024; 8 channels × 8 dies × N
//   blocks × 256 pages). The per-page figure hardly depends on it.
import { TABLE_MEMORY_MAX_BYTES } from '@flashdiff/nand';
import { SsdSimulator } from '@flashdiff/ssd';

const at = process.argv.indexOf('--blocks');
const blocks = at >= 0 ? Number(process.argv[at + 1]) : 1024;
if (!Number.isInteger(blocks) || blocks < 1) {
  console.error(`ssd-kernel-memory: --blocks must be a positive integer, got ${process.argv[at + 1]}`);
  process.exit(2);
}

const TiB = 2 ** 40;
// 8 channels × 8 dies × N blocks × 256 pages; the page size changes no table, only the capacity.
const geometry = { pageSize: 16384, spareSize: 64, pagesPerBlock: 256, blocksPerDie: blocks, diesPerChannel: 8, channels: 8 };
const pages = geometry.channels * geometry.diesPerChannel * geometry.blocksPerDie * geometry.pagesPerBlock;
const sim = new SsdSimulator({ geometry, snapshotEvery: 0 });
const memory = sim.device.metadataKernel?.memory ?? null;
const engine = sim.engine();
if (memory === null) {
  console.log('no table memory here (the kernel is unavailable)');
  process.exit(1);
}
const perPage = memory.usedBytes / pages;
const ftlPerPage = sim.ftl.tableBytes / pages;
const maxPages = Math.floor(TABLE_MEMORY_MAX_BYTES / perPage);
console.log(
  `${pages} pages: ${perPage.toFixed(2)} bytes/page in the kernel's memory (${(memory.usedBytes / 2 ** 20).toFixed(0)} MiB; the FTL's tables ${ftlPerPage.toFixed(2)} of them, ` +
    `the device's and the run loop's the rest); FTL kernel ${engine.ftlKernel ? 'yes' : 'no'}, run loop kernel ${engine.runLoopKernel ? 'yes' : 'no'}`,
);
console.log(`largest device in the ${TABLE_MEMORY_MAX_BYTES / 2 ** 30} GiB table memory at this rate: ${maxPages} pages`);
for (const pageSize of [4096, 8192, 16384]) {
  console.log(
    `  ${pageSize / 1024} KiB pages: ${((maxPages * pageSize) / TiB).toFixed(2)} TiB (with the old 2 GiB memory ${((maxPages * pageSize) / 2 / TiB).toFixed(2)} TiB); ` +
      `4 TiB in the kernel would need ≤ ${(TABLE_MEMORY_MAX_BYTES / ((4 * TiB) / pageSize)).toFixed(1)} bytes/page`,
  );
}
console.log(`command: npx tsx bench/ssd-kernel-memory.ts --blocks ${blocks}`);
