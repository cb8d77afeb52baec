// The FTL kernel's marked fill (AssemblyScript, part of the FTL's WebAssembly module; see
// kernel/ftl/mapping.ts): the writes of src/ftl/marked-fill.ts's markedFill (its pass 2), after
// its checks (pass 1, in TypeScript) proved they need no GC, keep every die's room and find every
// LBA unmapped and distinct — untimed (the fill's clock drops its operations, so none is handed
// to a scheduler here), each page programmed through the plane view (kernel/planes.ts).
// Per page only what differs page to page is stored (the L2P entry, the compact head's words 1
// and 2, the write pointer); what a run of pages in one block shares — the validity bits (whole
// words at once), the valid counts, the block's oldest sequence, the device's page states,
// programmed flags, next page and counts — is written once per run, when its block closes or the
// fill ends: the same tables as one programHeadSink and setValid call a page leave.
// Counterpart of src/ftl/marked-fill.ts (MQSim: FTL::Perform_precondition).
import { programHeadRunCounts, programHeadRunSink, programHeadRunStatus } from '../../../nand/kernel/metadata-device';
import { SCALAR_NEXT_SEQUENCE } from '../../src/ftl/abi';
import { realPage } from '../planes';
import { blockValid, dataPages, dieOrder, dies, hostSlot, i32At, l2p, pagesPerBlock, poolValid, scalarCells, setI32, validBits, writePointer } from './state';
import { closeBlock, lowerMinSequence, openUnit, setValid } from './block-manager';
import { bindImplied, dieWriteNumber, impliedPage } from './lazy-fill';

// The device's compact heads (nand's kernel/metadata-device.ts imports the same global).
@external("device", "heads") declare const deviceHeads: usize;

/** Sets validity bits [from, to) (pages of one open block: no greedy bucket to move), whole words at once. */
function setValidRun(from: i32, to: i32): void {
  while (from < to && (from & 31) != 0) {
    const w = validBits + (<usize>(from >>> 5) << 2);
    store<u32>(w, load<u32>(w) | (1 << (from & 31)));
    from++;
  }
  const words = (to - from) >> 5;
  if (words > 0) {
    memory.fill(validBits + (<usize>(from >>> 5) << 2), 0xff, <usize>words << 2);
    from += words << 5;
  }
  while (from < to) {
    const w = validBits + (<usize>(from >>> 5) << 2);
    store<u32>(w, load<u32>(w) | (1 << (from & 31)));
    from++;
  }
}

/**
 * The run of view block `b` (die `die`, first real page `real`) this fill wrote: pages start …
 * programmed − 1 programmed on the device, start … valid − 1 counted valid here. `implied`: the
 * lazy fill's run, whose programs the device only counts (its pages' heads, states and programmed
 * bytes are kernel/ftl/lazy-fill.ts's to write).
 */
function closeRun(b: i32, die: i32, real: i32, start: i32, valid: i32, programmed: i32, implied: bool = false): void {
  if (implied) programHeadRunCounts(real + start, programmed - start);
  else programHeadRunSink(real + start, programmed - start);
  const n = valid - start;
  if (n <= 0) return;
  const base = b * pagesPerBlock;
  setValidRun(base + start, base + valid);
  setI32(blockValid, b, i32At(blockValid, b) + n);
  setI32(poolValid, die, i32At(poolValid, die) + n);
}

/**
 * Host-writes LBAs order[0 … count) (i32 at `order`; or first … first + count − 1 when `order`
 * is 0) as markedFill's pass 2 does: each to its die — dieOfResidue[lba mod period] for a static
 * scheme (i32 at `residues`), else round robin from `cursor` over dieOrder — at the next page of
 * its open block (a free block opened first), sequence numbers from the cell on. `runs` is
 * scratch of two i32 a die (the write pointer where this fill's run in the die's open block
 * began, −1 for none; that block's first real page). Returns the last page written (view page;
 * −1 for none).
 */
// Mirrors: packages/ssd/src/ftl/marked-fill.ts#markedFill kernel:de926be5 source:d58e68c4
export function markedFillPages(order: usize, first: i32, count: i32, residues: usize, period: i32, cursor: i32, runs: usize): i32 {
  let seq = load<f64>(scalarCells, SCALAR_NEXT_SEQUENCE << 3);
  let last = -1;
  for (let d = 0; d < dies; d++) store<i32>(runs + (<usize>d << 3), -1);
  // A sequential fill's residue mod period steps by one a write (no division a page).
  let residue = residues != 0 && order == 0 ? first % period : 0;
  for (let i = 0; i < count; i++) {
    const lba = order != 0 ? load<i32>(order + (<usize>i << 2)) : first + i;
    let die: i32;
    if (residues != 0) {
      if (order != 0) die = load<i32>(residues + (<usize>(lba % period) << 2));
      else {
        die = load<i32>(residues + (<usize>residue << 2));
        if (++residue == period) residue = 0;
      }
    } else {
      die = i32At(dieOrder, cursor);
      if (++cursor == dies) cursor = 0;
    }
    let b = i32At(hostSlot, die);
    if (b < 0) {
      store<f64>(scalarCells, seq, SCALAR_NEXT_SEQUENCE << 3);
      b = openUnit(hostSlot, die);
    }
    const wp = i32At(writePointer, b);
    const run = runs + (<usize>die << 3);
    let start = load<i32>(run);
    let real: i32;
    if (start < 0) {
      // The fill's first page in this block: the device's checks for the pages to its last data
      // page (pass 1 and the device's readiness rule a failure out), and its oldest sequence
      // number (the run's are increasing: its first is its least).
      real = realPage(b * pagesPerBlock);
      if (programHeadRunStatus(real + wp, dataPages - wp) != 0) unreachable();
      start = wp;
      store<i32>(run, wp);
      store<i32>(run, real, 4);
      lowerMinSequence(b, seq);
    } else real = load<i32>(run, 4);
    const ppa = b * pagesPerBlock + wp;
    setI32(writePointer, b, wp + 1);
    const head = deviceHeads + (<usize>(real + wp) << 3);
    store<i32>(head, lba);
    store<i32>(head, <i32>(<i64>seq), 4);
    seq += 1;
    setI32(l2p, lba, ~ppa);
    if (wp + 1 >= dataPages) {
      // The block's last data page: the run counted, then the block closed (stamped with the
      // next sequence number) before this page is counted valid, as placeHost and
      // writeAfterKernel do.
      closeRun(b, die, real, start, wp, wp + 1);
      store<i32>(run, -1);
      store<f64>(scalarCells, seq, SCALAR_NEXT_SEQUENCE << 3);
      closeBlock(hostSlot, b);
      setValid(ppa);
    }
    last = ppa;
  }
  // The runs in blocks still open.
  for (let d = 0; d < dies; d++) {
    const start = load<i32>(runs + (<usize>d << 3));
    if (start < 0) continue;
    const b = i32At(hostSlot, d);
    const wp = i32At(writePointer, b);
    closeRun(b, d, load<i32>(runs + (<usize>d << 3), 4), start, wp, wp);
  }
  store<f64>(scalarCells, seq, SCALAR_NEXT_SEQUENCE << 3);
  return last;
}

/**
 * The sequential fill of LBAs first … first + count − 1 (markedFillPages with no order) a block at
 * a time, the L2P entries and heads left implied (kernel/ftl/lazy-fill.ts): each die's writes —
 * die dieOfResidue[(first + i) mod period] of write i (`residues`), or round robin from `cursor`
 * (then the period is the dies) — fill its open block from its write pointer, then the blocks it
 * opens one after another; per block the eager fill's block and device bookkeeping, with the
 * sequence numbers write i would have had (seq0 + i: a close stamps the next number without
 * taking it). The dies are independent (their pools, buckets and blocks), so each is done whole
 * in turn. The tables (i32; period = the period, or the dies): dieTable, rankTable, posTable
 * [period], perTable, wpTable [dies], startTable [dies + 1], list [2 × entries], entries [view
 * blocks]. Returns the last page written (view page; −1 for none).
 */
// Mirrors: packages/ssd/src/ftl/marked-fill.ts#markedFill packages/ssd/src/ftl/lazy-fill.ts#impliedPage kernel:53ce05b5 source:635283c4
export function markedFillLazy(first: i32, count: i32, residues: usize, period: i32, cursor: i32, dieTable: usize, rankTable: usize, posTable: usize, perTable: usize, wpTable: usize, startTable: usize, list: usize, entries: usize, viewBlocks: i32): i32 {
  if (count <= 0) return -1;
  const seq0 = load<f64>(scalarCells, SCALAR_NEXT_SEQUENCE << 3);
  if (residues == 0) period = dies;
  // The die and rank (writes to the same die before it in the period) of each position.
  for (let d = 0; d < dies; d++) setI32(perTable, d, 0);
  for (let p = 0; p < period; p++) {
    const die = residues != 0 ? i32At(residues, (first + p) % period) : i32At(dieOrder, (cursor + p) % dies);
    setI32(dieTable, p, die);
    const r = i32At(perTable, die);
    setI32(rankTable, p, r);
    setI32(perTable, die, r + 1);
  }
  // posTable: each die's positions in order, the dies one after another (from posStart).
  let posStart = 0;
  for (let d = 0; d < dies; d++) {
    let r = 0;
    for (let p = 0; p < period; p++) if (i32At(dieTable, p) == d) setI32(posTable, posStart + r++, p);
    posStart += r;
  }
  memory.fill(entries, 0, <usize>viewBlocks << 2);
  const whole = count / period;
  const rest = count - whole * period;
  let entry = 0;
  posStart = 0;
  for (let d = 0; d < dies; d++) {
    setI32(startTable, d, entry);
    const per = i32At(perTable, d);
    let writes = whole * per;
    for (let p = 0; p < rest; p++) if (i32At(dieTable, p) == d) writes++;
    if (writes == 0) {
      setI32(wpTable, d, 0);
      continue;
    }
    let b = i32At(hostSlot, d);
    let k = 0;
    if (b < 0) {
      store<f64>(scalarCells, seq0 + <f64>i32At(posTable, posStart), SCALAR_NEXT_SEQUENCE << 3);
      b = openUnit(hostSlot, d);
    }
    let wp = i32At(writePointer, b);
    setI32(wpTable, d, wp);
    while (true) {
      const real = realPage(b * pagesPerBlock);
      if (programHeadRunStatus(real + wp, dataPages - wp) != 0) unreachable();
      lowerMinSequence(b, seq0 + <f64>dieWriteNumber(k, per, period, posTable, posStart));
      store<i32>(list + (<usize>entry << 3), b);
      store<i32>(list + (<usize>entry << 3), real, 4);
      entry++;
      setI32(entries, b, entry);
      const m = min(dataPages - wp, writes - k);
      k += m;
      if (wp + m < dataPages) {
        // The fill ends in this block: its run counted, the block left open.
        setI32(writePointer, b, wp + m);
        closeRun(b, d, real, wp, wp + m, wp + m, true);
        break;
      }
      // The block's last data page: the run counted, the block closed (stamped with the number
      // after that page's), then that page counted valid — as the page-by-page fill does.
      setI32(writePointer, b, dataPages);
      closeRun(b, d, real, wp, dataPages - 1, dataPages, true);
      store<f64>(scalarCells, seq0 + <f64>dieWriteNumber(k - 1, per, period, posTable, posStart) + 1, SCALAR_NEXT_SEQUENCE << 3);
      closeBlock(hostSlot, b);
      setValid(b * pagesPerBlock + dataPages - 1);
      if (k >= writes) break;
      store<f64>(scalarCells, seq0 + <f64>dieWriteNumber(k, per, period, posTable, posStart), SCALAR_NEXT_SEQUENCE << 3);
      b = openUnit(hostSlot, d);
      wp = 0;
    }
    posStart += per;
  }
  setI32(startTable, dies, entry);
  store<f64>(scalarCells, seq0 + <f64>count, SCALAR_NEXT_SEQUENCE << 3);
  bindImplied(first, count, seq0, period, dieTable, rankTable, posTable, perTable, wpTable, startTable, list, entries);
  return impliedPage(count - 1);
}
