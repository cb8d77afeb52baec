// The FTL kernel's host write (AssemblyScript; compiled with kernel/simulator-kernel.ts by
// scripts/build-kernels.ts into src/ftl-kernel-wasm.ts; not part of the TypeScript program).
// Counterpart of src/ftl/mapping.ts (MQSim: Address_Mapping_Unit_Page_Level); the kernel's files
// under kernel/ftl/ mirror src/ftl/'s, file for file.
//
// write() is Ftl.write for the common case of the metadata fast path: block mode, greedy GC, the
// bitmap validity method, no P2L summaries, no static wear leveling, nothing armed on the device,
// round-robin or static host allocation (staticHostDie). It covers the die choice, foreground GC (greedy victim, the relocation of its valid pages in
// copyback runs, the erase, the free-pool heap) and the host page, with the same decisions, page
// order, sequence numbers and device operations as src/ftl/ (nextHostDie, foregroundGc, collect,
// relocateBlockFast, placeMoved, place, eraseUnit, freeUnit, write).
//
// It works on the FTL's tables, which Ftl appends to the NAND device's shared table memory and
// also reads and writes as typed arrays, and drives the device through nand's own kernel source
// (kernel/metadata-device.ts, compiled into this module): nothing is copied between the two, and
// the device's rules stay nand's. Whenever something needs src/ftl/ (a TRIM record in a victim, a die
// that must collect in place, a stream with no free unit), write() returns before changing
// anything, or after complete GC units with the die it chose, and src/ftl/ goes on from there.

import { erasesReady, headWord1, programsReady, readsReady } from '../../../nand/kernel/metadata-device';
import { programPage, readPage } from '../planes';
import { COUNTER_HOST_PAGE_WRITES, KERNEL_WRITE_DECLINED, KERNEL_WRITE_DIE_BASE, STATE_HOST_CURSOR } from '../../src/ftl/abi';
import {
  blockOf, blockValid, bump, channelFirst, channels, dataPages, dieOrder, dies, diesPerChannel, freeCount, gcThreshold, hostReserve, hostSlot, i32At, l2p, nextSequence,
  pagesPerBlock, poolCapacity, poolValid, setI32, stateCells, staticAllocation, unitsPerPool, validBits, writePointer,
} from './state';
import { leastValidUnit } from './victim';
import { closeBlock, lowerMinSequence, openUnit, programNext, setInvalid, setValid } from './block-manager';
import { collect } from './gc';
import { headsImplied, settleLba } from './lazy-fill';
import { foregroundGcReplay, placeData } from './replay-gc';

// ------------------------------------------------------------------ the host write (src/ftl/mapping.ts write, nextHostDie; block-manager.ts placeHost)

/** nextHostDie's two passes; −1 where src/ftl/ decides (a die that needs leastValidUnit's scan, or none). */
// Mirrors: packages/ssd/src/ftl/mapping.ts#nextHostDie kernel:8ae4164e source:aa87f038
export function nextHostDie(): i32 {
  let cursor = load<i32>(stateCells, STATE_HOST_CURSOR << 2);
  for (let pass = 0; pass < 2; pass++) {
    for (let tries = 0; tries < dies; tries++) {
      const die = i32At(dieOrder, cursor);
      if (++cursor == dies) cursor = 0;
      if (pass == 0 && i32At(poolCapacity, die) - i32At(poolValid, die) < hostReserve) continue;
      if (i32At(hostSlot, die) >= 0 || i32At(freeCount, die) > 0 || leastValidUnit(die) >= 0) {
        store<i32>(stateCells, cursor, STATE_HOST_CURSOR << 2);
        return die;
      }
    }
  }
  return -1;
}

/**
 * A static hostAllocation: the die of `lba` by the scheme's order of channel and way (the die in
 * the channel; the kernel runs with one plane per die, so the plane and die-in-way letters take
 * nothing from the LBA); when that die has no room left, nextHostDie (−1: src/ftl/ decides).
 */
// Mirrors: packages/ssd/src/ftl/mapping.ts#staticHostDie kernel:4b568fcc source:fbf79fad
export function staticHostDie(lba: i32): i32 {
  let channel: i32;
  let way: i32;
  if (channelFirst != 0) {
    channel = lba % channels;
    way = (lba / channels) % diesPerChannel;
  } else {
    way = lba % diesPerChannel;
    channel = (lba / diesPerChannel) % channels;
  }
  const die = channel * diesPerChannel + way;
  if (i32At(poolCapacity, die) - i32At(poolValid, die) > dataPages && (i32At(hostSlot, die) >= 0 || i32At(freeCount, die) > 0 || leastValidUnit(die) >= 0)) {
    return die;
  }
  return nextHostDie();
}

/**
 * Writes host page `lba` (src/ftl/ checked it). Returns the page written; KERNEL_WRITE_DECLINED
 * (−1) when src/ftl/ must do the whole write (nothing changed); KERNEL_WRITE_DIE_BASE − die
 * (−2 − die) when it must go on with die `die` (chosen, the host cursor moved, and whole GC units
 * may have run).
 */
// Mirrors: packages/ssd/src/ftl/mapping.ts#write packages/ssd/src/ftl/mapping.ts#writeAfterKernel packages/ssd/src/ftl/block-manager.ts#placeHost kernel:1b37a93c source:b47f8044
export function write(lba: i32): i32 {
  if (programsReady() == 0 || erasesReady() == 0 || readsReady() == 0) return KERNEL_WRITE_DECLINED;
  // The old mapping is read first: a random L2P access that misses the cache overlaps the work
  // below. Only a collection can move the page in between; then it is read again.
  settleLba(lba); // a lazily filled LBA's entry written first (kernel/ftl/lazy-fill.ts)
  let old = ~i32At(l2p, lba); // L2P holds ~ppa (abi.ts)
  const die = staticAllocation != 0 ? staticHostDie(lba) : nextHostDie();
  if (die < 0) return KERNEL_WRITE_DECLINED;
  let guard = unitsPerPool + 4;
  while (i32At(freeCount, die) < gcThreshold && guard-- > 0) {
    const collected = collect(die);
    if (collected == 0) break;
    if (collected < 0) return KERNEL_WRITE_DIE_BASE - die;
    old = ~i32At(l2p, lba);
  }
  let open = i32At(hostSlot, die);
  if (open < 0) {
    if (i32At(freeCount, die) == 0) return KERNEL_WRITE_DIE_BASE - die; // collect in place: src/ftl/
    open = openUnit(hostSlot, die);
  }
  const ppa = programNext(open, lba, nextSequence());
  const closing = i32At(writePointer, open) >= dataPages;
  if (closing) closeBlock(hostSlot, open);
  if (old >= 0) setInvalid(old);
  setI32(l2p, lba, ~ppa);
  if (closing) {
    setValid(ppa);
  } else {
    // setValid for a page of a block still open (on `die`): no greedy list to move it in.
    const w = validBits + (<usize>(ppa >>> 5) << 2);
    store<u32>(w, load<u32>(w) | (1 << (ppa & 31)));
    setI32(poolValid, die, i32At(poolValid, die) + 1);
    setI32(blockValid, open, i32At(blockValid, open) + 1);
  }
  bump(COUNTER_HOST_PAGE_WRITES, 1);
  return ppa;
}

// ------------------------------------------------------------------ the kernel replay's host page read and write (kernel/simulator/replay.ts)
// With the scheduler as the clock's sink, through the plane view (kernel/planes.ts); foreground GC
// in kernel/ftl/replay-gc.ts. A check made first (src/simulator/replay-kernel.ts) proves that every
// pool keeps a victim with garbage and a free block, so no collection in place is ever needed.

/** The allocation scheme's four letters (c, w, d, p), one a byte from the lowest (FtlState.allocationOrder). */
let allocationLetters: i32 = 0;
/** Planes per die of the FTL's (view) dies. */
let viewPlanes: i32 = 1;
export function bindReplayFtl(letters: i32, planes: i32): void {
  allocationLetters = letters;
  viewPlanes = planes;
}

/**
 * staticHostDie with planes: the die (the plane) of `lba` by the scheme's order of channel, way,
 * die in the way (one) and plane; when it has no room, nextHostDie (a die is always found: the
 * replay's check).
 */
// Mirrors: packages/ssd/src/ftl/mapping.ts#staticHostDie kernel:f6e80160 source:fbf79fad
function staticViewDie(lba: i32): i32 {
  const ways = diesPerChannel / viewPlanes;
  let rest = lba;
  let channel = 0;
  let way = 0;
  let plane = 0;
  for (let k = 0; k < 4; k++) {
    const letter = (allocationLetters >>> (8 * k)) & 0xff;
    if (letter == 99) {
      channel = rest % channels;
      rest = rest / channels;
    } else if (letter == 119) {
      way = rest % ways;
      rest = rest / ways;
    } else if (letter == 112) {
      plane = rest % viewPlanes;
      rest = rest / viewPlanes;
    }
  }
  const die = channel * diesPerChannel + way * viewPlanes + plane;
  if (i32At(poolCapacity, die) - i32At(poolValid, die) > dataPages && (i32At(hostSlot, die) >= 0 || i32At(freeCount, die) > 0 || leastValidUnit(die) >= 0)) return die;
  const other = nextHostDie();
  if (other < 0) unreachable(); // src/ftl/ throws NO_SPACE: the replay's check rules it out
  return other;
}

/**
 * Ftl.read of `lba` in the kernel replay: 1 when mapped (its page read through the plane view,
 * its head's LBA checked as decodeSpare does), 0 when unmapped.
 */
// Mirrors: packages/ssd/src/ftl/mapping.ts#read kernel:36665458 source:e6a43ab1
export function replayRead(lba: i32): i32 {
  settleLba(lba);
  const ppa = ~i32At(l2p, lba);
  if (ppa < 0) return 0;
  const real = readPage(ppa);
  // The head's LBA checked where it is written (a lazily filled block's is implied: this LBA).
  if (!headsImplied(blockOf(ppa)) && headWord1(real) != lba) unreachable();
  return 1;
}

/**
 * Ftl.write of `lba` in the kernel replay (write, writeAfterKernel, placeHost): the static die,
 * foreground GC when its free blocks are below the threshold, the next page of its open block (a
 * free block opened first) programmed through the plane view; the old copy (read again after GC,
 * which may have moved it) invalidated, the L2P updated.
 */
// Mirrors: packages/ssd/src/ftl/mapping.ts#write packages/ssd/src/ftl/mapping.ts#writeAfterKernel packages/ssd/src/ftl/block-manager.ts#placeHost kernel:789a4ea9 source:b47f8044
export function replayWrite(lba: i32): void {
  settleLba(lba);
  const early = ~i32At(l2p, lba);
  const die = staticViewDie(lba);
  const collected = i32At(freeCount, die) < gcThreshold;
  if (collected) foregroundGcReplay(die);
  const ppa = placeData(hostSlot, false, die, lba);
  const old = collected ? ~i32At(l2p, lba) : early;
  if (old >= 0) setInvalid(old);
  setI32(l2p, lba, ~ppa);
  setValid(ppa);
  bump(COUNTER_HOST_PAGE_WRITES, 1);
}
