// The FTL kernel's lazily materialised sequential fill (AssemblyScript, part of the FTL's
// WebAssembly module; see kernel/ftl/mapping.ts). A sequential marked fill (kernel/ftl/
// marked-fill.ts markedFillLazy) does per block what the eager fill does (blocks opened and closed,
// validity words, valid counts, oldest sequences, the device's counts and next page) but leaves
// what it stores page by page unwritten: the L2P entries of the filled LBAs and, on the device,
// their pages' compact heads (LBA, sequence number), state bytes and programmed bytes (at MQSim's
// 512 GiB, 70 % full, the state and programmed bytes alone took 0.3 s to fill: fresh memory's
// page faults). Those are implied by the fill's own allocation order —
// write i of the fill is LBA first + i with sequence seq0 + i, on die dieOfPos[i mod period] as
// that die's k-th write (k = ⌊i / period⌋·perPeriod[die] + rankOfPos[i mod period]), at slot
// k + wp0[die] of the die's list of fill blocks — and written only when something first needs them,
// one write at a time (a bit per write says which are written; a span of 4096 writes at a time
// was tried first: a trace that touches LBAs all over the device then writes nearly all of them,
// each span's heads scattered over every die, and the replay took longer than the eager fill):
//   - settleLba before any L2P entry of a filled LBA is read or written (host read, write, RMW);
//   - settleBlock before a fill block's heads are read (GC's valid-page list and moves) or the
//     block is erased (so nothing is written later into a reused block);
//   - settleFill (all of it) before TypeScript touches the tables (src/ftl/lazy-fill.ts).
// Materialising writes exactly the entries the eager fill would have written, and nothing reads an
// entry before it is written, so every result equals the eager fill's.
// Counterpart of src/ftl/lazy-fill.ts (impliedPage: the same arithmetic in TypeScript).
// Upstream counterpart: MQSim's preconditioning (FTL::Perform_precondition) assigns the mapping
// directly; it does not defer it.
import { dataPages, dieOf, i32At, l2p, pagesPerBlock, setI32 } from './state';

// The device's compact heads, page states and programmed bytes (nand's kernel/metadata-device.ts
// imports the same globals).
@external("device", "heads") declare const deviceHeads: usize;
@external("device", "pageState") declare const devicePageState: usize;
@external("device", "programmed") declare const deviceProgrammed: usize;
@external("device", "compactHeadState") declare const compactHeadState: i32;

/** Writes still implied (the fill's count while any write is; 0: nothing implied). */
let lazyCount: i32 = 0;
let lazyFirst: i32 = 0;
let lazySeq: f64 = 0;
let lazyPeriod: i32 = 1;
/** Writes of the fill not yet materialised. */
let impliedLeft: i32 = 0;
let dieOfPos: usize = 0;
let rankOfPos: usize = 0;
let posList: usize = 0;
let perPeriod: usize = 0;
let wp0: usize = 0;
let listStart: usize = 0;
/** Two i32 an entry: the view block and its first real page. */
let blockList: usize = 0;
/** Per view block: its entry in blockList + 1, 0 for a block the pending fill did not write. */
let blockEntry: usize = 0;
/** One bit a write of the fill: set once its entry and head are written. */
let writtenBits: usize = 0;

/**
 * Makes the fill just written by markedFillLazy implied: `count` writes of LBAs from `first`,
 * sequence numbers from `seq`, the tables at the addresses given (filled by the caller: the die
 * and rank of each position in the period, each die's positions in order, the writes per die per
 * period, each die's first slot and first entry, the entries, the entry of each block); `bits`
 * holds one bit a write (cleared here).
 */
export function bindImplied(first: i32, count: i32, seq: f64, period: i32, dieTable: usize, rankTable: usize, posTable: usize, perTable: usize, wpTable: usize, startTable: usize, list: usize, entries: usize, bits: usize): void {
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
  writtenBits = bits;
  memory.fill(bits, 0, <usize>(((count + 31) >>> 5) << 2));
  impliedLeft = max(count, 0);
  lazyCount = impliedLeft;
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

/** Writes write `i`'s L2P entry and head (the eager fill's stores for it) if not yet written. */
function materialise(i: i32): void {
  const w = writtenBits + (<usize>(i >>> 5) << 2);
  const bit = <u32>1 << (i & 31);
  const word = load<u32>(w);
  if ((word & bit) != 0) return;
  store<u32>(w, word | bit);
  const q = i / lazyPeriod;
  const p = i - q * lazyPeriod;
  const die = i32At(dieOfPos, p);
  const slot = q * i32At(perPeriod, die) + i32At(rankOfPos, p) + i32At(wp0, die);
  const n = slot / dataPages;
  const page = slot - n * dataPages;
  const entry = blockList + (<usize>(i32At(listStart, die) + n) << 3);
  const lba = lazyFirst + i;
  setI32(l2p, lba, ~(load<i32>(entry) * pagesPerBlock + page));
  const real = <usize>(load<i32>(entry, 4) + page);
  const head = deviceHeads + (real << 3);
  store<i32>(head, lba);
  store<i32>(head, <i32>(<i64>(lazySeq + <f64>i)), 4);
  store<u8>(devicePageState + real, <u8>compactHeadState);
  store<u8>(deviceProgrammed + real, 1);
  if (--impliedLeft == 0) lazyCount = 0;
}

/** Before an L2P entry of `lba` is read or written: it (and its page's head) written if the fill still implies it. */
@inline export function settleLba(lba: i32): void {
  if (lazyCount != 0) {
    const i = lba - lazyFirst;
    if (<u32>i < <u32>lazyCount) materialise(i);
  }
}

/** settleLba as a call (TypeScript's checks read an entry before a kernel replay). */
export function settleLbaAt(lba: i32): void {
  settleLba(lba);
}

/** Before view block `b`'s heads are read or it is erased: every write of the fill in it written. */
@inline export function settleBlock(b: i32): void {
  if (lazyCount != 0 && i32At(blockEntry, b) != 0) settleBlockWrites(b);
}

function settleBlockWrites(b: i32): void {
  const entry = i32At(blockEntry, b) - 1;
  setI32(blockEntry, b, 0);
  const die = dieOf(b);
  const n = entry - i32At(listStart, die);
  const per = i32At(perPeriod, die);
  // The die's writes k in this block: slots n·dataPages … (n + 1)·dataPages − 1, less its first slot.
  let k = max(0, n * dataPages - i32At(wp0, die));
  const end = (n + 1) * dataPages - i32At(wp0, die);
  let posStart = 0;
  for (let d = 0; d < die; d++) posStart += i32At(perPeriod, d);
  for (; k < end && lazyCount != 0; k++) {
    const q = k / per;
    const i = q * lazyPeriod + i32At(posList, posStart + k - q * per);
    if (i >= lazyCount) break; // past the die's last write
    materialise(i);
  }
}

/** Writes whatever the fill still implies (before TypeScript reads the tables). */
export function settleFill(): void {
  for (let i = 0; lazyCount != 0; i++) materialise(i);
}

/** 1 while some of the fill is implied (for tests and TypeScript's entry check). */
export function fillImplied(): i32 {
  return lazyCount != 0 ? 1 : 0;
}
