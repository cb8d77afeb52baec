// The FTL kernel's foreground GC (AssemblyScript, part of the FTL kernel; see kernel/ftl/mapping.ts):
// a greedy victim's valid pages listed from the VPBM and moved in copyback runs, then the erase.
// Counterpart of src/ftl/gc.ts (MQSim: GC_and_WL_Unit_Page_Level).

import { copybackRun, erase, headWord1 } from '../../../nand/kernel/metadata-device';
import { BLOCK_FULL, BLOCK_VICTIM, COUNTER_ERASES, COUNTER_GC_MOVED_PAGES, COUNTER_GC_RUNS, SCALAR_NEXT_SEQUENCE, STATE_LAST_VICTIM } from '../../src/ftl/abi';
import { blockMinSeq, blockOf, blockState, blockValid, bump, dataPages, freeCount, gcSlot, i32At, l2p, moveSources, moveWords, must, pagesPerBlock, scalarCells, setI32, stateCells, unitCapacity, unitState, validBits, writePointer } from './state';
import { bucketRemove, leastValidUnit, selectVictim } from './victim';
import { afterMovedRun, dropMovedValid, placeMoved, setValid } from './block-manager';
import { freeCapacity, freeUnit } from './free-pool';
import { settleBlock } from './lazy-fill';

/**
 * Lists the valid pages of [first, end) from the VPBM into moveSources (x & −x isolates the
 * lowest set bit, clz its index). Returns how many, or −1 at a valid page that holds no host data
 * (no compact head, so its P2L entry is not an LBA — a TRIM record: collect() leaves such a victim
 * to src/ftl/). The kernel keeps no P2L table: a valid data page's LBA is its compact head's word 1.
 */
export function listValid(first: i32, end: i32): i32 {
  const sources = moveSources;
  settleBlock(blockOf(first)); // a lazily filled victim's heads written first (kernel/ftl/lazy-fill.ts)
  let n = 0;
  for (let w = first >>> 5; w << 5 < end; w++) {
    const base = w << 5;
    let x = load<u32>(validBits + (<usize>w << 2));
    if (base < first) x &= <u32>(-1 << (first - base));
    if (end - base < 32) x &= (<u32>1 << (end - base)) - 1;
    while (x != 0) {
      const low = x & (0 - x);
      x ^= low;
      const page = base + 31 - <i32>clz(low);
      if (headWord1(page) < 0) return -1;
      setI32(sources, n++, page);
    }
  }
  return n;
}

/**
 * One GC run: the data pages moveSources[i …] (up to `room` of them) get their compact heads' words
 * (LBA, sequence) in moveWords (sequence numbers from the next one up, which then moves past them),
 * L2P at `target` + k and the targets' VPBM bits. Every listed page is still a valid data page: collect()
 * listed them from the VPBM and checked their heads, and nothing else runs during a collection. The
 * sources' VPBM bits stay set until eraseVictim clears the whole victim's at once. Returns the
 * number of pages in the run; the caller issues the device's copybackRun and the per-run counts.
 */
export function moveRun(i: i32, n: i32, target: i32, room: i32): i32 {
  const sequenceNumber = load<f64>(scalarCells, SCALAR_NEXT_SEQUENCE << 3);
  // Short names for the tables and constants of the loop.
  const sources = moveSources + (<usize>i << 2);
  const words = moveWords;
  const l2pTable = l2p;
  const count = min(room, n - i);
  let w2 = <u32>(<i64>sequenceNumber);
  for (let k = 0; k < count; k++) {
    const lba = headWord1(load<i32>(sources + (<usize>k << 2)));
    const at = words + (<usize>k << 3);
    store<i32>(at, lba);
    store<u32>(at, w2, 4);
    w2++;
    setI32(l2pTable, lba, ~(target + k)); // L2P holds ~ppa (abi.ts)
  }
  setValidRange(target, target + count);
  store<f64>(scalarCells, sequenceNumber + <f64>count, SCALAR_NEXT_SEQUENCE << 3);
  return count;
}

/** Sets the VPBM bits of pages [first, end) a word at a time (a run's targets). */
export function setValidRange(first: i32, end: i32): void {
  let ppa = first;
  while (ppa < end) {
    const low = ppa & 31;
    const span = min(32 - low, end - ppa);
    const mask: u32 = span == 32 ? 0xffffffff : ((<u32>1 << span) - 1) << low;
    const at = validBits + (<usize>(ppa >>> 5) << 2);
    store<u32>(at, load<u32>(at) | mask);
    ppa += span;
  }
}

// ------------------------------------------------------------------ GC (src/ftl/gc.ts collect, relocateBlockFast, eraseUnit; block-manager.ts placeMoved)

/**
 * relocateBlockFast for victim `b` whose valid pages (all data pages) are listed in
 * moveSources[0 … n): all n are moved. The victim's VPBM bits are left for eraseVictim.
 */
// Mirrors: packages/ssd/src/ftl/gc.ts#relocateBlockFast kernel:5d171dda source:e8fba87e
export function relocate(b: i32, pool: i32, n: i32): void {
  for (let i = 0; i < n; ) {
    const open = i32At(gcSlot, pool);
    const room = open >= 0 && load<u8>(unitState + <usize>open) != BLOCK_FULL ? dataPages - i32At(writePointer, open) : 0;
    if (room == 0) {
      const ppa = i32At(moveSources, i);
      const lba = headWord1(ppa);
      const to = placeMoved(pool, ppa, lba);
      setI32(l2p, lba, ~to);
      setValid(to);
      i++;
      continue;
    }
    const wp = i32At(writePointer, open);
    const target = open * pagesPerBlock + wp;
    const sequence = load<f64>(scalarCells, SCALAR_NEXT_SEQUENCE << 3);
    const k = moveRun(i, n, target, room);
    must(copybackRun(b, target, k, moveWords));
    afterMovedRun(gcSlot, open, wp, k, sequence);
    i += k;
  }
  dropMovedValid(b, n);
}

/** eraseUnit + resetBlock + freeUnit for a victim block (block mode). */
// Mirrors: packages/ssd/src/ftl/gc.ts#eraseUnit kernel:508bfe5a source:ab02cb04
export function eraseVictim(u: i32, pool: i32): void {
  settleBlock(u);
  must(erase(u));
  bump(COUNTER_ERASES, 1);
  const first = u * pagesPerBlock;
  let ppa = first;
  const end = first + pagesPerBlock;
  while (ppa < end && (ppa & 31) != 0) {
    const at = validBits + (<usize>(ppa >>> 5) << 2);
    store<u32>(at, load<u32>(at) & ~(1 << (ppa & 31)));
    ppa++;
  }
  for (; ppa + 32 <= end; ppa += 32) store<u32>(validBits + (<usize>(ppa >>> 5) << 2), 0);
  for (; ppa < end; ppa++) {
    const at = validBits + (<usize>(ppa >>> 5) << 2);
    store<u32>(at, load<u32>(at) & ~(1 << (ppa & 31)));
  }
  setI32(blockValid, u, 0);
  setI32(writePointer, u, 0);
  store<f64>(blockMinSeq + (<usize>u << 3), Infinity);
  // The block erased fine, so its capacity is unchanged (retirements go through src/ftl/bad-blocks.ts).
  freeUnit(u, pool);
}

/**
 * collect(pool, −1, gcStream): 1 when a unit was collected, 0 when collect() would return false,
 * −1 when this one needs src/ftl/ (a TRIM record among the victim's valid pages; nothing changed).
 * foregroundGc's multi-plane branch (src/ftl/gc-planes.ts) has no counterpart here: it runs only
 * over a PlaneView with multi-plane commands, whose device has no metadata kernel, so this kernel
 * never runs then. Nor has its gcTiming hook: only a transaction scheduler's replay sets it, and
 * the device's kernel is paused for those replays.
 */
// Mirrors: packages/ssd/src/ftl/gc.ts#collect packages/ssd/src/ftl/gc.ts#chooseVictim packages/ssd/src/ftl/gc.ts#hasRoomFor packages/ssd/src/ftl/gc.ts#foregroundGc kernel:c1b9f767 source:7d0313dd
export function collect(pool: i32): i32 {
  let victim = selectVictim(pool);
  if (victim < 0) return 0;
  const open = i32At(gcSlot, pool);
  const room = open >= 0 ? dataPages - i32At(writePointer, open) : 0;
  let valid = i32At(blockValid, victim);
  if (!(valid <= room || (i32At(freeCount, pool) > 0 && valid <= room + freeCapacity(pool)))) {
    victim = leastValidUnit(pool);
    if (victim < 0) return 0;
    valid = i32At(blockValid, victim);
  }
  if (valid >= i32At(unitCapacity, victim)) return 0;
  if (valid > room && (i32At(freeCount, pool) == 0 || valid > room + freeCapacity(pool))) return 0;
  const first = victim * pagesPerBlock;
  let written = i32At(writePointer, victim);
  if (written > dataPages) written = dataPages;
  const n = listValid(first, first + written);
  if (n < 0) return -1;
  // beginVictim
  bucketRemove(victim, pool, valid);
  store<u8>(unitState + <usize>victim, BLOCK_VICTIM);
  store<u8>(blockState + <usize>victim, BLOCK_VICTIM);
  store<i32>(stateCells, victim, STATE_LAST_VICTIM << 2);
  relocate(victim, pool, n);
  bump(COUNTER_GC_RUNS, 1);
  bump(COUNTER_GC_MOVED_PAGES, <f64>n);
  eraseVictim(victim, pool);
  return 1;
}
