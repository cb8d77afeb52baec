// The FTL kernel's lazily materialised sequential fill (AssemblyScript, part of the FTL's
// WebAssembly module; see kernel/ftl/mapping.ts). A sequential marked fill (kernel/ftl/
// marked-fill.ts markedFillLazy) does per block what the eager fill does (blocks opened and closed,
// validity words, valid counts, oldest sequences, the device's counts and next page) but leaves
// what it stores page by page unwritten: the L2P entries of the filled LBAs and, on the device,
// their pages' compact heads (LBA, sequence number), state bytes and programmed bytes (at MQSim's
// 512 GiB, 70 % full, 47 M pages: the state and programmed bytes alone took 0.3 s to fill, most
// of it the page faults of fresh memory). Those are implied by the fill's own allocation order —
// write i of the fill is LBA first + i with sequence seq0 + i, on die dieOfPos[i mod period] as
// that die's k-th write (k = ⌊i / period⌋·perPeriod[die] + rankOfPos[i mod period]), at slot
// k + wp0[die] of the die's list of fill blocks — and written when something first needs them:
//   - settleLba before any L2P entry of a filled LBA is read or written (host read, write, RMW):
//     that entry alone. A filled LBA's entry is 0 (unmapped) exactly while it is implied — the
//     fill found every one unmapped, and nothing in the kernel unmaps a mapped LBA (TRIM is
//     TypeScript's, which settles everything first) — so the entry is its own marker;
//   - settleBlock before a fill block's heads are read (GC's valid-page list and moves) or the
//     block is erased (so nothing is written later into a reused block): the block's heads, page
//     states and programmed bytes, and the entries of its LBAs still implied. A host read checks
//     its page's head only where the block's heads are written (an implied head is its LBA by
//     construction);
//   - settleFill (all of it) before TypeScript touches the tables (src/ftl/lazy-fill.ts).
// So a replay that reads or overwrites a filled LBA touches one L2P entry, as on a device that
// was written page by page, and none of the device's per-page tables (a first version wrote a
// span of 4096 writes at a time, heads included: a trace touching LBAs all over the device then
// wrote nearly all of them, scattered, and took longer than the eager fill). Materialising writes
// exactly what the eager fill would have written and nothing reads a table before it is written,
// so every result equals the eager fill's (test/lazy-fill.test.ts).
// Counterpart of src/ftl/lazy-fill.ts (impliedPage: the same arithmetic in TypeScript).
// Upstream counterpart: MQSim's preconditioning (FTL::Perform_precondition) assigns the mapping
// directly; it does not defer it.
import { dataPages, dieOf, dies, i32At, l2p, pagesPerBlock, setI32 } from './state';

// The device's compact heads, page states and programmed bytes (nand's kernel/metadata-device.ts
// imports the same globals).
@external("device", "heads") declare const deviceHeads: usize;
@external("device", "pageState") declare const devicePageState: usize;
@external("device", "programmed") declare const deviceProgrammed: usize;
@external("device", "compactHeadState") declare const compactHeadState: i32;

/** The pending fill's writes while any of it is implied (0: nothing implied). */
let lazyCount: i32 = 0;
let lazyFirst: i32 = 0;
let lazySeq: f64 = 0;
let lazyPeriod: i32 = 1;
let dieOfPos: usize = 0;
let rankOfPos: usize = 0;
let posList: usize = 0;
let perPeriod: usize = 0;
let wp0: usize = 0;
let listStart: usize = 0;
/** Two i32 an entry: the view block and its first real page. */
let blockList: usize = 0;
/** Per view block: its entry in blockList + 1 while its heads are implied, else 0. */
let blockEntry: usize = 0;

/**
 * Makes the fill just written by markedFillLazy implied: `count` writes of LBAs from `first`,
 * sequence numbers from `seq`, the tables at the addresses given (filled by the caller: the die
 * and rank of each position in the period, each die's positions in order, the writes per die per
 * period, each die's first slot and first entry (one more: the entries' end), the entries, the
 * entry of each block).
 */
export function bindImplied(first: i32, count: i32, seq: f64, period: i32, dieTable: usize, rankTable: usize, posTable: usize, perTable: usize, wpTable: usize, startTable: usize, list: usize, entries: usize): void {
  lazyFirst = first;
  lazySeq = seq;
  lazyPeriod = period;
  dieOfPos = dieTable;
  rankOfPos = rankTable;
  posList = posTable;
  perPeriod = perTable;
  wp0 = wpTable;
  listStart = startTable;
  blockList = list;
  blockEntry = entries;
  lazyCount = max(count, 0);
}

/**
 * The number (in the fill) of a die's k-th write: ⌊k / per⌋·period + its position in the period,
 * the die's positions being positions[posStart …] (per of them, in order).
 */
@inline export function dieWriteNumber(k: i32, per: i32, period: i32, positions: usize, posStart: i32): i32 {
  const q = k / per;
  return q * period + i32At(positions, posStart + k - q * per);
}

/** The view page write `i` of the pending fill went to. */
// Mirrors: packages/ssd/src/ftl/lazy-fill.ts#impliedPage kernel:80d39af1 source:58707f53
export function impliedPage(i: i32): i32 {
  const q = i / lazyPeriod;
  const p = i - q * lazyPeriod;
  const die = i32At(dieOfPos, p);
  const slot = q * i32At(perPeriod, die) + i32At(rankOfPos, p) + i32At(wp0, die);
  const n = slot / dataPages;
  return load<i32>(blockList + (<usize>(i32At(listStart, die) + n) << 3)) * pagesPerBlock + slot - n * dataPages;
}

/** Before an L2P entry of `lba` is read or written: written if the fill still implies it. */
@inline export function settleLba(lba: i32): void {
  if (lazyCount != 0) {
    const i = lba - lazyFirst;
    if (<u32>i < <u32>lazyCount && i32At(l2p, lba) == 0) setI32(l2p, lba, ~impliedPage(i));
  }
}

/** Whether view block `b`'s heads are still implied (a host read then skips its head check). */
@inline export function headsImplied(b: i32): bool {
  return lazyCount != 0 && i32At(blockEntry, b) != 0;
}

/** Before view block `b`'s heads are read or it is erased: the fill's heads, states and programmed bytes in it, and its LBAs' entries. */
@inline export function settleBlock(b: i32): void {
  if (lazyCount != 0 && i32At(blockEntry, b) != 0) settleBlockPages(b);
}

function settleBlockPages(b: i32): void {
  const entry = i32At(blockEntry, b) - 1;
  setI32(blockEntry, b, 0);
  const die = dieOf(b);
  const n = entry - i32At(listStart, die);
  const per = i32At(perPeriod, die);
  const first = i32At(wp0, die);
  const real = load<i32>(blockList + (<usize>entry << 3), 4);
  let posStart = 0;
  for (let d = 0; d < die; d++) posStart += i32At(perPeriod, d);
  // The die's writes k in this block: its slots n·dataPages … (n + 1)·dataPages − 1, less its first slot.
  let k = max(0, n * dataPages - first);
  const end = (n + 1) * dataPages - first;
  for (; k < end; k++) {
    const i = dieWriteNumber(k, per, lazyPeriod, posList, posStart);
    if (i >= lazyCount) break; // past the die's last write (a die's writes come in increasing order)
    const page = k + first - n * dataPages;
    const lba = lazyFirst + i;
    if (i32At(l2p, lba) == 0) setI32(l2p, lba, ~(b * pagesPerBlock + page));
    const at = <usize>(real + page);
    const head = deviceHeads + (at << 3);
    store<i32>(head, lba);
    store<i32>(head, <i32>(<i64>(lazySeq + <f64>i)), 4);
    store<u8>(devicePageState + at, <u8>compactHeadState);
    store<u8>(deviceProgrammed + at, 1);
  }
}

/** Writes whatever the fill still implies (before TypeScript reads the tables). */
export function settleFill(): void {
  if (lazyCount == 0) return;
  const entries = i32At(listStart, dies);
  for (let e = 0; e < entries; e++) {
    const b = load<i32>(blockList + (<usize>e << 3));
    if (i32At(blockEntry, b) == e + 1) settleBlockPages(b);
  }
  // Every write of the fill is in one of its blocks, and a block settled earlier wrote its LBAs'
  // entries then: nothing is left implied.
  lazyCount = 0;
}

/** 1 while some of the fill is implied (for tests and TypeScript's entry check). */
export function fillImplied(): i32 {
  return lazyCount != 0 ? 1 : 0;
}
