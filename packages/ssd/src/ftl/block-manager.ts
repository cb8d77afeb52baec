// Block manager: the valid-page bookkeeping (VPBM bit, VPC per block, unit and pool, and the
// greedy list a FULL unit sits in), opening and closing units for the write streams (host, GC,
// cold), page allocation (per die in block mode, striped across a superblock otherwise), programming
// a page with its spare (the general path and the metadata fast path, with the retry after a
// program failure), P2L summary pages, and resetting an erased block's tables.
// MQSim counterpart: Flash_Block_Manager / Flash_Block_Manager_Base
// (Allocate_block_and_page_in_plane_for_user_write / _for_gc_write, Invalidate_page_in_block,
// Program_transaction_serviced, the open Data_wf / GC_wf blocks per stream).
import { isNandError } from '@flashdiff/nand';
import { crc32Words3Int32 } from '../crc32.ts';
import { encodeSpare, encodeSpareWords, KIND_DATA, KIND_SUMMARY, KIND_TRANSLATION, spareWord0, writeU32 } from '../spare.ts';
import { BLOCK_BAD, BLOCK_FULL, BLOCK_OPEN, P2L_NONE, P2L_SUMMARY, P2L_TRANSLATION_BASE, P2L_TRIM } from './abi.ts';
import { blockOfPage, memberBlock, memberCount, poolOfUnit } from './state.ts';
import type { FtlState, Stream } from './state.ts';
import { takeFreeUnit } from './free-pool.ts';
import { bucketInsert, bucketMove } from './victim.ts';
import { collectInPlace } from './gc.ts';
import { retireBlock } from './bad-blocks.ts';

export function setValid(st: FtlState, ppa: number): void {
  st.validBits[ppa >>> 5]! |= 1 << (ppa & 31);
  const b = blockOfPage(st, ppa);
  const die = st.dieOfBlock[b]!;
  st.poolValid[die]!++;
  if (st.blockMode === true) {
    // The unit is the block, and unitValid is blockValid. A block still open is in no bucket.
    if (st.greedy === true && st.unitState[b] === BLOCK_FULL) {
      const v = st.blockValid[b]!++;
      bucketMove(st, b, die, v, v + 1);
    } else {
      st.blockValid[b]!++;
    }
    return;
  }
  st.blockValid[b]!++;
  const u = st.unitOfBlockTable[b]!;
  const v = st.unitValid[u]!++;
  if (st.greedy === true && st.unitState[u] === BLOCK_FULL) bucketMove(st, u, 0, v, v + 1);
}

/** Clears a page's VPBM bit and decrements VPC (the seed's TRIM steps 2–3, and every overwrite). */
export function setInvalid(st: FtlState, ppa: number): void {
  const w = ppa >>> 5;
  const m = 1 << (ppa & 31);
  const bits = st.validBits[w]!;
  if ((bits & m) === 0) return;
  st.validBits[w] = bits & ~m;
  const b = blockOfPage(st, ppa);
  const die = st.dieOfBlock[b]!;
  st.poolValid[die]!--;
  if (st.blockMode === true) {
    // The unit is the block (pool: its die), and unitValid is blockValid.
    const v = st.blockValid[b]!--;
    if (st.greedy === true && st.unitState[b] === BLOCK_FULL) bucketMove(st, b, die, v, v - 1);
    return;
  }
  st.blockValid[b]!--;
  const u = st.unitOfBlockTable[b]!;
  const v = st.unitValid[u]!--;
  if (st.greedy === true && st.unitState[u] === BLOCK_FULL) bucketMove(st, u, 0, v, v - 1);
}

/** Opens a unit for a stream (slots = its good member blocks), collecting in place if none is free. */
export function openUnit(st: FtlState, s: Stream, pool: number): void {
  if (st.freeCount[pool] === 0) {
    collectInPlace(st, s, pool);
    return;
  }
  const u = takeFreeUnit(st, pool, s.preferOldBlocks);
  st.unitState[u] = BLOCK_OPEN;
  st.unitValid[u] = 0;
  const m = memberCount(st);
  for (let k = 0; k < m; k++) {
    const b = memberBlock(st, u, k);
    if (st.blockState[b] === BLOCK_BAD) continue;
    st.blockState[b] = BLOCK_OPEN;
    st.writePointer[b] = 0;
    st.blockMinSeq[b] = Infinity;
    s.slot[st.blockMode ? pool : k] = b;
  }
  if (!st.blockMode) s.unit = u;
}

export function closeUnit(st: FtlState, u: number): void {
  st.unitState[u] = BLOCK_FULL;
  st.unitStamp[u] = st.nextSequence;
  if (st.greedy) bucketInsert(st, u);
  else if (st.options.gcPolicy === 'fifo') st.fifo[poolOfUnit(st, u)]!.push(u, st.nextSequence);
}

/** Next physical page of a stream; `die` picks the die in block mode. */
export function allocate(st: FtlState, s: Stream, die: number): number {
  for (;;) {
    if (st.blockMode) {
      const b = s.slot[die]!;
      if (b >= 0) return b * st.pagesPerBlock + st.writePointer[b]!++;
      openUnit(st, s, die);
      continue;
    }
    if (s.unit < 0) {
      openUnit(st, s, 0);
      continue;
    }
    for (let k = 0, pos = s.cursor; k < st.dies; k++, pos = pos + 1 === st.dies ? 0 : pos + 1) {
      const d = st.dieOrder[pos]!;
      const b = s.slot[d]!;
      if (b >= 0) {
        s.cursor = pos + 1 === st.dies ? 0 : pos + 1;
        return b * st.pagesPerBlock + st.writePointer[b]!++;
      }
    }
    // Every member is full or retired.
    closeUnit(st, s.unit);
    s.unit = -1;
  }
}

/** After a page of block `b` was programmed: close the block when its data pages are used up. */
export function afterProgram(st: FtlState, s: Stream, b: number): void {
  if (st.writePointer[b]! < st.dataPages) return;
  if (st.options.validityMethod === 'p2l' && !writeSummary(st, b)) return;
  st.blockState[b] = BLOCK_FULL;
  const die = st.dieOfBlock[b]!;
  if (s.slot[die] === b) s.slot[die] = -1;
  if (st.blockMode) closeUnit(st, b);
  else if (s.unit >= 0) {
    let open = false;
    for (let d = 0; d < st.dies; d++) if (s.slot[d]! >= 0) open = true;
    if (!open) {
      closeUnit(st, s.unit);
      s.unit = -1;
    }
  }
}

/**
 * Programs the P2L summary into the block's last page: the LBA of each data page (u32 LE;
 * 0xFFFFFFFE for a TRIM record, 0xFFFFFFFF for none). Returns false when the program failed
 * (the block was then retired).
 */
export function writeSummary(st: FtlState, b: number): boolean {
  const first = b * st.pagesPerBlock;
  let data: Uint8Array | null = null;
  if (st.withData) {
    data = st.summaryWriteBuffer;
    data.fill(0xff);
    for (let i = 0; i < st.dataPages && 4 * i + 4 <= data.length; i++) {
      const v = ~st.p2l[first + i]!; // the tables hold ~entry (abi.ts)
      writeU32(data, 4 * i, v >= 0 ? v : v === P2L_TRIM ? 0xfffffffe : 0xffffffff);
    }
  }
  const ppa = first + st.pagesPerBlock - 1;
  encodeSpare(st.spare, st.metaOffset, KIND_SUMMARY, b, st.nextSequence++, st.dataPages, data);
  st.writePointer[b] = st.pagesPerBlock;
  try {
    st.device.programPage(ppa, data, st.spare);
  } catch (e) {
    if (!isNandError(e, 'PROGRAM_FAILED')) throw e;
    st.counterValues.programFailures++;
    retireBlock(st, b);
    return false;
  }
  st.p2l[ppa] = ~P2L_SUMMARY;
  st.counterValues.metadataPagePrograms++;
  return true;
}

/**
 * {@link place}'s `sequence` for a page that is the newest version of its LBA or range (a host
 * write, a TRIM record, a GC copy of data): place() takes the next sequence number itself.
 */
export const FRESH_SEQUENCE = -1;

/**
 * Allocates, programs and accounts one page; on PROGRAM_FAILED retires the block (moving its
 * valid pages) and retries elsewhere with the same metadata. Returns the page written.
 * `sequence`: the page's sequence number (a TRIM record moved by GC keeps its own), or
 * FRESH_SEQUENCE. A fresh page takes the next number on entry, and the next one again when a
 * collection in place (allocation found no free unit) or a block retirement ran before it was
 * programmed: those program the pages they move with newer numbers, and recovery keeps, for each
 * LBA, the copy with the highest number, so this page (the host's newest write of its LBA, or a
 * TRIM record of LBAs that were just moved) must come after them.
 */
export function place(st: FtlState, s: Stream, die: number, kind: number, lba: number, sequence: number, count: number, data: Uint8Array | null): number {
  const fresh = sequence === FRESH_SEQUENCE;
  if (fresh) sequence = st.nextSequence++;
  let relocations = st.relocations;
  for (;;) {
    // Fast path: the stream already has an open block on this die (block mode).
    const open = st.blockMode ? s.slot[die]! : -1;
    const ppa = open >= 0 ? open * st.pagesPerBlock + st.writePointer[open]!++ : allocate(st, s, die);
    const b = open >= 0 ? open : blockOfPage(st, ppa);
    if (fresh && st.relocations !== relocations) {
      sequence = st.nextSequence++;
      relocations = st.relocations;
    }
    try {
      if (st.fastMeta) {
        // Words as signed 32-bit integers: never boxed on the way into the device.
        const w0 = kind === KIND_DATA && count === 1 ? st.dataWord0 : spareWord0(kind, count) | 0;
        st.device.programSpareWords!(ppa, w0, lba | 0, sequence | 0, crc32Words3Int32(w0, lba | 0, sequence | 0));
      } else {
        if (st.spareWords !== null) encodeSpareWords(st.spareWords, kind, lba, sequence, count);
        else encodeSpare(st.spare, st.metaOffset, kind, lba, sequence, count, data);
        st.device.programPage(ppa, data, st.spare);
      }
    } catch (e) {
      if (!isNandError(e, 'PROGRAM_FAILED')) throw e;
      st.counterValues.programFailures++;
      retireBlock(st, b);
      continue;
    }
    st.p2l[ppa] = ~(kind === KIND_DATA ? lba : kind === KIND_TRANSLATION ? P2L_TRANSLATION_BASE - lba : P2L_TRIM);
    if (kind === KIND_DATA && sequence < st.blockMinSeq[b]!) st.blockMinSeq[b] = sequence;
    if (st.writePointer[b]! < st.dataPages) return ppa;
    afterProgram(st, s, b);
    // The block's P2L summary failed to program and the block was retired after this page was
    // written but before the caller marked it valid: write the page again elsewhere.
    if (st.blockState[b] === BLOCK_BAD) continue;
    return ppa;
  }
}

/**
 * {@link place} for a GC move of a data page on the metadata fast path: the victim page
 * `source` is read and `lba` programmed with a fresh sequence number. When the stream has an
 * open block on this die the two go as one device copyback; otherwise the read is issued first
 * and then the page placed, exactly the order relocatePage uses (allocation may itself collect).
 */
export function placeMoved(st: FtlState, s: Stream, die: number, source: number, lba: number): number {
  const open = st.blockMode === true ? s.slot[die]! : -1;
  if (open < 0 || st.writePointer[open]! + 1 >= st.dataPages) {
    // No open block, or this page closes it (a P2L summary or a closed unit follows): the general order.
    st.device.readPage(source);
    st.counterValues.gcPageReads++;
    return place(st, s, die, KIND_DATA, lba, FRESH_SEQUENCE, 1, null);
  }
  st.counterValues.gcPageReads++;
  const sequence = st.nextSequence++;
  const ppa = open * st.pagesPerBlock + st.writePointer[open]!++;
  const w0 = st.dataWord0;
  try {
    st.device.copyback!(source, ppa, w0, lba | 0, sequence | 0, crc32Words3Int32(w0, lba | 0, sequence | 0));
  } catch (e) {
    // The read was done: retry the program alone, as place's retry loop does.
    return retryFailedProgram(st, e, s, die, lba, open);
  }
  st.p2l[ppa] = ~lba;
  if (sequence < st.blockMinSeq[open]!) st.blockMinSeq[open] = sequence;
  return ppa;
}

/**
 * After a fast-path program of data page `lba` into `open` threw: a PROGRAM_FAILED retires the
 * block (moving its valid pages) and the page goes through place(), which allocates anew with a
 * sequence number newer than the moved pages' (as place's own retry does); anything else propagates.
 */
export function retryFailedProgram(st: FtlState, e: unknown, s: Stream, die: number, lba: number, open: number): number {
  if (!isNandError(e, 'PROGRAM_FAILED')) throw e;
  st.counterValues.programFailures++;
  retireBlock(st, open);
  return place(st, s, die, KIND_DATA, lba, FRESH_SEQUENCE, 1, null);
}

/**
 * {@link place} for a host data page on the metadata fast path: when the host stream has an
 * open block on this die, the page is programmed there from its spare words directly (and the
 * block closed after its last data page, as place does); allocation, a retry after a failed
 * program and blocks that end in a P2L summary go through place.
 */
export function placeHost(st: FtlState, die: number, lba: number): number {
  const s = st.hostStream;
  const open = st.blockMode === true ? s.slot[die]! : -1;
  // No open block (allocation may collect), or a last page followed by a P2L summary: place().
  if (open < 0 || (st.summaries === true && st.writePointer[open]! + 1 >= st.dataPages)) return place(st, s, die, KIND_DATA, lba, FRESH_SEQUENCE, 1, null);
  const sequence = st.nextSequence++;
  const ppa = open * st.pagesPerBlock + st.writePointer[open]!++;
  const w0 = st.dataWord0;
  const w1 = lba | 0;
  const w2 = sequence | 0;
  try {
    st.device.programSpareWords!(ppa, w0, w1, w2, crc32Words3Int32(w0, w1, w2));
  } catch (e) {
    return retryFailedProgram(st, e, s, die, lba, open);
  }
  st.p2l[ppa] = ~lba;
  if (sequence < st.blockMinSeq[open]!) st.blockMinSeq[open] = sequence;
  // The block's last data page: close it, as place() does.
  if (st.writePointer[open]! >= st.dataPages) afterProgram(st, s, open);
  return ppa;
}

/** Free data pages a stream can still take in a pool without opening a unit. */
export function streamRoom(st: FtlState, s: Stream, pool: number): number {
  if (st.blockMode) {
    const b = s.slot[pool]!;
    return b >= 0 ? st.dataPages - st.writePointer[b]! : 0;
  }
  let room = 0;
  for (let d = 0; d < st.dies; d++) {
    const b = s.slot[d]!;
    if (b >= 0) room += st.dataPages - st.writePointer[b]!;
  }
  return room;
}

export function resetBlock(st: FtlState, b: number): void {
  const first = b * st.pagesPerBlock;
  const end = first + st.pagesPerBlock;
  const p2l = st.p2l;
  // Short loops: TypedArray.prototype.fill is a call into C++, dearer than 64 stores.
  for (let ppa = first; ppa < end; ppa++) p2l[ppa] = ~P2L_NONE;
  const bits = st.validBits;
  let ppa = first;
  while (ppa < end && (ppa & 31) !== 0) {
    bits[ppa >>> 5]! &= ~(1 << (ppa & 31));
    ppa++;
  }
  for (; ppa + 32 <= end; ppa += 32) bits[ppa >>> 5] = 0; // whole VPBM words of this block
  for (; ppa < end; ppa++) bits[ppa >>> 5]! &= ~(1 << (ppa & 31));
  st.blockValid[b] = 0;
  st.writePointer[b] = 0;
  st.blockMinSeq[b] = Infinity;
}
