// The bare algorithm behind bench/ssd-throughput.ts, as a floor for what JavaScript can do: a
// page-mapped FTL with greedy GC over 4096 blocks × 64 pages at OP 20 %, uniform random writes after
// one sequential fill — L2P, P2L and valid counts in typed arrays, greedy victims from buckets by
// valid count, and nothing else: no NAND device, no spare area or CRC, no timing model, no
// statistics, no TRIM, no wear leveling, no power-loss recovery. It is the JavaScript analogue of the
// "minimal C loop" issue 3 quotes (~15 M/s); the gap between its figure and the simulator's is the
// cost of modelling the device. Not used by any package.
// Run: npx tsx bench/ssd-bare-loop.ts
import os from 'node:os';

const blocks = 4096;
const pagesPerBlock = 64;
const physicalPages = blocks * pagesPerBlock;
const userPages = Math.floor(physicalPages / 1.2); // OP = (physical − user) / user = 20 %
const l2p = new Int32Array(userPages).fill(-1);
const p2l = new Int32Array(physicalPages).fill(-1);
const validCount = new Int32Array(blocks);
// Closed blocks in doubly linked buckets by valid count: the greedy victim is the head of the
// lowest non-empty bucket, and a count change moves a block between neighbouring buckets in O(1).
const nextInBucket = new Int32Array(blocks).fill(-1);
const previousInBucket = new Int32Array(blocks).fill(-1);
const bucketHead = new Int32Array(pagesPerBlock + 1).fill(-1);
const inBucket = new Uint8Array(blocks);
const freeBlocks = new Int32Array(blocks);
let freeCount = 0;
for (let b = blocks - 1; b >= 0; b--) freeBlocks[freeCount++] = b;

function bucketInsert(b: number): void {
  const v = validCount[b];
  nextInBucket[b] = bucketHead[v];
  previousInBucket[b] = -1;
  if (bucketHead[v] >= 0) previousInBucket[bucketHead[v]] = b;
  bucketHead[v] = b;
  inBucket[b] = 1;
}
function bucketRemove(b: number): void {
  const v = validCount[b];
  if (previousInBucket[b] >= 0) nextInBucket[previousInBucket[b]] = nextInBucket[b];
  else bucketHead[v] = nextInBucket[b];
  if (nextInBucket[b] >= 0) previousInBucket[nextInBucket[b]] = previousInBucket[b];
  inBucket[b] = 0;
}

let hostBlock = freeBlocks[--freeCount];
let hostPage = 0;
let gcBlock = freeBlocks[--freeCount];
let gcPage = 0;
let programs = 0;

function invalidate(ppa: number): void {
  const b = (ppa / pagesPerBlock) | 0;
  p2l[ppa] = -1;
  if (inBucket[b]) {
    bucketRemove(b);
    validCount[b]--;
    bucketInsert(b);
  } else validCount[b]--;
}
function gcProgram(lba: number): void {
  if (gcPage === pagesPerBlock) {
    bucketInsert(gcBlock);
    gcBlock = freeBlocks[--freeCount];
    gcPage = 0;
  }
  const ppa = gcBlock * pagesPerBlock + gcPage++;
  p2l[ppa] = lba;
  l2p[lba] = ppa;
  validCount[gcBlock]++;
  programs++;
}
function collect(): void {
  let v = 0;
  while (bucketHead[v] < 0) v++;
  const victim = bucketHead[v];
  bucketRemove(victim);
  const base = victim * pagesPerBlock;
  for (let i = 0; i < pagesPerBlock; i++) {
    const lba = p2l[base + i];
    if (lba >= 0) {
      p2l[base + i] = -1;
      gcProgram(lba);
    }
  }
  validCount[victim] = 0;
  freeBlocks[freeCount++] = victim;
}
function write(lba: number): void {
  const old = l2p[lba];
  if (old >= 0) invalidate(old);
  if (hostPage === pagesPerBlock) {
    bucketInsert(hostBlock);
    while (freeCount < 3) collect();
    hostBlock = freeBlocks[--freeCount];
    hostPage = 0;
  }
  const ppa = hostBlock * pagesPerBlock + hostPage++;
  p2l[ppa] = lba;
  l2p[lba] = ppa;
  validCount[hostBlock]++;
  programs++;
}

// xorshift32, seeded: the same LBA sequence every run.
let state = 12345;
const nextLba = (): number => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) % userPages;
};
for (let lba = 0; lba < userPages; lba++) write(lba);
for (let i = 0; i < userPages; i++) write(nextLba()); // to the steady state
const programsBefore = programs;
const writes = 20 * userPages;
const t0 = performance.now();
for (let i = 0; i < writes; i++) write(nextLba());
const ms = performance.now() - t0;
console.log(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}`);
console.log(`bare greedy loop: ${writes} host page writes in ${(ms / 1000).toFixed(2)} s = ${((writes / ms) * 1000 / 1e6).toFixed(2)} M writes/s (steady-state WAF ${((programs - programsBefore) / writes).toFixed(3)})`);
console.log('command: npx tsx bench/ssd-bare-loop.ts');
