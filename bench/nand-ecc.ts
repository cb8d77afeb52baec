/**
 * Hamming ECC throughput: encode and check 2048-byte pages (8 sectors of 256 bytes), and full
 * reads through an ECC device. Run: npx tsx bench/nand-ecc.ts
 */
import { PRESETS, createNandDevice, hammingEcc } from '@flashdiff/nand';

const page = new Uint8Array(2048);
for (let i = 0; i < page.length; i++) page[i] = (i * 131 + 7) & 0xff;
const parity = new Uint8Array(24);
const pages = 20_000;

let start = process.hrtime.bigint();
for (let n = 0; n < pages; n++) for (let s = 0; s < 8; s++) hammingEcc.encode(page, s * 256, parity, s * 3);
const encodeSeconds = Number(process.hrtime.bigint() - start) / 1e9;

start = process.hrtime.bigint();
for (let n = 0; n < pages; n++) for (let s = 0; s < 8; s++) hammingEcc.correct(page, s * 256, parity, s * 3);
const correctSeconds = Number(process.hrtime.bigint() - start) / 1e9;

const nand = createNandDevice({ geometry: PRESETS['yaffs2-2k'], ecc: { code: hammingEcc, spareOffset: 40 } });
for (let p = 0; p < 64; p++) nand.programPage(p, page, new Uint8Array(0));
const out = new Uint8Array(2048);
start = process.hrtime.bigint();
for (let n = 0; n < pages; n++) nand.readPage(n & 63, out);
const readSeconds = Number(process.hrtime.bigint() - start) / 1e9;

const mib = (pages * 2048) / 2 ** 20;
console.log('command: npx tsx bench/nand-ecc.ts');
console.log(`encode: ${(mib / encodeSeconds).toFixed(0)} MiB/s; check: ${(mib / correctSeconds).toFixed(0)} MiB/s`);
console.log(`ECC page reads (yaffs2-2k, RAM): ${(pages / readSeconds / 1e3).toFixed(0)} k pages/s`);
