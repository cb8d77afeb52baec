/**
 * Hamming ECC throughput: encode and check 2048-byte pages (8 sectors of 256 bytes) of seeded
 * random bytes, and full page reads through an ECC device. Sectors that start 4-byte aligned take
 * the word-wise path; the same sectors one byte off take the byte-wise one (the table-per-byte
 * code it replaced), so the two print side by side with their ratio. Best of 7 rounds each, the
 * two paths alternating (a change of load hits both alike); the load average prints too.
 * Run: npx tsx bench/nand-ecc.ts
 */
import * as os from 'node:os';
import { PRESETS, createNandDevice, hammingEcc } from '@flashdiff/nand';

const PAGES = 5_000;
const ROUNDS = 7;
let seed = 16;
const random = (): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed >>> 24;
};
// One byte more than two pages: `aligned` starts at byte 0, `unaligned` at byte 1.
const bytes = new Uint8Array(2048 + 1);
for (let i = 0; i < bytes.length; i++) bytes[i] = random();
const aligned = bytes.subarray(0, 2048);
const unaligned = bytes.subarray(1, 2049);
const parity = new Uint8Array(24);

function seconds(f: () => void): number {
  const start = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - start) / 1e9;
}
const encodePages = (page: Uint8Array) => () => {
  for (let n = 0; n < PAGES; n++) for (let s = 0; s < 8; s++) hammingEcc.encode(page, s * 256, parity, s * 3);
};
const checkPages = (page: Uint8Array) => () => {
  for (let s = 0; s < 8; s++) hammingEcc.encode(page, s * 256, parity, s * 3);
  for (let n = 0; n < PAGES; n++) for (let s = 0; s < 8; s++) hammingEcc.correct(page, s * 256, parity, s * 3);
};

const best = { encodeWords: Infinity, encodeBytes: Infinity, checkWords: Infinity, checkBytes: Infinity };
for (let round = 0; round < ROUNDS; round++) {
  best.encodeWords = Math.min(best.encodeWords, seconds(encodePages(aligned)));
  best.encodeBytes = Math.min(best.encodeBytes, seconds(encodePages(unaligned)));
  best.checkWords = Math.min(best.checkWords, seconds(checkPages(aligned)));
  best.checkBytes = Math.min(best.checkBytes, seconds(checkPages(unaligned)));
}

const nand = createNandDevice({ geometry: PRESETS['yaffs2-2k'], ecc: { code: hammingEcc, spareOffset: 40 } });
for (let p = 0; p < 64; p++) nand.programPage(p, aligned, new Uint8Array(0));
const out = new Uint8Array(2048);
let readSeconds = Infinity;
for (let round = 0; round < ROUNDS; round++) {
  readSeconds = Math.min(
    readSeconds,
    seconds(() => {
      for (let n = 0; n < PAGES; n++) nand.readPage(n & 63, out);
    }),
  );
}

const mib = (PAGES * 2048) / 2 ** 20;
const rate = (s: number): string => `${(mib / s).toFixed(0)} MiB/s`;
console.log('command: npx tsx bench/nand-ecc.ts');
console.log(`encode: ${rate(best.encodeWords)} word-wise (aligned)   ${rate(best.encodeBytes)} byte-wise (unaligned)   ratio ${(best.encodeBytes / best.encodeWords).toFixed(2)}×`);
console.log(`check:  ${rate(best.checkWords)} word-wise (aligned)   ${rate(best.checkBytes)} byte-wise (unaligned)   ratio ${(best.checkBytes / best.checkWords).toFixed(2)}×`);
console.log(`ECC page reads (yaffs2-2k, RAM): ${(PAGES / readSeconds / 1e3).toFixed(0)} k pages/s`);
console.log(`best of ${ROUNDS} rounds of ${PAGES} pages; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
