// The FTL kernel's block manager (AssemblyScript, part of the FTL kernel; see kernel/ftl/mapping.ts):
// valid-page bookkeeping, opening and closing a stream's block, programming the next page.
// Counterpart of src/ftl/block-manager.ts (MQSim: Flash_Block_Manager).

import { programHead, read } from '../../../nand/kernel/metadata-device';
import { BLOCK_FULL, BLOCK_OPEN, COUNTER_GC_PAGE_READS, SCALAR_NEXT_SEQUENCE } from '../../src/ftl/abi';
import { blockMinSeq, blockOf, blockState, blockValid, bump, dataPages, dieOf, freeCount, gcSlot, i32At, must, nextSequence, pagesPerBlock, poolValid, scalarCells, setI32, unitStamp, unitState, validBits, writePointer } from './state';
import { bucketInsert, bucketMove } from './victim';
import { takeFreeUnit } from './free-pool';

// ------------------------------------------------------------------ valid-page bookkeeping (block mode)

// Mirrors: packages/ssd/src/ftl/block-manager.ts#setValid kernel:e7abbd13 source:7e7991bf
export function setValid(ppa: i32): void {
  const w = validBits + (<usize>(ppa >>> 5) << 2);
  store<u32>(w, load<u32>(w) | (1 << (ppa & 31)));
  const b = blockOf(ppa);
  const die = dieOf(b);
  setI32(poolValid, die, i32At(poolValid, die) + 1);
  const v = i32At(blockValid, b);
  setI32(blockValid, b, v + 1);
  if (load<u8>(unitState + <usize>b) == BLOCK_FULL) bucketMove(b, die, v, v + 1);
}

// Mirrors: packages/ssd/src/ftl/block-manager.ts#setInvalid kernel:1595de27 source:8eca62ad
export function setInvalid(ppa: i32): void {
  const w = validBits + (<usize>(ppa >>> 5) << 2);
  const bits = load<u32>(w);
  const m: u32 = 1 << (ppa & 31);
  if ((bits & m) == 0) return;
  store<u32>(w, bits & ~m);
  const b = blockOf(ppa);
  const die = dieOf(b);
  setI32(poolValid, die, i32At(poolValid, die) - 1);
  const v = i32At(blockValid, b);
  setI32(blockValid, b, v - 1);
  if (load<u8>(unitState + <usize>b) == BLOCK_FULL) bucketMove(b, die, v, v - 1);
}

/** openUnit in block mode: the stream's slot on `pool` gets the youngest free block, or (cold data, `preferOld`) the most worn; the caller checked freeCount. */
// Mirrors: packages/ssd/src/ftl/block-manager.ts#openUnit kernel:fecc6595 source:d43c02a3
export function openUnit(slots: usize, pool: i32, preferOld: bool = false): i32 {
  const u = takeFreeUnit(pool, preferOld);
  store<u8>(unitState + <usize>u, BLOCK_OPEN);
  setI32(blockValid, u, 0);
  store<u8>(blockState + <usize>u, BLOCK_OPEN);
  setI32(writePointer, u, 0);
  store<f64>(blockMinSeq + (<usize>u << 3), Infinity);
  setI32(slots, pool, u);
  return u;
}

/**
 * After GC moved a run of `k` pages into `open` from its write pointer `wp` (sequences from
 * `sequence` on): its write pointer, oldest sequence and valid counts (block and pool), the GC's
 * page reads, and the block closed in `slots` once full. Shared by kernel/ftl/gc.ts relocate and
 * kernel/ftl/replay-gc.ts (relocateBlockFast's run bookkeeping in src/ftl/gc.ts).
 */
export function afterMovedRun(slots: usize, open: i32, wp: i32, k: i32, sequence: f64): void {
  setI32(writePointer, open, wp + k);
  lowerMinSequence(open, sequence);
  setI32(blockValid, open, i32At(blockValid, open) + k);
  const die = dieOf(open);
  setI32(poolValid, die, i32At(poolValid, die) + k);
  bump(COUNTER_GC_PAGE_READS, <f64>k);
  if (wp + k >= dataPages) closeBlock(slots, open);
}

/** GC moved `n` valid pages out of block `b`: its and its pool's valid counts drop by n. */
export function dropMovedValid(b: i32, n: i32): void {
  if (n <= 0) return;
  setI32(blockValid, b, i32At(blockValid, b) - n);
  const die = dieOf(b);
  setI32(poolValid, die, i32At(poolValid, die) - n);
}

/** afterProgram + closeUnit: block `b` of a stream used its last data page. */
// Mirrors: packages/ssd/src/ftl/block-manager.ts#closeUnit kernel:7dbadca2 source:b1bead1b
export function closeBlock(slots: usize, b: i32): void {
  store<u8>(blockState + <usize>b, BLOCK_FULL);
  const die = dieOf(b);
  if (i32At(slots, die) == b) setI32(slots, die, -1);
  store<u8>(unitState + <usize>b, BLOCK_FULL);
  store<f64>(unitStamp + (<usize>b << 3), load<f64>(scalarCells, SCALAR_NEXT_SEQUENCE << 3));
  bucketInsert(b, die);
}

@inline export function lowerMinSequence(b: i32, sequence: f64): void {
  const at = blockMinSeq + (<usize>b << 3);
  if (sequence < load<f64>(at)) store<f64>(at, sequence);
}

/**
 * Programs data page `lba` with `sequence` at the next page of open block `b` (no close): a compact
 * head (the device rebuilds word 0 and the CRC; its word 1, the LBA, is this kernel's P2L entry).
 */
@inline export function programNext(b: i32, lba: i32, sequence: f64): i32 {
  const wp = i32At(writePointer, b);
  const ppa = b * pagesPerBlock + wp;
  setI32(writePointer, b, wp + 1);
  const w2 = <i32>(<i64>sequence);
  must(programHead(ppa, lba, w2));
  lowerMinSequence(b, sequence);
  return ppa;
}

// ------------------------------------------------------------------ a GC move (src/ftl/block-manager.ts placeMoved)

/** placeMoved for the GC stream with no room for a run: the read, then the page placed as place() does. */
// Mirrors: packages/ssd/src/ftl/block-manager.ts#placeMoved kernel:5bedfc09 source:08730d49
export function placeMoved(pool: i32, source: i32, lba: i32): i32 {
  let open = i32At(gcSlot, pool);
  if (open < 0 || i32At(writePointer, open) + 1 >= dataPages) {
    must(read(source));
    bump(COUNTER_GC_PAGE_READS, 1);
    const sequence = nextSequence();
    if (open < 0) {
      if (i32At(freeCount, pool) == 0) unreachable(); // collect() checked that the victim fits
      open = openUnit(gcSlot, pool);
    }
    const ppa = programNext(open, lba, sequence);
    if (i32At(writePointer, open) >= dataPages) closeBlock(gcSlot, open);
    return ppa;
  }
  // One copyback into the open block: its read, then its program.
  bump(COUNTER_GC_PAGE_READS, 1);
  const sequence = nextSequence();
  must(read(source));
  return programNext(open, lba, sequence);
}
