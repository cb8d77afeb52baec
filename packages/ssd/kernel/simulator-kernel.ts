// AssemblyScript source of the entry of the FTL's WebAssembly module (compiled by
// scripts/build-kernels.ts into src/ftl-kernel-wasm.ts; not part of the TypeScript program).
//
// It re-exports kernel/ftl/mapping.ts's write() and adds simulate(): SsdSimulator's per-operation loop
// (simulator.ts run / precondition, step, write, issue, complete; workload.ts Workload.next and
// Xoshiro128; metrics.ts LatencyHistogram.bucketOf and recordInBucket) for runs of host writes,
// so that a simulated write costs no call out of WebAssembly. It draws each operation as the
// workload does, issues it on the closed-loop queue, runs write(), completes it and records its
// latency in both histograms, with the same arithmetic in the same order as the TypeScript code.
// Whatever it does not do it hands back to simulator.ts without losing the operation: a read or a
// TRIM (drawn, not issued) and a write whose write() returned < 0 (issued; Ftl.finishKernelWrite
// finishes it, then simulator.ts completes it). A batch also stops after exactly `limit` host
// writes: simulator.ts picks the limit so that it stops wherever its own loop does more than write
// (a time-series point, a progress call, the run's end).
//
// Each operation is drawn just before it runs. Drawing the next one before write() to touch its
// L2P entry early (overlapping that cache miss) was measured on ssd-4k and gained nothing.
//
// The simulator's tables live in the same memory but are allocated after the FTL instantiated
// this module, so their addresses come through bindSimulator() into mutable globals; simulate()
// copies them into locals (a mutable global is loaded again at every use).
//
// Addresses are byte offsets into the memory; every table is aligned to its element size.

import { write } from './ftl/mapping';

export { write } from './ftl/mapping';
export { replayResume, replayScheduled } from './simulator/replay';
export { programsReady, readsReady } from '../../nand/kernel/metadata-device';
export { bindPlanes as bindPlaneView } from './planes';
export { markedFillLazy, markedFillPages } from './ftl/marked-fill';
export { fillImplied, settleFill } from './ftl/lazy-fill';
export { formatBlocks } from './ftl/free-pool';
export { eraseTally } from './metrics';

/** NandClock's cells (f64): issue time, last completion, latest completion (nand's kernel imports them too). */
@external("device", "clockCells") declare const clockCells: usize;

// Operation kinds (workload.ts OP_WRITE, OP_READ, OP_TRIM).
const OP_WRITE: i32 = 0;
const OP_READ: i32 = 1;
const OP_TRIM: i32 = 2;

// Workload kinds, as simulator.ts passes them.
const KIND_SEQ: i32 = 0;
const KIND_UNIFORM: i32 = 1;
const KIND_HOTCOLD: i32 = 2;

// Why simulate() returned (simulator.ts reads the same values).
/** `limit` host writes completed; nothing pending. */
const BATCH_LIMIT: i32 = 0;
/** A read was drawn (its LBA in the batch cells); nothing issued. */
const BATCH_READ: i32 = 1;
/** A TRIM was drawn (its LBA in the batch cells); nothing issued. */
const BATCH_TRIM: i32 = 2;
/** A write was issued and write() returned < 0: LBA, code and issue time in the cells. */
const BATCH_WRITE: i32 = 3;

// f64 time cells: SsdSimulator's lastIssue and hostOps, and a handed-back write's issue time.
const LAST_ISSUE: usize = 0;
const HOST_OPS: usize = 8;
const PENDING_ISSUE: usize = 16;
// i32 batch cells: SsdSimulator's queueSlot; the LBA last drawn (Workload.lba) or of the
// handed-back operation; write()'s code; host writes completed by the last simulate().
const QUEUE_SLOT: usize = 0;
const LBA: usize = 4;
const FTL_CODE: usize = 8;
const WRITES_DONE: usize = 12;
// i32 workload cells: the xoshiro128** state a, b, c, d, then the sequential cursor.
const SEQUENTIAL: usize = 16;
// The histograms block (f64, simulator.ts `histograms`): the latency histogram's 512 buckets and
// its count, sum, max (metrics.ts LatencyHistogramStorage), the interval histogram's the same way,
// then the 8 octave edges. Byte offsets from the block's address:
const BUCKETS: i32 = 512;
const LATENCY: u32 = 0;
const LATENCY_CELLS: u32 = BUCKETS * 8;
const INTERVAL: u32 = LATENCY_CELLS + 3 * 8;
const INTERVAL_CELLS: u32 = INTERVAL + BUCKETS * 8;
const EDGES: u32 = INTERVAL_CELLS + 3 * 8;
/** The last latency bucket (LatencyHistogram.BUCKETS − 1). */
const LAST_BUCKET: i32 = BUCKETS - 1;
/** Above this many pages a page draw's f64 product may round: then it is taken in f64. */
const EXACT_INT_DRAW: i32 = 1 << 21;

// ------------------------------------------------------------------ bound by bindSimulator

let completions: usize = 0;
let queueDepth: i32 = 1;
let timeCells: usize = 0;
let batchCells: usize = 0;
let workloadCells: usize = 0;
let histograms: usize = 0;
let workloadKind: i32 = KIND_UNIFORM;
let userPages: i32 = 1;
let hotPages: i32 = 1;
let readRatio: f64 = 0;
let trimRatio: f64 = 0;
let hotAccessFraction: f64 = 0;
/** Reads or TRIMs are mixed in (readRatio or trimRatio > 0). */
let mixed: bool = false;
/** Workload.next's draws per operation (see simulate). */
let drawsPerOperation: i32 = 1;

/**
 * Binds SsdSimulator's tables (addresses) and the workload's parameters (kind 0 seq, 1 uniform,
 * 2 hotcold; hotPages as Workload computes it). Called once, after the simulator allocated them.
 */
export function bindSimulator(
  completionsAt: usize, depth: i32, timeCellsAt: usize, batchCellsAt: usize, workloadCellsAt: usize, histogramsAt: usize,
  kind: i32, pages: i32, hot: i32, reads: f64, trims: f64, hotAccess: f64,
): void {
  completions = completionsAt;
  queueDepth = depth;
  timeCells = timeCellsAt;
  batchCells = batchCellsAt;
  workloadCells = workloadCellsAt;
  histograms = histogramsAt;
  workloadKind = kind;
  userPages = pages;
  hotPages = hot;
  readRatio = reads;
  trimRatio = trims;
  hotAccessFraction = hotAccess;
  mixed = reads > 0 || trims > 0;
  // In Workload.next's order: the operation's kind (when reads or TRIMs are mixed in), hot or
  // cold (hotcold), the page (not seq).
  drawsPerOperation = (mixed ? 1 : 0) + (kind == KIND_HOTCOLD ? 1 : 0) + (kind == KIND_SEQ ? 0 : 1);
}

// ------------------------------------------------------------------ the workload's draws (workload.ts Xoshiro128)

/** Xoshiro128.nextFloat of a drawn u32: u32 / 2^32 in f64. */
@inline function toFloat(x: u32): f64 {
  return <f64>x / 4294967296.0;
}

/**
 * Xoshiro128.nextInt of a drawn u32: floor(u32 / 2^32 · n) in f64. Both factors are exact, and
 * below 2^21 pages so is their product (under 2^53), so the floor is then the integer product's
 * upper word; and the value lies in [0, n), so i32 truncation is the floor.
 */
@inline function toInt(x: u32, n: i32): i32 {
  return n <= EXACT_INT_DRAW ? <i32>((<u64>x * <u64>n) >> 32) : <i32>((<f64>x / 4294967296.0) * <f64>n);
}

// ------------------------------------------------------------------ latency buckets (metrics.ts bucketOf, recordInBucket)

/**
 * LatencyHistogram.bucketOf: v = max(ns, 1) = m · 2^e with e from the exponent bits and m in [1, 2)
 * the same mantissa with a zero exponent; the bucket is 8e + the largest k with edge[k] ≤ m
 * (edges 2^(k/8) from simulator.ts, the same doubles), capped at 511.
 */
// Mirrors: packages/ssd/src/metrics.ts#LatencyHistogram.bucketOf kernel:532d99b6 source:905c8812
@inline function bucketOf(ns: f64, block: usize): i32 {
  const v = ns < 1 ? 1.0 : ns;
  const bits = reinterpret<u64>(v);
  const e = <i32>(bits >> 52) - 1023;
  const m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000);
  let k = m >= load<f64>(block, EDGES + 32) ? 4 : 0;
  if (m >= load<f64>(block + (<usize>(k + 2) << 3), EDGES)) k += 2;
  if (m >= load<f64>(block + (<usize>(k + 1) << 3), EDGES)) k += 1;
  const bucket = 8 * e + k;
  return bucket < LAST_BUCKET ? bucket : LAST_BUCKET;
}

/**
 * LatencyHistogram.recordInBucket into both histograms of the block, but for the counts: counts of
 * whole numbers add exactly in any order, so simulate() adds its batch's count once at the end.
 */
// Mirrors: packages/ssd/src/metrics.ts#LatencyHistogram.recordInBucket kernel:c35005a3 source:84ffcb95
@inline function record(block: usize, bucket: i32, ns: f64): void {
  const at = block + (<usize>bucket << 3);
  store<f64>(at, load<f64>(at, LATENCY) + 1, LATENCY);
  store<f64>(at, load<f64>(at, INTERVAL) + 1, INTERVAL);
  store<f64>(block, load<f64>(block, LATENCY_CELLS + 8) + ns, LATENCY_CELLS + 8);
  store<f64>(block, load<f64>(block, INTERVAL_CELLS + 8) + ns, INTERVAL_CELLS + 8);
  if (ns > load<f64>(block, LATENCY_CELLS + 16)) store<f64>(block, ns, LATENCY_CELLS + 16);
  if (ns > load<f64>(block, INTERVAL_CELLS + 16)) store<f64>(block, ns, INTERVAL_CELLS + 16);
}

// ------------------------------------------------------------------ the run loop (simulator.ts)

/**
 * One timed host write: issue() (the queue slot's previous operation completed, and the host
 * issues in order; NandClock.issueAt), write(), complete(t, true) (done when the device finished
 * what it did for this write; the completion ring) and the latency in both histograms. Returns the
 * issue time t, or −1 when write() handed the write back (it was issued: its issue time and code
 * are left in the cells for simulator.ts to finish it).
 */
// Mirrors: packages/ssd/src/simulator.ts#SsdSimulator.issue packages/ssd/src/simulator.ts#SsdSimulator.complete packages/ssd/src/simulator.ts#SsdSimulator.completeAt packages/ssd/src/simulator.ts#SsdSimulator.write kernel:82597cf3 source:9f995e8f
@inline function timedWrite(lba: i32, completedAt: usize, lastIssue: f64, block: usize): f64 {
  const clock = clockCells;
  const completed = load<f64>(completedAt);
  const t = lastIssue > completed ? lastIssue : completed;
  if (t > load<f64>(clock)) store<f64>(clock, t);
  const code = write(lba);
  if (code < 0) {
    store<f64>(timeCells, t, PENDING_ISSUE);
    store<i32>(batchCells, code, FTL_CODE);
    return -1;
  }
  const done = max<f64>(t, load<f64>(clock, 8));
  store<f64>(completedAt, done);
  const ns = done - t;
  record(block, bucketOf(ns, block), ns);
  return t;
}

/** What a batch leaves in the cells: the loop's scalars, and the counts it adds once (whole numbers, exact in any order). */
@inline function endBatch(lastIssue: f64, slot: i32, lba: i32, written: i32, block: usize): void {
  store<f64>(timeCells, lastIssue, LAST_ISSUE);
  const completed = <f64>written;
  store<f64>(timeCells, load<f64>(timeCells, HOST_OPS) + completed, HOST_OPS);
  store<f64>(block, load<f64>(block, LATENCY_CELLS) + completed, LATENCY_CELLS);
  store<f64>(block, load<f64>(block, INTERVAL_CELLS) + completed, INTERVAL_CELLS);
  store<i32>(batchCells, slot, QUEUE_SLOT);
  store<i32>(batchCells, lba, LBA);
  store<i32>(batchCells, written, WRITES_DONE);
}

/**
 * Runs workload operations until `limit` (≥ 1) host writes completed, or until one needs
 * TypeScript, and returns why it stopped (BATCH_*). fillFrom ≥ 0 (precondition): the writes go to
 * LBAs fillFrom, fillFrom + 1, … instead of the workload's draws, and the workload is not touched.
 * The host writes completed are left in the batch cells (WRITES_DONE).
 */
// Mirrors: packages/ssd/src/simulator.ts#SsdSimulator.run packages/ssd/src/simulator.ts#SsdSimulator.precondition kernel:4f3e921d source:8ddeb2e0
export function simulate(limit: i32, fillFrom: i32): i32 {
  if (fillFrom < 0 && workloadKind == KIND_UNIFORM && !mixed) return uniformWrites(limit);
  // What the loop steps, in locals (stored back below); the rarer parameters stay in globals.
  const completionsAt = completions;
  const depth = queueDepth;
  const block = histograms;
  const kind = workloadKind;
  const n = userPages;
  const fill = fillFrom >= 0;
  // The generator state stays in locals while the loop draws.
  let a = load<u32>(workloadCells);
  let b = load<u32>(workloadCells, 4);
  let c = load<u32>(workloadCells, 8);
  let d = load<u32>(workloadCells, 12);
  let sequential = load<i32>(workloadCells, SEQUENTIAL);
  let lastIssue = load<f64>(timeCells, LAST_ISSUE);
  let slot = load<i32>(batchCells, QUEUE_SLOT);
  let lba = load<i32>(batchCells, LBA);
  let written = 0;
  let status = BATCH_LIMIT;
  while (written < limit) {
    // Workload.next (or the precondition's next LBA).
    let op = OP_WRITE;
    if (fill) {
      lba = fillFrom + written;
    } else {
      // The operation's draws (Xoshiro128.nextUint32, u32 products wrapping as Math.imul's do);
      // the last three are kept, oldest in u0, so the page's draw is always u2.
      let u0: u32 = 0;
      let u1: u32 = 0;
      let u2: u32 = 0;
      for (let k = 0; k < drawsPerOperation; k++) {
        const result = rotl<u32>(b * 5, 7) * 9;
        const t = b << 9;
        c ^= a;
        d ^= b;
        b ^= c;
        a ^= d;
        c ^= t;
        d = rotl<u32>(d, 11);
        u0 = u1;
        u1 = u2;
        u2 = result;
      }
      if (mixed) {
        const r = toFloat(kind == KIND_SEQ ? u2 : kind == KIND_UNIFORM ? u1 : u0);
        if (r < readRatio) op = OP_READ;
        else if (r < readRatio + trimRatio) op = OP_TRIM;
      }
      if (kind == KIND_UNIFORM) {
        lba = toInt(u2, n);
      } else if (kind == KIND_SEQ) {
        lba = sequential;
        if (++sequential == n) sequential = 0;
      } else {
        const hot = hotPages;
        lba = toFloat(u1) < hotAccessFraction || hot == n ? toInt(u2, hot) : hot + toInt(u2, n - hot);
      }
      if (op != OP_WRITE) {
        status = op == OP_READ ? BATCH_READ : BATCH_TRIM;
        break;
      }
    }
    const t = timedWrite(lba, completionsAt + (<usize>slot << 3), lastIssue, block);
    if (t < 0) {
      lastIssue = load<f64>(timeCells, PENDING_ISSUE); // it was issued
      status = BATCH_WRITE;
      break;
    }
    lastIssue = t;
    if (++slot == depth) slot = 0;
    written++;
  }
  if (!fill) {
    store<u32>(workloadCells, a);
    store<u32>(workloadCells, b, 4);
    store<u32>(workloadCells, c, 8);
    store<u32>(workloadCells, d, 12);
    store<i32>(workloadCells, sequential, SEQUENTIAL);
  }
  endBatch(lastIssue, slot, lba, written, block);
  return status;
}

/**
 * simulate() for the commonest run, uniform random writes with no reads or TRIMs mixed in: one
 * draw per operation and nothing to branch on, so the loop keeps fewer values alive across write().
 */
function uniformWrites(limit: i32): i32 {
  const completionsAt = completions;
  const depth = queueDepth;
  const block = histograms;
  const n = userPages;
  let a = load<u32>(workloadCells);
  let b = load<u32>(workloadCells, 4);
  let c = load<u32>(workloadCells, 8);
  let d = load<u32>(workloadCells, 12);
  let lastIssue = load<f64>(timeCells, LAST_ISSUE);
  let slot = load<i32>(batchCells, QUEUE_SLOT);
  let lba = load<i32>(batchCells, LBA);
  let written = 0;
  let status = BATCH_LIMIT;
  while (written < limit) {
    // Xoshiro128.nextUint32, then nextInt(userPages): Workload.next for this workload.
    const x = rotl<u32>(b * 5, 7) * 9;
    const shifted = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= shifted;
    d = rotl<u32>(d, 11);
    lba = toInt(x, n);
    const t = timedWrite(lba, completionsAt + (<usize>slot << 3), lastIssue, block);
    if (t < 0) {
      lastIssue = load<f64>(timeCells, PENDING_ISSUE); // it was issued
      status = BATCH_WRITE;
      break;
    }
    lastIssue = t;
    if (++slot == depth) slot = 0;
    written++;
  }
  store<u32>(workloadCells, a);
  store<u32>(workloadCells, b, 4);
  store<u32>(workloadCells, c, 8);
  store<u32>(workloadCells, d, 12);
  endBatch(lastIssue, slot, lba, written, block);
  return status;
}
