/**
 * Page programs per second through a metadata-only RAM device at the SSD simulator's scale
 * (ssd-4k: 4096 blocks × 64 pages, 4096 + 128 bytes). Target: ≥ 5 million programs/s.
 * Each pass programs every page of every block (spare: an 8-byte logical page number) and
 * erases each block before reuse, as an FTL's steady state does.
 * Run: npx tsx bench/nand-program.ts
 */
import { PRESETS, createNandDevice, totalBlocks } from '@flashdiff/nand';

const geometry = PRESETS['ssd-4k'];
const nand = createNandDevice({ geometry, metadataOnly: true });
const blocks = totalBlocks(geometry);
const pagesPerBlock = geometry.pagesPerBlock;
const spare = new Uint8Array(8);
const spareView = new DataView(spare.buffer);

function pass(): number {
  let programs = 0;
  for (let block = 0; block < blocks; block++) {
    if (nand.stats.programsPerBlock[block] !== 0) nand.eraseBlock(block);
    const first = block * pagesPerBlock;
    for (let i = 0; i < pagesPerBlock; i++) {
      spareView.setUint32(0, first + i, true);
      nand.programPage(first + i, null, spare);
      programs++;
    }
  }
  return programs;
}

pass(); // warm-up (allocates the per-block spare buffers, JIT)
const passes = 8;
const start = process.hrtime.bigint();
let programs = 0;
for (let p = 0; p < passes; p++) programs += pass();
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const rate = programs / seconds;

// Reads of the spare back, the FTL's mount-time scan.
const readSpare = new Uint8Array(8);
const readStart = process.hrtime.bigint();
const total = blocks * pagesPerBlock;
for (let page = 0; page < total; page++) nand.readPage(page, undefined, readSpare);
const readSeconds = Number(process.hrtime.bigint() - readStart) / 1e9;

console.log('command: npx tsx bench/nand-program.ts');
console.log(`geometry: ssd-4k metadata-only (${blocks} blocks × ${pagesPerBlock} pages)`);
console.log(`programs: ${programs} in ${seconds.toFixed(3)} s = ${(rate / 1e6).toFixed(2)} M programs/s (target ≥ 5 M/s) ${rate >= 5e6 ? 'OK' : 'BELOW TARGET'}`);
console.log(`spare reads: ${total} in ${readSeconds.toFixed(3)} s = ${(total / readSeconds / 1e6).toFixed(2)} M reads/s`);
console.log(`store allocated: ${(nand.store.allocatedBytes / 2 ** 20).toFixed(1)} MiB`);
