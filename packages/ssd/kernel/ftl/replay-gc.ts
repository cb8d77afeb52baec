// The kernel replay's GC (AssemblyScript, part of the FTL's WebAssembly module; called from
// kernel/ftl/mapping.ts replayWrite): foreground GC as src/ftl/ runs it inside a scheduled replay —
// the die's planes collected together with multi-plane commands (src/ftl/gc-planes.ts
// collectPlanes), one victim at a time otherwise (src/ftl/gc.ts collect, relocateBlockFast), the
// erases, the free pools' erase-count keys (dynamic wear leveling) and static wear leveling (the
// coldest FULL block collected into the most worn free one) — with every device operation handed
// to the transaction scheduler through the plane view (kernel/planes.ts), in the GC class, as
// src/simulator/replay.ts's gcTiming marks them. The same decisions, order and arithmetic as src/ftl/;
// test/kernel-replay-gc.test.ts compares every request's latency, the erase counts and the tables.
// What it never meets (src/simulator/replay-kernel.ts checks first): TRIM records, translation
// pages, P2L summaries, bad blocks, a pool with no free block (the collection in place), copyback
// GC. Counterpart of src/ftl/gc.ts, gc-planes.ts, wear-leveling.ts and block-manager.ts's place
// (MQSim: GC_and_WL_Unit_Page_Level).

import { BLOCK_BAD, BLOCK_FULL, BLOCK_OPEN, BLOCK_VICTIM, COUNTER_ERASES, COUNTER_GC_MOVED_PAGES, COUNTER_GC_PAGE_READS, COUNTER_GC_RUNS, SCALAR_NEXT_SEQUENCE, STATE_LAST_VICTIM } from '../../src/ftl/abi';
import { headWord1 } from '../../../nand/kernel/metadata-device';
import {
  blockMinSeq, blockOf, blockState, blockValid, bump, dataPages, dieOf, dynamicWearLeveling, freeCount, gcSlot, gcThreshold, i32At, l2p, moveSources,
  moveWords, nextSequence, pagesPerBlock, scalarCells, setI32, stateCells, unitCapacity, unitState, unitsPerPool, validBits, writePointer,
} from './state';
import { bucketRemove, leastValidUnit, selectVictim } from './victim';
import { afterMovedRun, closeBlock, dropMovedValid, lowerMinSequence, openUnit, setValid, setInvalid } from './block-manager';
import { freeCapacity, nextInsertionStamp, pushFreeUnit } from './free-pool';
import { settleBlock } from './lazy-fill';
import { copybackRunSink, eraseBlockSink, eraseCountOf, programPage, readPage, realPage } from '../planes';
import { holdAfter, lastTransaction, operationClass, request, setHoldAfter, setLastTransaction, setOperationClass, setRequest, setTransferBytes, transferBytes } from '../scheduler';
import { CLASS_GC } from '../scheduler/transactions';

// Bound for one replay (bindReplayGc).
/** Planes per die collected together (gcPlaneGroup: the planes with multi-plane commands, else 1). */
let gcGroup: i32 = 1;
let staticWearLeveling: i32 = 0;
let wearThreshold: f64 = 0;
/** The cold stream's open block per pool (static wear leveling's destination). */
let coldSlot: usize = 0;
/** The FTL's P2L table where it keeps one (one plane per die without the FTL kernel), else 0: P2L is the page's compact head. */
let p2lTable: usize = 0;
/** collectPlanes' scratch: victims, pools, counts, moved (gcGroup each), then gcGroup lists of pagesPerBlock pages. */
let scratch: usize = 0;
/** Units (blocks, in block mode) and the FTL's erasesSinceWearCheck. */
let unitCount: i32 = 0;
export let erasesSinceWearCheck: i32 = 0;
/** Static wear leveling's counts (Ftl counters wearLevelingRuns, wearLevelingMovedPages). */
export let wearLevelingRuns: f64 = 0;
export let wearLevelingMovedPages: f64 = 0;

export function bindReplayGc(group: i32, wearLeveling: i32, threshold: f64, cold: usize, p2l: usize, scratchAt: usize, units: i32, sinceCheck: i32): void {
  gcGroup = group;
  staticWearLeveling = wearLeveling;
  wearThreshold = threshold;
  coldSlot = cold;
  p2lTable = p2l;
  scratch = scratchAt;
  unitCount = units;
  erasesSinceWearCheck = sinceCheck;
  wearLevelingRuns = 0;
  wearLevelingMovedPages = 0;
  gcDepth = 0;
}

@inline function scratchAt(slot: i32): i32 {
  return load<i32>(scratch + (<usize>slot << 2));
}
@inline function setScratch(slot: i32, value: i32): void {
  store<i32>(scratch + (<usize>slot << 2), value);
}

/** p2lAt: the LBA of data page `ppa` (its compact head's word 1, or the P2L table's entry). */
function p2lAt(ppa: i32): i32 {
  settleBlock(blockOf(ppa)); // a lazily filled block's heads written first (kernel/ftl/lazy-fill.ts)
  const lba = p2lTable != 0 ? ~load<i32>(p2lTable + (<usize>ppa << 2)) : headWord1(realPage(ppa));
  if (lba < 0) unreachable(); // a TRIM record or a torn head: the replay's check rules them out
  return lba;
}

@inline function setP2l(ppa: i32, lba: i32): void {
  if (p2lTable != 0) store<i32>(p2lTable + (<usize>ppa << 2), ~lba);
}

@inline function isValid(ppa: i32): bool {
  return (load<u32>(validBits + (<usize>(ppa >>> 5) << 2)) & (<u32>1 << (ppa & 31))) != 0;
}

@inline function clearValidBit(ppa: i32): void {
  const at = validBits + (<usize>(ppa >>> 5) << 2);
  store<u32>(at, load<u32>(at) & ~(<u32>1 << (ppa & 31)));
}

// ------------------------------------------------------------------ the scheduler's GC class (replay.ts gcTiming)

let gcDepth: i32 = 0;
let savedRequest: i32 = -1;
let savedLast: i32 = -1;
let savedClass: i32 = 0;
let savedBytes: i32 = 0;
let savedHold: i32 = -1;

/** GC's operations are the device's (no request's), in the GC class, whole pages, held after nothing. */
// Mirrors: packages/ssd/src/simulator/replay.ts#replayTraceScheduled kernel:31a4a979 source:2ee84a63
function gcBegin(): void {
  if (gcDepth++ > 0) return;
  savedRequest = request;
  setRequest(-1);
  savedLast = lastTransaction;
  savedClass = operationClass;
  savedBytes = transferBytes;
  savedHold = holdAfter;
  setOperationClass(CLASS_GC);
  setTransferBytes(0);
  setHoldAfter(-1);
}

function gcEnd(): void {
  if (--gcDepth > 0) return;
  setRequest(savedRequest);
  setLastTransaction(savedLast);
  setOperationClass(savedClass);
  setTransferBytes(savedBytes);
  setHoldAfter(savedHold);
}

// ------------------------------------------------------------------ foreground GC (gc.ts foregroundGc, gc-planes.ts foregroundGcPlanes)

/** Foreground GC of pool `pool` (its free blocks below the threshold), inside a host write. */
// Mirrors: packages/ssd/src/ftl/gc.ts#foregroundGc packages/ssd/src/ftl/gc-planes.ts#foregroundGcPlanes packages/ssd/src/ftl/gc-planes.ts#gcPlaneGroup kernel:f45b6580 source:216b4220
export function foregroundGcReplay(pool: i32): void {
  gcBegin();
  let guard = unitsPerPool + 4;
  if (gcGroup > 1) {
    const first = pool - (pool % gcGroup);
    while (i32At(freeCount, pool) < gcThreshold && guard-- > 0) {
      if (collectPlanes(first, gcGroup, pool, gcThreshold) == 0) break;
    }
  } else {
    while (i32At(freeCount, pool) < gcThreshold && guard-- > 0) {
      if (!collect(pool, -1, gcSlot, false)) break;
    }
  }
  gcEnd();
}

// ------------------------------------------------------------------ victims (gc.ts chooseVictim, fits, hasRoomFor, beginVictim)

@inline function streamRoom(slots: usize, pool: i32): i32 {
  const b = i32At(slots, pool);
  return b >= 0 ? dataPages - i32At(writePointer, b) : 0;
}

// Mirrors: packages/ssd/src/ftl/gc.ts#fits kernel:e2046ed7 source:c33655b6
function fits(victim: i32, slots: usize, pool: i32): bool {
  const valid = i32At(blockValid, victim);
  const room = streamRoom(slots, pool);
  return valid <= room || (i32At(freeCount, pool) > 0 && valid <= room + freeCapacity(pool));
}

// Mirrors: packages/ssd/src/ftl/gc.ts#hasRoomFor kernel:6321975a source:c63cdb00
function hasRoomFor(victim: i32, slots: usize, pool: i32): bool {
  const valid = i32At(blockValid, victim);
  const room = streamRoom(slots, pool);
  return !(valid > room && (i32At(freeCount, pool) == 0 || valid > room + freeCapacity(pool)));
}

/** Greedy's pick, the emptiest block when that does not fit, none without garbage or room. */
// Mirrors: packages/ssd/src/ftl/gc.ts#chooseVictim kernel:856d3161 source:f7c8d744
function chooseVictim(pool: i32, slots: usize): i32 {
  let victim = selectVictim(pool);
  if (victim < 0) return -1;
  if (!fits(victim, slots, pool)) {
    victim = leastValidUnit(pool);
    if (victim < 0) return -1;
  }
  if (i32At(blockValid, victim) >= i32At(unitCapacity, victim)) return -1;
  return hasRoomFor(victim, slots, pool) ? victim : -1;
}

// Mirrors: packages/ssd/src/ftl/gc.ts#beginVictim kernel:b565759f source:3029d47a
function beginVictim(victim: i32): void {
  if (load<u8>(unitState + <usize>victim) == BLOCK_FULL) bucketRemove(victim, dieOf(victim), i32At(blockValid, victim));
  store<u8>(unitState + <usize>victim, BLOCK_VICTIM);
  if (load<u8>(blockState + <usize>victim) != BLOCK_BAD) store<u8>(blockState + <usize>victim, BLOCK_VICTIM);
  store<i32>(stateCells, victim, STATE_LAST_VICTIM << 2);
}

// ------------------------------------------------------------------ free blocks (free-pool.ts freeUnit)

/** freeUnit, the key the erase count of the real block (dynamic wear leveling) or the insertion stamp. */
// Mirrors: packages/ssd/src/ftl/free-pool.ts#freeUnit packages/ssd/src/ftl/free-pool.ts#unitEraseKey kernel:6b3d700a source:1f7beb7d
function freeBlock(u: i32, pool: i32): void {
  const key = dynamicWearLeveling == 0 ? nextInsertionStamp() : load<u8>(blockState + <usize>u) != BLOCK_BAD ? <f64>eraseCountOf(u) : 0;
  pushFreeUnit(u, pool, key);
}

// ------------------------------------------------------------------ placing a page (block-manager.ts place, placeMoved)

/**
 * place() for a data page `lba` with a fresh sequence number in the stream of `slots` on `pool`:
 * the next page of its open block (a free block opened first), programmed through the plane view;
 * the block closed after its last data page. Returns the page.
 */
// Mirrors: packages/ssd/src/ftl/block-manager.ts#place packages/ssd/src/ftl/block-manager.ts#allocate packages/ssd/src/ftl/block-manager.ts#afterProgram kernel:2d2cc77c source:cb2869e8
export function placeData(slots: usize, preferOld: bool, pool: i32, lba: i32): i32 {
  const sequence = nextSequence();
  let open = i32At(slots, pool);
  if (open < 0) {
    if (i32At(freeCount, pool) == 0) unreachable(); // the collection in place: the replay's check rules it out
    open = openUnit(slots, pool, preferOld);
  }
  const wp = i32At(writePointer, open);
  const ppa = open * pagesPerBlock + wp;
  setI32(writePointer, open, wp + 1);
  programPage(ppa, lba, <i32>(<i64>sequence));
  setP2l(ppa, lba);
  lowerMinSequence(open, sequence);
  if (wp + 1 >= dataPages) closeBlock(slots, open);
  return ppa;
}

/** placeMoved where the stream has no open block on the pool: the read, then the page placed. */
// Mirrors: packages/ssd/src/ftl/block-manager.ts#placeMoved kernel:bc3b19e0 source:08730d49
function placeMovedRead(slots: usize, preferOld: bool, pool: i32, source: i32, lba: i32): i32 {
  const open = i32At(slots, pool);
  // An open block with room takes the run path (relocateBlockFast): this is never one.
  if (open >= 0 && i32At(writePointer, open) + 1 < dataPages) unreachable();
  readPage(source);
  bump(COUNTER_GC_PAGE_READS, 1);
  return placeData(slots, preferOld, pool, lba);
}

// ------------------------------------------------------------------ collecting (gc.ts collect, relocateBlockFast, relocatePage, eraseUnit, resetBlock)

/** collect(pool, forced, stream): the victim's valid pages moved into the stream of `slots`, then the erase. */
// Mirrors: packages/ssd/src/ftl/gc.ts#collect packages/ssd/src/ftl/gc.ts#relocateUnit packages/ssd/src/ftl/gc.ts#relocateBlock kernel:bef9440c source:86c600a9
function collect(pool: i32, forced: i32, slots: usize, cold: bool): bool {
  const victim = forced < 0 ? chooseVictim(pool, slots) : hasRoomFor(forced, slots, pool) ? forced : -1;
  if (victim < 0) return false;
  beginVictim(victim);
  const moved = load<u8>(blockState + <usize>victim) != BLOCK_BAD ? relocateBlockFast(victim, slots, cold, pool) : 0;
  if (cold) {
    wearLevelingRuns += 1;
    wearLevelingMovedPages += <f64>moved;
  } else {
    bump(COUNTER_GC_RUNS, 1);
    bump(COUNTER_GC_MOVED_PAGES, <f64>moved);
  }
  eraseUnit(victim, true);
  return true;
}

/**
 * relocateBlockFast: block `b`'s valid pages listed from the VPBM, then moved in page order — runs
 * that fit in the stream's open block as one copyback run, the one-page path where it has none.
 */
// Mirrors: packages/ssd/src/ftl/gc.ts#relocateBlockFast kernel:eb4477ba source:e8fba87e
function relocateBlockFast(b: i32, slots: usize, cold: bool, pool: i32): i32 {
  const first = b * pagesPerBlock;
  let written = i32At(writePointer, b);
  if (written > dataPages) written = dataPages;
  const end = first + written;
  const list = moveSources;
  let n = 0;
  for (let w = first >>> 5; w << 5 < end; w++) {
    const base = w << 5;
    let x = load<u32>(validBits + (<usize>w << 2));
    if (base < first) x &= <u32>(-1 << (first - base));
    if (end - base < 32) x &= (<u32>1 << (end - base)) - 1;
    while (x != 0) {
      const low = x & (0 - x);
      x ^= low;
      setI32(list, n++, base + 31 - <i32>clz(low));
    }
  }
  let dataMoved = 0;
  for (let i = 0; i < n; ) {
    const ppa = i32At(list, i);
    if (!isValid(ppa)) {
      i++;
      continue;
    }
    const lba = p2lAt(ppa);
    const open = i32At(slots, pool);
    const room = open >= 0 && load<u8>(unitState + <usize>open) != BLOCK_FULL ? dataPages - i32At(writePointer, open) : 0;
    if (room == 0) {
      const to = placeMovedRead(slots, cold, pool, ppa, lba);
      clearValidBit(ppa);
      setI32(l2p, lba, ~to);
      setValid(to);
      dataMoved++;
      i++;
      continue;
    }
    const wp = i32At(writePointer, open);
    const target = open * pagesPerBlock + wp;
    const sequence = load<f64>(scalarCells, SCALAR_NEXT_SEQUENCE << 3);
    let k = 0;
    while (k < room && i + k < n) {
      const source = i32At(list, i + k);
      if (!isValid(source)) break;
      const runLba = p2lAt(source);
      setI32(moveWords, k, runLba);
      const to = target + k;
      setP2l(to, runLba);
      setI32(l2p, runLba, ~to);
      clearValidBit(source);
      const at = validBits + (<usize>(to >>> 5) << 2);
      store<u32>(at, load<u32>(at) | (<u32>1 << (to & 31)));
      k++;
    }
    copybackRunSink(list + (<usize>i << 2), k, target, moveWords, sequence);
    store<f64>(scalarCells, sequence + <f64>k, SCALAR_NEXT_SEQUENCE << 3);
    afterMovedRun(slots, open, wp, k, sequence);
    dataMoved += k;
    i += k;
  }
  dropMovedValid(b, dataMoved);
  return dataMoved;
}

/** relocatePage for a data page (its read already issued): placed in the stream, the tables moved to the copy. */
// Mirrors: packages/ssd/src/ftl/gc.ts#relocatePage kernel:1a0e7a4b source:31b5fc96
function relocatePage(ppa: i32, slots: usize, cold: bool, pool: i32): i32 {
  const lba = p2lAt(ppa);
  const to = placeData(slots, cold, pool, lba);
  setInvalid(ppa);
  setI32(l2p, lba, ~to);
  setValid(to);
  return 1;
}

/** eraseUnit in block mode: the erase, the block's tables reset, back to its pool; the wear-leveling check. */
// Mirrors: packages/ssd/src/ftl/gc.ts#eraseUnit packages/ssd/src/ftl/block-manager.ts#resetBlock kernel:8f4fe1f4 source:06de2efe
function eraseUnit(u: i32, allowWearLeveling: bool): void {
  settleBlock(u);
  if (load<u8>(blockState + <usize>u) != BLOCK_BAD) {
    eraseBlockSink(u);
    bump(COUNTER_ERASES, 1);
    const first = u * pagesPerBlock;
    const end = first + pagesPerBlock;
    if (p2lTable != 0) memory.fill(p2lTable + (<usize>first << 2), 0, <usize>pagesPerBlock << 2); // ~P2L_NONE
    for (let ppa = first; ppa < end; ppa++) clearValidBit(ppa);
    setI32(blockValid, u, 0);
    setI32(writePointer, u, 0);
    store<f64>(blockMinSeq + (<usize>u << 3), Infinity);
  }
  setI32(blockValid, u, 0);
  // The block erased fine: its capacity is unchanged (failures are for src/ftl/bad-blocks.ts).
  freeBlock(u, dieOf(u));
  if (allowWearLeveling && staticWearLeveling != 0 && wearCheckDue()) staticWearLevel();
}

/** One erase towards static wear leveling: true every max(16, units / 4) erases. */
// Mirrors: packages/ssd/src/ftl/gc.ts#wearCheckDue kernel:6879c552 source:081eb491
function wearCheckDue(): bool {
  if (++erasesSinceWearCheck < max(16, unitCount >> 2)) return false;
  erasesSinceWearCheck = 0;
  return true;
}

// ------------------------------------------------------------------ the planes of a die together (gc-planes.ts collectPlanes)

/**
 * One victim in plane pool `trigger` and one in each other plane pool of the die with at most
 * `limit` free blocks that has one; their valid pages moved a round at a time (every plane's read,
 * then every plane's program), the erases back to back, then the wear-leveling checks. Returns the
 * blocks collected (0: the trigger has no victim, nothing done).
 */
// Mirrors: packages/ssd/src/ftl/gc-planes.ts#collectPlanes packages/ssd/src/ftl/gc-planes.ts#countRun kernel:02cd1b5f source:3aedc2dc
function collectPlanes(first: i32, group: i32, trigger: i32, limit: i32): i32 {
  // scratch: victims [0, g), pools [g, 2g), counts [2g, 3g), moved [3g, 4g), pages from 4g.
  let n = 0;
  for (let q = first; q < first + group; q++) {
    if (q != trigger && i32At(freeCount, q) > limit) continue;
    const victim = chooseVictim(q, gcSlot);
    if (victim < 0) {
      if (q == trigger) return 0;
      continue;
    }
    setScratch(n, victim);
    setScratch(group + n, q);
    n++;
  }
  for (let k = 0; k < n; k++) beginVictim(scratchAt(k));
  let rounds = 0;
  const pages = 4 * group;
  for (let k = 0; k < n; k++) {
    const b = scratchAt(k);
    const base = b * pagesPerBlock;
    let written = i32At(writePointer, b);
    if (written > dataPages) written = dataPages;
    const list = pages + k * pagesPerBlock;
    let c = 0;
    for (let i = 0; i < written; i++) if (isValid(base + i)) setScratch(list + c++, base + i);
    setScratch(2 * group + k, c);
    setScratch(3 * group + k, 0);
    if (c > rounds) rounds = c;
  }
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < n; k++) {
      if (r >= scratchAt(2 * group + k)) continue;
      const ppa = scratchAt(pages + k * pagesPerBlock + r);
      p2lAt(ppa); // a TRIM record would be read where it is moved: never here
      readPage(ppa);
      bump(COUNTER_GC_PAGE_READS, 1);
    }
    for (let k = 0; k < n; k++) {
      if (r >= scratchAt(2 * group + k)) continue;
      const ppa = scratchAt(pages + k * pagesPerBlock + r);
      setScratch(3 * group + k, scratchAt(3 * group + k) + relocatePage(ppa, gcSlot, false, scratchAt(group + k)));
    }
  }
  for (let k = 0; k < n; k++) {
    bump(COUNTER_GC_RUNS, 1);
    bump(COUNTER_GC_MOVED_PAGES, <f64>scratchAt(3 * group + k));
  }
  for (let k = 0; k < n; k++) eraseUnit(scratchAt(k), false);
  if (staticWearLeveling != 0) {
    let check = false;
    for (let k = 0; k < n; k++) if (wearCheckDue()) check = true;
    if (check) staticWearLevel();
  }
  return n;
}

// ------------------------------------------------------------------ static wear leveling (wear-leveling.ts)

/**
 * When the erase-count spread of the good blocks passes the threshold, the FULL block with the
 * fewest erases (cold data) is collected into the most worn free block of its pool (the cold stream).
 */
// Mirrors: packages/ssd/src/ftl/wear-leveling.ts#staticWearLevel packages/ssd/src/ftl/wear-leveling.ts#eraseSpread kernel:f6ad8b17 source:98450d4b
function staticWearLevel(): void {
  let least: f64 = Infinity;
  let most: f64 = -Infinity;
  for (let b = 0; b < unitCount; b++) {
    if (load<u8>(blockState + <usize>b) == BLOCK_BAD) continue;
    const c = <f64>eraseCountOf(b);
    if (c < least) least = c;
    if (c > most) most = c;
  }
  if (most - least <= wearThreshold) return;
  let victim = -1;
  let victimKey: f64 = Infinity;
  for (let u = 0; u < unitCount; u++) {
    if (load<u8>(unitState + <usize>u) != BLOCK_FULL) continue;
    const good = load<u8>(blockState + <usize>u) != BLOCK_BAD;
    const key = good ? <f64>eraseCountOf(u) : 0;
    if (key < victimKey) {
      victimKey = key;
      victim = u;
    }
  }
  if (victim < 0 || victimKey > least) return;
  const pool = dieOf(victim);
  if (i32At(freeCount, pool) < 2) return;
  collect(pool, victim, coldSlot, true);
}
