// Memory of the WebAssembly kernels' tables per flash page, table by table, and what a 4 TiB device
// would need (issue 17: "Geometries up to 4 TiB run in the kernel … with memory ≤ 30 bytes per page").
// Upstream counterpart: none (MQSim keeps its tables on the C++ heap, with no address-space limit).
//
// The kernels' tables (the metadata device's compact spare heads, page states, programmed flags and
// per-block tables; the FTL's L2P, validity bits and per-block tables — it derives P2L from the
// spare heads; the run loop's tables)
// live in one shared WebAssembly memory (nand's TableMemory), which a 32-bit module addresses up
// to 4 GiB (TABLE_MEMORY_MAX_BYTES). This script builds simulators (the tables are allocated and
// initialised, nothing written) at --blocks N and N/2 blocks per die, reads where each table lies
// in the memory (the device's table addresses are its kernel's globals, the FTL's tables are typed
// arrays over the memory), and prints each table's bytes per physical page. Every table is per
// page, per block, per die or fixed, so two geometries that differ only in blocks per die give each
// table's bytes at any other block count exactly (up to 8-byte rounding): the script projects them
// to the 4 TiB device (16 KiB pages: 2^28 pages, 16384 blocks per die) and to the largest device
// that fits, as built and with the one reduction left (page state and programmed flag in one
// byte), marked projected.
//
// --run-blocks M builds the device with M blocks per die (e.g. 16384: 4 TiB of 16 KiB pages),
// runs --writes W (default 2,000,000) uniform random host writes on it and prints whether the FTL
// and the run loop ran in the kernel, the memory used and the wall time; it exits 1 when either
// fell back to TypeScript (FLASHDIFF_REQUIRE_KERNEL=1's check: tables that do not fit the memory
// are a fallback, not a link failure, so that variable alone does not catch them).
//
// Run: npx tsx bench/ssd-kernel-memory.ts [--blocks N] [--run-blocks M [--writes W]]
//   --blocks: blocks per die of the measured geometry (default 1024, even; 8 channels × 8 dies ×
//   N blocks × 256 pages of 16 KiB, the realistic page size of a 4 TiB drive).
import { TABLE_MEMORY_MAX_BYTES } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import { SsdSimulator } from '@flashdiff/ssd';

function intArg(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 2) {
    console.error(`ssd-kernel-memory: ${name} must be an integer ≥ 2, got ${process.argv[at + 1]}`);
    process.exit(2);
  }
  return value;
}

const blocks = intArg('--blocks', 1024);
const runBlocks = intArg('--run-blocks', 0);
const writes = intArg('--writes', 2_000_000);
if (blocks % 2 !== 0) {
  console.error(`ssd-kernel-memory: --blocks must be even (N and N/2 are measured), got ${blocks}`);
  process.exit(2);
}

const GiB = 2 ** 30;
const TiB = 2 ** 40;
const base = { pageSize: 16384, spareSize: 64, pagesPerBlock: 256, diesPerChannel: 8, channels: 8 };
const geometryOf = (blocksPerDie: number): NandGeometry => ({ ...base, blocksPerDie });
const pagesOf = (blocksPerDie: number): number => base.channels * base.diesPerChannel * blocksPerDie * base.pagesPerBlock;
/** Blocks per die of a 4 TiB device of this geometry. */
const blocks4TiB = (4 * TiB) / base.pageSize / (base.channels * base.diesPerChannel * base.pagesPerBlock);

/** The rows of the breakdown, in the memory's order. */
const ROWS = [
  ['device', 'compact spare heads (8 bytes: LBA, sequence)'],
  ['device', 'page state'],
  ['device', 'programmed flag'],
  ['device', 'per-block and per-die tables, cells'],
  ['FTL', 'L2P (4 bytes per user page)'],
  ['FTL', 'validity bitmap (1 bit)'],
  ['FTL', 'per-block and per-die tables, cells'],
  ['run loop', 'completions, histograms, cells'],
] as const;

interface Measured {
  readonly bytes: number[];
  readonly used: number;
  readonly ftlKernel: boolean;
  readonly runLoopKernel: boolean;
}

/** Builds a simulator and reads where its tables lie in the kernels' memory. */
function measure(blocksPerDie: number): Measured {
  const sim = new SsdSimulator({ geometry: geometryOf(blocksPerDie), snapshotEvery: 0 });
  const layout = sim.device.metadataKernel;
  const engine = sim.engine();
  if (layout === null || layout === undefined || !engine.ftlKernel) {
    console.error(`ssd-kernel-memory: ${blocksPerDie} blocks per die do not run in the kernel (${engine.typescriptBecause.join('; ') || 'no table memory'}); measure a smaller --blocks`);
    process.exit(1);
  }
  const g = layout.globals;
  const at = (name: string): number => {
    const address = g[name];
    if (address === undefined) throw new Error(`the device kernel has no global ${name}`);
    return address;
  };
  const ftl = sim.ftl;
  const ftlStart = ftl.l2pTable.byteOffset; // the FTL's first table
  const ftlEnd = ftlStart + ftl.tableBytes;
  const deviceHeads = at('pageState') - at('heads');
  const devicePageState = at('eraseCounts') - at('pageState');
  const deviceProgrammed = at('nextPage') - at('programmed');
  // The device's tables start at 64 (TableMemory leaves 0 … 63 unused); its cells follow them.
  const deviceRest = ftlStart - 64 - deviceHeads - devicePageState - deviceProgrammed;
  const round8 = (n: number): number => Math.ceil(n / 8) * 8;
  const l2p = round8(ftl.l2pTable.byteLength);
  const valid = round8(ftl.validBits.byteLength);
  const bytes = [deviceHeads, devicePageState, deviceProgrammed, deviceRest, l2p, valid, ftl.tableBytes - l2p - valid, layout.memory.usedBytes - ftlEnd];
  return { bytes, used: layout.memory.usedBytes, ftlKernel: engine.ftlKernel, runLoopKernel: engine.runLoopKernel };
}

const half = blocks / 2;
const at = measure(blocks);
const atHalf = measure(half);
/** Each row's bytes at another block count: linear in blocks per die (per-die and fixed tables cancel). */
const project = (row: number, blocksPerDie: number): number =>
  at.bytes[row]! + ((at.bytes[row]! - atHalf.bytes[row]!) / (blocks - half)) * (blocksPerDie - blocks);
const pages = pagesOf(blocks);
const pages4 = pagesOf(blocks4TiB);
const all = ROWS.map((_, i) => i);
const fmt = (n: number, digits = 2): string => n.toFixed(digits);
const pad = (s: string, n: number): string => s.padEnd(n);

console.log(`measured: ${pages} pages (${blocks} blocks per die) and ${pagesOf(half)} (${half}); kernel yes at both; ${fmt(at.used / pages)} bytes/page of ${(at.used / 2 ** 20).toFixed(0)} MiB used`);
console.log(`${pad('table', 52)} ${pad('bytes/page', 11)} at 4 TiB (${pages4} pages, projected)`);
let ftlTotal = 0;
let deviceTotal = 0;
ROWS.forEach(([owner, name], i) => {
  const bytes4 = project(i, blocks4TiB);
  if (owner === 'FTL') ftlTotal += bytes4;
  if (owner === 'device') deviceTotal += bytes4;
  console.log(`${pad(`${owner}: ${name}`, 52)} ${pad(fmt(at.bytes[i]! / pages, 3), 11)} ${fmt(bytes4 / GiB)} GiB`);
});
const total4 = all.reduce((t, row) => t + project(row, blocks4TiB), 0);
console.log(`${pad('total', 52)} ${pad(fmt(at.used / pages, 3), 11)} ${fmt(total4 / GiB)} GiB (device ${fmt(deviceTotal / GiB)}, FTL ${fmt(ftlTotal / GiB)})`);
console.log(`the table memory holds ${TABLE_MEMORY_MAX_BYTES / GiB} GiB: 4 TiB of 16 KiB pages needs ≤ ${fmt(TABLE_MEMORY_MAX_BYTES / pages4, 1)} bytes/page, so 4 TiB ${total4 <= TABLE_MEMORY_MAX_BYTES ? 'fits' : 'does not fit'}`);

// As built, and the reduction not built (projected from the rows above).
const SCENARIOS: { name: string; drop: readonly number[]; scale?: Readonly<Record<number, number>> }[] = [
  { name: 'as built', drop: [] },
  { name: 'page state + programmed flag in one byte (not built)', drop: [2] },
];
console.log('largest device in the table memory (projected):');
for (const s of SCENARIOS) {
  const rows = all.filter((i) => !s.drop.includes(i));
  const scaled = (blocksPerDie: number): number => rows.reduce((t, row) => t + project(row, blocksPerDie) * (s.scale?.[row] ?? 1), 0);
  let lo = 1;
  let hi = 1 << 20;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (scaled(mid) <= TABLE_MEMORY_MAX_BYTES) lo = mid;
    else hi = mid - 1;
  }
  const perPage = scaled(blocks4TiB) / pages4;
  console.log(`  ${pad(s.name, 76)} ${fmt(perPage)} bytes/page: ${fmt((pagesOf(lo) * base.pageSize) / TiB)} TiB of 16 KiB pages (${lo} blocks per die)`);
}

if (runBlocks > 0) {
  const runPages = pagesOf(runBlocks);
  const start = performance.now();
  const sim = new SsdSimulator({ geometry: geometryOf(runBlocks), snapshotEvery: 0, workload: { kind: 'uniform', seed: 1 } });
  const built = performance.now();
  const report = sim.run(writes);
  const ran = performance.now();
  const engine = sim.engine();
  const used = sim.device.metadataKernel?.memory.usedBytes ?? 0;
  console.log(
    `run: ${runPages} pages (${fmt((runPages * base.pageSize) / TiB)} TiB, ${runBlocks} blocks per die): FTL kernel ${engine.ftlKernel ? 'yes' : 'no'}, run loop kernel ${engine.runLoopKernel ? 'yes' : 'no'}` +
      `${engine.typescriptBecause.length > 0 ? ` (TypeScript because of ${engine.typescriptBecause.join('; ')})` : ''}; kernel batches ${sim.kernelLoop.batches}; ` +
      `table memory ${fmt(used / GiB)} GiB (${fmt(used / runPages)} bytes/page); built in ${fmt((built - start) / 1000)} s, ${writes} writes in ${fmt((ran - built) / 1000)} s; ` +
      `${report.hostPageWrites} host page writes, ${report.nandPageWrites} NAND page writes`,
  );
  if (!engine.ftlKernel || !engine.runLoopKernel || sim.kernelLoop.batches === 0) process.exitCode = 1;
}
console.log(`command: npx tsx bench/ssd-kernel-memory.ts --blocks ${blocks}${runBlocks > 0 ? ` --run-blocks ${runBlocks} --writes ${writes}` : ''}`);
