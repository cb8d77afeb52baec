// The marked fill: a preconditioning fill (host writes of distinct, unmapped LBAs in a given order)
// written into the FTL's tables in one tight loop instead of one write() at a time. It makes the
// same calls in the same order as those writes would (the die each write picks, the units opened
// and closed, the sequence numbers, every page's spare words through the device's
// programSpareWords), and skips only what a check made beforehand proves they would not do: no
// foreground GC (every die keeps at least gcThreshold free blocks to the end), no die skipped for
// lack of room, no old copy to invalidate. Where that check fails, or the configuration is one the
// loop does not cover, it does nothing and says so (the caller writes one page at a time).
// The device's timing is the caller's (SsdSimulator untimes it: see src/precondition.ts).
// Upstream counterpart: MQSim's preconditioning (FTL::Perform_precondition,
// Address_Mapping_Unit_Page_Level::Allocate_address_for_preconditioning), which assigns the
// mapping and block state directly instead of simulating the writes.
import { crc32Words3Int32 } from '../crc32.ts';
import { rethrowKernelAbort } from '../errors.ts';
import { afterProgram, openUnit, retryFailedProgram, setValid } from './block-manager.ts';
import { guard, write } from './mapping.ts';
import { bindKernelPlaneView } from './state.ts';
import type { FtlKernel, FtlState } from './state.ts';
import { allocateTables, int32Table } from '@flashdiff/nand';
import type { MetadataKernelLayout } from '@flashdiff/nand';

/** Why {@link markedFill} declined, or null when it wrote the pages. */
export type MarkedFillDecline = string | null;

/** Moduli and die weights of a static allocation scheme's four letters (staticHostDie's order). */
function staticScheme(st: FtlState): { mod: Int32Array; weight: Int32Array } {
  const g = st.geometry;
  const planes = st.planesPerDie;
  const mod = new Int32Array(4).fill(1);
  const weight = new Int32Array(4);
  for (let k = 0; k < 4; k++) {
    const letter = st.allocationOrder.charCodeAt(k);
    if (letter === 99 /* c */) {
      mod[k] = g.channels;
      weight[k] = g.diesPerChannel;
    } else if (letter === 119 /* w */) {
      mod[k] = g.diesPerChannel / planes;
      weight[k] = planes;
    } else if (letter === 112 /* p */) {
      mod[k] = planes;
      weight[k] = 1;
    }
  }
  return { mod, weight };
}

/**
 * Host-writes LBAs order[0 … count) (or first … first + count − 1 when order is null) as
 * count calls of write() would, in one loop over the tables. Returns null when done, or the
 * reason it declined (nothing changed then). A device error part-way (a program fault, a power
 * cut) is handled as write() handles it, and the pages after it go through write().
 */
export function markedFill(st: FtlState, order: Int32Array | null, first: number, count: number, kernelProgramsReady = false): MarkedFillDecline {
  if (st.poweredOff) return 'the FTL waits for recover()';
  if (!st.blockMode) return 'superblock allocation';
  if (!st.fastMeta) return 'no metadata fast path (the device stores data)';
  if (st.summaries) return 'P2L summary pages';
  if (st.cmt !== null) return 'a cached mapping table';
  if (count <= 0) return null;
  const device = st.device;
  if (device.programSpareWords === undefined) return 'no programSpareWords';
  const dies = st.dies;
  const l2p = st.l2p;
  // A write's die: the static scheme's, from its LBA, or round robin from the host cursor (write
  // i of the fill: dieOrder[(cursor + i) mod dies]). Pass 2 computes it again rather than keeping
  // it (4 bytes a write: 175 MB for a 70 % fill of MQSim's 512 GiB device).
  const scheme = st.staticAllocation ? staticScheme(st) : null;
  // The scheme's die is a mixed-radix digit sum of the LBA: it depends on lba mod the product of
  // the moduli only (the dies), so it is looked up by that residue (one division, not eight).
  let period = 1;
  let dieOfResidue: Int32Array | null = null;
  if (scheme !== null) {
    for (let k = 0; k < 4; k++) period *= scheme.mod[k]!;
    dieOfResidue = new Int32Array(period);
    for (let r = 0; r < period; r++) {
      let rest = r;
      let die = 0;
      for (let k = 0; k < 4; k++) {
        const m = scheme.mod[k]!;
        die += (rest % m) * scheme.weight[k]!;
        rest = (rest / m) | 0;
      }
      dieOfResidue[r] = die;
    }
  }
  const dieOfLba = (lba: number): number => dieOfResidue![lba % period]!;
  // Pass 1: the LBAs distinct, unmapped and in range, and the writes per die. A sequential fill's
  // LBAs are distinct by construction (a range in the user pages); a given order's are checked
  // against a bitmap of those seen.
  const perDie = new Int32Array(dies);
  const seen = order === null ? null : new Uint32Array(Math.ceil(st.userPages / 32));
  // A mapped LBA's page is valid (checkConsistency): with no valid page anywhere, no LBA is
  // mapped, and the L2P is not read here (on a new device its pages are then first touched by the
  // stores of pass 2, not faulted in twice).
  let anyMapped = false;
  for (let d = 0; d < dies; d++) if (st.poolValid[d] !== 0) anyMapped = true;
  let cursor = st.hostCursor;
  if (order === null && !anyMapped && Number.isInteger(count)) {
    // A sequential fill on a device with nothing mapped: the range checked at its ends and the
    // writes per die counted by residue (each die gets ⌊count / dies⌋ or one more, round robin;
    // each residue mod period ⌊count / period⌋ or one more, static), not page by page; the same
    // answer as the loop below (its first out-of-range LBA, the same counts).
    if (!(Number.isInteger(first) && first >= 0)) return `logical page ${first} out of range`;
    if (first + count > st.userPages) return `logical page ${Math.max(first, st.userPages)} out of range`;
    const cycle = scheme !== null ? period : dies;
    const whole = Math.floor(count / cycle);
    const rest = count - whole * cycle;
    for (let j = 0; j < cycle && j < count; j++) {
      const die = scheme !== null ? dieOfLba(first + j) : st.dieOrder[(cursor + j) % dies]!;
      perDie[die]! += whole + (j < rest ? 1 : 0);
    }
  } else for (let i = 0; i < count; i++) {
    const lba = order === null ? first + i : order[i]!;
    if (!(lba >= 0 && lba < st.userPages && (lba | 0) === lba)) return `logical page ${lba} out of range`;
    if (anyMapped && ~l2p[lba]! >= 0) return 'a logical page already written'; // ~entry (abi.ts)
    if (seen !== null) {
      if ((seen[lba >>> 5]! & (1 << (lba & 31))) !== 0) return 'a logical page already written';
      seen[lba >>> 5] = seen[lba >>> 5]! | (1 << (lba & 31));
    }
    let die: number;
    if (scheme !== null) die = dieOfLba(lba);
    else {
      die = st.dieOrder[cursor]!;
      if (++cursor === dies) cursor = 0;
    }
    perDie[die]!++;
  }
  // Every write keeps its die (staticHostDie's room, or nextHostDie's reserve) and no die drops
  // below gcThreshold free blocks (the pool only shrinks while the fill opens blocks).
  const slot = st.hostStream.slot;
  for (let d = 0; d < dies; d++) {
    const n = perDie[d]!;
    if (n === 0) continue;
    const room = st.poolCapacity[d]! - st.poolValid[d]! - (n - 1);
    if (scheme !== null ? !(room > st.dataPages) : !(room >= st.hostReserve)) return `die ${d} would run out of room`;
    const open = slot[d]!;
    const left = open >= 0 ? st.dataPages - st.writePointer[open]! : 0;
    const opens = n > left ? Math.ceil((n - left) / st.dataPages) : 0;
    if (st.freeCount[d]! - opens < st.gcThreshold || st.freeCount[d]! < opens) return `die ${d} would need foreground GC`;
  }
  // Pass 2 in the FTL's WebAssembly module where it can (kernel/ftl/marked-fill.ts): the FTL's
  // tables there, P2L derived from the spare heads, and the device's programs allowed (no fault
  // armed: the caller asked its kernel, kernelProgramsReady).
  if (kernelProgramsReady && st.moduleKernel !== null && st.derivedP2l === true && kernelFill(st, st.moduleKernel, order, first, count, dieOfResidue, period)) {
    return null;
  }
  // Pass 2: the writes, in order.
  const s = st.hostStream;
  const ppb = st.pagesPerBlock;
  const dataPages = st.dataPages;
  const writePointer = st.writePointer;
  const p2l = st.p2l;
  const blockMinSeq = st.blockMinSeq;
  const validBits = st.validBits;
  const blockValid = st.blockValid;
  const poolValid = st.poolValid;
  const w0 = st.dataWord0;
  let seq = st.nextSequence;
  let i = 0;
  let failed: unknown = null;
  // The die of write i (as pass 1); after the loop, that of the write that failed, if one did.
  let die = 0;
  cursor = st.hostCursor;
  try {
    for (; i < count; i++) {
      const lba = order === null ? first + i : order[i]!;
      if (scheme !== null) die = dieOfLba(lba);
      else {
        die = st.dieOrder[cursor]!;
        if (++cursor === dies) cursor = 0;
      }
      let b = slot[die]!;
      if (b < 0) {
        st.nextSequence = seq;
        openUnit(st, s, die);
        b = slot[die]!;
      }
      const ppa = b * ppb + writePointer[b]!++;
      try {
        device.programSpareWords(ppa, w0, lba, seq, crc32Words3Int32(w0, lba, seq));
      } catch (e) {
        failed = e;
        break;
      }
      p2l[ppa] = ~lba;
      if (seq < blockMinSeq[b]!) blockMinSeq[b] = seq;
      seq++;
      l2p[lba] = ~ppa;
      if (writePointer[b]! >= dataPages) {
        // The block's last data page: closed (stamped with the next sequence number) before the
        // page is counted valid, as placeHost and writeAfterKernel do.
        st.nextSequence = seq;
        afterProgram(st, s, b);
        setValid(st, ppa);
      } else {
        // setValid for a page of an open block (in no greedy bucket yet).
        validBits[ppa >>> 5]! |= 1 << (ppa & 31);
        blockValid[b]!++;
        poolValid[die]!++;
      }
    }
  } finally {
    st.nextSequence = seq;
    st.counterValues.hostPageWrites += i;
    if (scheme === null) st.hostCursor = (st.hostCursor + i) % dies;
  }
  if (failed === null) return null;
  // Write i's program threw. As placeHost: a failed program retires the block and the page goes
  // elsewhere with a newer sequence number (anything else, a power cut included, is write()'s
  // error); then the rest one write() at a time.
  const lba = order === null ? first + i : order[i]!;
  if (scheme === null) st.hostCursor = (st.hostCursor + 1) % dies;
  try {
    st.nextSequence = seq + 1;
    const ppa = retryFailedProgram(st, failed, s, die, lba, slot[die]!);
    l2p[lba] = ~ppa;
    setValid(st, ppa);
    st.counterValues.hostPageWrites++;
  } catch (e) {
    guard(st, e);
  }
  for (i++; i < count; i++) write(st, order === null ? first + i : order[i]!);
  return null;
}

/**
 * A sequential kernel fill that leaves its L2P entries and heads implied (kernel/ftl/marked-fill.ts
 * markedFillLazy, src/ftl/lazy-fill.ts): its tables in the table memory (kept while anything is
 * implied), then the host cursor and counts as kernelFill leaves them. False, with nothing done,
 * when the tables do not fit (kernelFill's page-by-page kernel pass then).
 */
function kernelFillLazy(st: FtlState, kernel: FtlKernel, layout: MetadataKernelLayout | null, first: number, count: number, residues: number, period: number): boolean {
  const cycle = residues !== 0 ? period : st.dies;
  const entries = Math.ceil(count / st.dataPages) + 2 * st.dies;
  const tables = allocateTables({
    dieOfPos: int32Table(cycle), rankOfPos: int32Table(cycle), posList: int32Table(cycle), perPeriod: int32Table(st.dies), wp0: int32Table(st.dies),
    listStart: int32Table(st.dies + 1), blockList: int32Table(2 * entries), blockEntry: int32Table(st.totalBlocks),
  }, layout?.memory ?? null);
  if (!tables.inMemory) return false;
  const at = tables.offsets;
  let last: number;
  try {
    last = kernel.markedFillLazy(first, count, residues, period, st.hostCursor, at.dieOfPos, at.rankOfPos, at.posList, at.perPeriod, at.wp0, at.listStart, at.blockList, at.blockEntry, st.totalBlocks);
  } catch (e) {
    rethrowKernelAbort(`the kernel marked fill (pages ${first}…${first + count - 1} of the fill, implied)`, e);
  }
  const v = tables.views;
  st.impliedFill = kernel.fillImplied() === 1
    ? { first, count, sequence: st.nextSequence - count, period: cycle, dieOfPos: v.dieOfPos, rankOfPos: v.rankOfPos, perPeriod: v.perPeriod, wp0: v.wp0, listStart: v.listStart, blockList: v.blockList }
    : null;
  st.counterValues.hostPageWrites += count;
  if (residues === 0) st.hostCursor = (st.hostCursor + count) % st.dies;
  const device = st.device as { hintProgram?(page: number): void };
  if (last >= 0) device.hintProgram?.(last);
  return true;
}

/** LBAs handed to the kernel at once (for a given order, a 4 MiB buffer in the table memory). */
const KERNEL_FILL_CHUNK = 1 << 20;

/**
 * markedFill's pass 2 in the kernel (markedFillPages), the checks of pass 1 passed: the order in
 * chunks through a buffer in the device's table memory, the static scheme's die by residue, the
 * plane view's geometry; then what the TypeScript pass leaves besides the tables (the host
 * cursor, the count of host writes, the plane view's program hints). False, with nothing done,
 * when the buffers do not fit in the table memory.
 */
function kernelFill(st: FtlState, kernel: FtlKernel, order: Int32Array | null, first: number, count: number, dieOfResidue: Int32Array | null, period: number): boolean {
  const device = st.device as { readonly tableLayout?: MetadataKernelLayout | null; readonly metadataKernel?: MetadataKernelLayout | null; hintProgram?(page: number): void };
  const layout = device.tableLayout ?? device.metadataKernel ?? null;
  const tables = allocateTables({ residues: int32Table(dieOfResidue?.length ?? 0), order: int32Table(order !== null ? Math.min(count, KERNEL_FILL_CHUNK) : 0), runs: int32Table(2 * st.dies) }, layout?.memory ?? null);
  // No room left in the table memory for the buffers: the TypeScript pass (nothing changed yet).
  if (!tables.inMemory) return false;
  if (dieOfResidue !== null) tables.views.residues.set(dieOfResidue);
  bindKernelPlaneView(st, kernel);
  const residues = dieOfResidue !== null ? tables.offsets.residues : 0;
  if (order === null && st.lazyFill && kernelFillLazy(st, kernel, layout, first, count, residues, period)) return true;
  let last = -1;
  for (let done = 0; done < count; ) {
    // A sequential fill in chunks too: V8 runs a WebAssembly function's first calls in its
    // baseline compiler and swaps in the optimised code only at a later call (no on-stack
    // replacement), so one call for the whole fill would run unoptimised to the end.
    const n = Math.min(KERNEL_FILL_CHUNK, count - done);
    if (order !== null) tables.views.order.set(order.subarray(done, done + n));
    const cursor = (st.hostCursor + done) % st.dies;
    try {
      last = kernel.markedFillPages(order !== null ? tables.offsets.order : 0, first + done, n, residues, period, cursor, tables.offsets.runs);
    } catch (e) {
      rethrowKernelAbort(`the kernel marked fill (pages ${first + done}…${first + done + n - 1} of the fill)`, e);
    }
    done += n;
  }
  st.counterValues.hostPageWrites += count;
  if (dieOfResidue === null) st.hostCursor = (st.hostCursor + count) % st.dies;
  // The plane view tells its grouping each program's plane and page: as after the last one.
  if (last >= 0) device.hintProgram?.(last);
  return true;
}
