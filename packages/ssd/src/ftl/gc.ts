// Garbage collection: foreground (below gcThreshold free units), background (idle time) and on
// demand; destination-first collection of a victim unit (its valid pages found by the bitmap, a P2L
// summary or a spare scan, moved one by one or in copyback runs on the metadata fast path), TRIM
// records dropped once obsolete, the erase that returns the unit to its pool, and the in-place
// collection when no free unit is left. With multi-plane commands, gc-planes.ts collects the
// planes of a die together.
// MQSim counterpart: GC_and_WL_Unit_Page_Level / GC_and_WL_Unit_Base (Check_gc_required,
// the gc read / write / erase transactions, is_safe_gc_wl_candidate).
import { isNandError } from '@flashdiff/nand';
import { SsdError } from '../errors.ts';
import { crc32Words3Int32 } from '../crc32.ts';
import { decodeSpare, KIND_DATA, KIND_TRANSLATION, KIND_TRIM, readU32 } from '../spare.ts';
import { BLOCK_BAD, BLOCK_FREE, BLOCK_FULL, BLOCK_OPEN, BLOCK_VICTIM, P2L_TRANSLATION_BASE, P2L_TRIM } from './abi.ts';
import { goodMembers, isValid, memberBlock, memberCount, p2lAt, poolOfUnit } from './state.ts';
import type { FtlState, Stream } from './state.ts';
import { freeCapacity, freeUnit, heapRemoveAt, updatePoolCapacity } from './free-pool.ts';
import { bucketRemove, leastValidUnit, selectVictim } from './victim.ts';
import { afterProgram, FRESH_SEQUENCE, place, placeMoved, resetBlock, setInvalid, setValid, streamRoom } from './block-manager.ts';
import { checkPower, guard } from './mapping.ts';
import { markBlockBad } from './bad-blocks.ts';
import { staticWearLevel } from './wear-leveling.ts';
import { backgroundGcPlanes, foregroundGcPlanes, gcPlaneGroup } from './gc-planes.ts';

export function fits(st: FtlState, victim: number, s: Stream, pool: number): boolean {
  const valid = st.unitValid[victim]!;
  const room = streamRoom(st, s, pool);
  return valid <= room || (st.freeCount[pool]! > 0 && valid <= room + freeCapacity(st, pool));
}

/** How a transaction scheduler learns that the operations issued next are foreground GC's (replay sets it; FtlState.gcTiming). */
export interface GcTiming {
  begin(): void;
  end(): void;
}

export function foregroundGc(st: FtlState, pool: number): void {
  const timing = st.gcTiming;
  if (timing !== null) timing.begin();
  try {
    // With multi-plane commands the planes of a die collect together (gc-planes.ts; never in the kernel).
    const group = gcPlaneGroup(st);
    if (group > 1) {
      foregroundGcPlanes(st, pool, group);
      return;
    }
    let guard = st.unitsPerPool + 4;
    while (st.freeCount[pool]! < st.gcThreshold && guard-- > 0) {
      if (!collect(st, pool, -1, st.gcStream)) break;
    }
  } finally {
    if (timing !== null) timing.end();
  }
}

/**
 * Background GC (idle time): collects in every pool until it has `backgroundGcTarget` free
 * units or no victim frees space. Returns the number of units collected.
 */
export function backgroundGc(st: FtlState, maxUnits = Infinity): number {
  checkPower(st);
  let done = 0;
  try {
    const group = gcPlaneGroup(st);
    if (group > 1) return backgroundGcPlanes(st, group, maxUnits);
    for (let pool = 0; pool < st.poolCount && done < maxUnits; pool++) {
      while (st.freeCount[pool]! < st.options.backgroundGcTarget && done < maxUnits) {
        if (!collect(st, pool, -1, st.gcStream)) break;
        done++;
        st.counterValues.backgroundGcRuns++;
      }
    }
  } catch (e) {
    guard(st, e);
  }
  return done;
}

/** Runs one GC in a pool now (the victim per policy). Returns false when nothing can be gained. */
export function collectOnce(st: FtlState, pool = 0): boolean {
  checkPower(st);
  try {
    return collect(st, pool, -1, st.gcStream);
  } catch (e) {
    return guard(st, e);
  }
}

/**
 * Destination-first GC of one unit: move its valid pages to `s`, then erase it. Gives up (false)
 * when there is no victim with an invalid page, or not enough free space to move it into.
 */
export function collect(st: FtlState, pool: number, forcedVictim: number, s: Stream): boolean {
  const victim = forcedVictim < 0 ? chooseVictim(st, pool, s) : hasRoomFor(st, forcedVictim, s, pool) ? forcedVictim : -1;
  if (victim < 0) return false;
  beginVictim(st, victim);
  const moved = relocateUnit(st, victim, s, pool);
  if (s === st.coldStream) {
    st.counterValues.wearLevelingRuns++;
    st.counterValues.wearLevelingMovedPages += moved;
  } else {
    st.counterValues.gcRuns++;
    st.counterValues.gcMovedPages += moved;
  }
  eraseUnit(st, victim);
  return true;
}

/**
 * The unit GC takes in `pool` for stream `s`, or −1 where it gives up: the policy's pick, the
 * emptiest unit when that does not fit, none without garbage (FIFO aside) or without room for its
 * valid pages. collect's choice, and the multi-plane GC's for each plane (gc-planes.ts).
 */
export function chooseVictim(st: FtlState, pool: number, s: Stream): number {
  let victim = selectVictim(st, pool);
  if (victim < 0) return -1;
  if (!fits(st, victim, s, pool)) {
    // The policy's pick does not fit in the space left: take the emptiest unit instead.
    victim = leastValidUnit(st, pool);
    if (victim < 0) return -1;
  }
  // FIFO cleans the oldest unit even when it is all valid (the log must advance); the others
  // never collect a unit without garbage.
  if (st.unitValid[victim]! >= st.unitCapacity[victim]! && st.options.gcPolicy !== 'fifo') return -1;
  return hasRoomFor(st, victim, s, pool) ? victim : -1;
}

/** Destination first: the victim's valid pages must fit in the stream's open unit plus free units. */
function hasRoomFor(st: FtlState, victim: number, s: Stream, pool: number): boolean {
  const valid = st.unitValid[victim]!;
  const room = streamRoom(st, s, pool);
  return !(valid > room && (st.freeCount[pool] === 0 || valid > room + freeCapacity(st, pool)));
}

export function beginVictim(st: FtlState, victim: number): void {
  if (st.greedy && st.unitState[victim] === BLOCK_FULL) bucketRemove(st, victim, st.unitValid[victim]!);
  st.unitState[victim] = BLOCK_VICTIM;
  const m = memberCount(st);
  for (let k = 0; k < m; k++) {
    const b = memberBlock(st, victim, k);
    if (st.blockState[b] !== BLOCK_BAD) st.blockState[b] = BLOCK_VICTIM;
  }
  st.lastVictimUnit = victim;
}

/** Moves every valid page of a victim unit into stream `s`, finding them by the configured method. */
export function relocateUnit(st: FtlState, victim: number, s: Stream, pool: number): number {
  let moved = 0;
  const m = memberCount(st);
  for (let k = 0; k < m; k++) {
    const b = memberBlock(st, victim, k);
    if (st.blockState[b] === BLOCK_BAD) continue;
    moved += relocateBlock(st, b, s, pool);
  }
  return moved;
}

export function relocateBlock(st: FtlState, b: number, s: Stream, pool: number): number {
  const first = b * st.pagesPerBlock;
  const written = Math.min(st.writePointer[b]!, st.dataPages);
  const method = st.options.validityMethod;
  let moved = 0;
  // The copyback runs update L2P without telling a cached mapping table: with one, page by page.
  if (method === 'bitmap' && st.fastMeta && st.cmt === null) return relocateBlockFast(st, b, s, pool);
  if (method === 'bitmap') {
    // Walk the set bits of the VPBM a word at a time (re-read after each move, which clears
    // the moved page's bit): the same pages in the same order as testing every page.
    const bits = st.validBits;
    for (let i = 0; i < written; ) {
      const ppa = first + i;
      const word = bits[ppa >>> 5]! >>> (ppa & 31);
      if (word === 0) {
        i += 32 - (ppa & 31);
        continue;
      }
      i += 31 - Math.clz32(word & -word); // trailing zeros: the next valid page
      if (i >= written) break;
      moved += relocatePage(st, first + i, s, pool, true);
      i++;
    }
    return moved;
  }
  if (method === 'p2l' && st.writePointer[b]! === st.pagesPerBlock) {
    // Load the block's P2L summary (one page read), then check each LBA against L2P.
    const summary = st.summaryReadBuffer;
    st.device.readPage(first + st.pagesPerBlock - 1, st.withData ? summary : undefined, st.readSpare);
    st.counterValues.gcPageReads++;
    const fromFlash = st.withData && decodeSpare(st.readSpare, st.metaOffset, summary, st.meta).valid;
    for (let i = 0; i < written; i++) {
      const ppa = first + i;
      const entry = ~st.p2l[ppa]!; // tables hold ~entry (abi.ts)
      if (entry <= P2L_TRANSLATION_BASE) {
        // A translation page (the summary has no code for it): valid while the VPBM says so.
        if (isValid(st, ppa)) moved += relocatePage(st, ppa, s, pool, true);
        continue;
      }
      // The summary on flash is authoritative; a metadata-only device keeps no data bytes, so the
      // same table is taken from RAM (the read above is still charged).
      const raw = fromFlash ? readU32(summary, 4 * i) : entry >= 0 ? entry : entry === P2L_TRIM ? 0xfffffffe : 0xffffffff;
      if (raw === 0xffffffff) continue;
      const valid = raw === 0xfffffffe ? isValid(st, ppa) : raw < st.userPages && ~st.l2p[raw]! === ppa;
      if (valid) moved += relocatePage(st, ppa, s, pool, true);
    }
    return moved;
  }
  // scan: read every programmed page's spare, keep it when the map still points at it.
  for (let i = 0; i < written; i++) {
    const ppa = first + i;
    const data = st.withData ? st.pageBuffer : undefined;
    const r = st.device.readPage(ppa, data, st.readSpare);
    st.counterValues.gcPageReads++;
    if (r.erased) continue;
    const meta = decodeSpare(st.readSpare, st.metaOffset, st.withData ? st.pageBuffer : null, st.meta);
    let valid = false;
    if (meta.valid && meta.kind === KIND_DATA) valid = meta.lba < st.userPages && ~st.l2p[meta.lba]! === ppa;
    else if (meta.valid && (meta.kind === KIND_TRIM || meta.kind === KIND_TRANSLATION)) valid = isValid(st, ppa);
    else valid = isValid(st, ppa); // a page whose spare reads wrong: fall back to the bitmap
    if (valid) moved += relocatePage(st, ppa, s, pool, false);
  }
  return moved;
}

/**
 * The bitmap method on the metadata fast path. Lists the victim's valid pages from its VPBM
 * words (x & −x isolates the lowest set bit, Math.clz32 gives its index), then moves them in
 * page order: runs of data pages that fit in the stream's open block go to the device as one
 * copybackRun, with their L2P/P2L/VPBM updates in one loop and the VPC, pool and unit counts
 * changed once per run (the victim's once per block; nothing reads them while it is being
 * emptied); a run that fills the block closes it. Everything else (TRIM records, no open block,
 * superblock striping, an armed fault) takes the one-page path. The pages, their order,
 * sequence numbers and the device operations are those of moving them one by one.
 */
export function relocateBlockFast(st: FtlState, b: number, s: Stream, pool: number): number {
  const ppb = st.pagesPerBlock;
  const first = b * ppb;
  const end = first + Math.min(st.writePointer[b]!, st.dataPages);
  const bits = st.validBits;
  const p2l = st.p2l;
  const l2p = st.l2p;
  const list = st.moveSources;
  let n = 0;
  for (let w = first >>> 5; w << 5 < end; w++) {
    const base = w << 5;
    // This block's part of the word (a block may share a word with its neighbours).
    let x = bits[w]!;
    if (base < first) x &= -1 << (first - base);
    if (end - base < 32) x &= (1 << (end - base)) - 1;
    while (x !== 0) {
      const low = x & -x;
      x ^= low;
      list[n++] = base + 31 - Math.clz32(low);
    }
  }
  let moved = 0;
  let dataMoved = 0;
  const words = st.moveWords;
  const w0 = st.dataWord0;
  for (let i = 0; i < n; ) {
    const ppa = list[i]!;
    if ((bits[ppa >>> 5]! & (1 << (ppa & 31))) === 0) {
      i++;
      continue;
    }
    const lba = p2lAt(st, ppa);
    if (lba < 0) {
      // A TRIM record: the general move (reads its spare, may drop it); keeps its own VPC.
      moved += relocatePage(st, ppa, s, pool, true);
      i++;
      continue;
    }
    const open = st.blockMode === true ? s.slot[pool]! : -1;
    // Room in the stream's open block (block mode; relocateBlockFast runs only without P2L summaries).
    const room = open >= 0 && st.unitState[open] !== BLOCK_FULL ? st.dataPages - st.writePointer[open]! : 0;
    const target = open >= 0 ? open * ppb + st.writePointer[open]! : -1;
    // A copybackRun of no pages asks the device whether runs may go now (nothing armed, power
    // on); then one loop builds the run's spare words and makes its table updates.
    if (room === 0 || !st.device.copybackRun!(list, i, 0, target, words)) {
      // One page: the read and program as relocatePage issues them.
      const to = placeMoved(st, s, pool, ppa, lba);
      bits[ppa >>> 5] = bits[ppa >>> 5]! & ~(1 << (ppa & 31));
      l2p[lba] = ~to;
      setValid(st, to);
      dataMoved++;
      i++;
      continue;
    }
    let k = 0;
    const sequence = st.nextSequence;
    while (k < room && i + k < n) {
      const source = list[i + k]!;
      const runLba = p2lAt(st, source);
      const sourceWord = bits[source >>> 5]!;
      const sourceBit = 1 << (source & 31);
      if (runLba < 0 || (sourceWord & sourceBit) === 0) break;
      const w2 = (sequence + k) | 0;
      const at = k << 2;
      words[at] = w0;
      words[at + 1] = runLba;
      words[at + 2] = w2;
      words[at + 3] = crc32Words3Int32(w0, runLba, w2);
      const to = target + k;
      p2l[to] = ~runLba;
      l2p[runLba] = ~to;
      bits[source >>> 5] = sourceWord & ~sourceBit;
      bits[to >>> 5] = bits[to >>> 5]! | (1 << (to & 31));
      k++;
    }
    // The device said yes above and nothing has run since, and the FTL's sources are in range.
    if (!st.device.copybackRun!(list, i, k, target, words)) throw new Error('copybackRun declined a run it had accepted');
    st.nextSequence = sequence + k;
    st.writePointer[open]! += k;
    // The run's sequence numbers ascend: its first is the block's minimum candidate.
    if (sequence < st.blockMinSeq[open]!) st.blockMinSeq[open] = sequence;
    // A run needs an open block of the stream on this die: block mode, where unitValid is blockValid.
    st.blockValid[open]! += k;
    st.poolValid[st.dieOfBlock[open]!]! += k;
    st.counterValues.gcPageReads += k;
    dataMoved += k;
    i += k;
    // The run filled the block: close it as place() does after its last page. (The one-by-one
    // path closes it before marking that last copy valid; the unit then ends at the head of
    // the same greedy list either way, and no other list changes.)
    if (st.writePointer[open]! >= st.dataPages) afterProgram(st, s, open);
  }
  if (dataMoved > 0) {
    st.blockValid[b]! -= dataMoved;
    st.poolValid[st.dieOfBlock[b]!]! -= dataMoved;
    if (st.blockMode !== true) st.unitValid[st.unitOfBlockTable[b]!]! -= dataMoved;
  }
  return moved + dataMoved;
}

/**
 * Moves one valid page to stream `s`. `readIt`: the page still has to be read (otherwise the
 * scan just read it into pageBuffer/readSpare). Returns 1 when a page was programmed.
 */
export function relocatePage(st: FtlState, ppa: number, s: Stream, pool: number, readIt: boolean, buffer = st.pageBuffer): number {
  const data = st.withData ? buffer : null;
  const p2l = p2lAt(st, ppa);
  if (readIt) {
    // The LBA of a data page is known from the P2L/VPBM tables; the read fetches the payload
    // (and is charged to the clock even when a metadata-only device has none to return).
    if (data !== null || p2l === P2L_TRIM) st.device.readPage(ppa, data ?? undefined, st.readSpare);
    else st.device.readPage(ppa);
    st.counterValues.gcPageReads++;
  }
  if (p2l === P2L_TRIM) {
    const meta = decodeSpare(st.readSpare, st.metaOffset, data, st.meta);
    const b = (ppa / st.pagesPerBlock) | 0;
    if (!meta.valid || trimObsolete(st, meta.sequence, b)) {
      setInvalid(st, ppa);
      return 0;
    }
    const lba = meta.lba;
    const count = meta.count;
    const seq = meta.sequence;
    const to = place(st, s, pool, KIND_TRIM, lba, seq, count, data);
    setInvalid(st, ppa);
    setValid(st, to);
    st.counterValues.metadataPagePrograms++;
    return 1;
  }
  if (p2l <= P2L_TRANSLATION_BASE) {
    // A translation page of the cached mapping table: moved as it is, the GTD follows it.
    const tvpn = P2L_TRANSLATION_BASE - p2l;
    const to = place(st, s, pool, KIND_TRANSLATION, tvpn, FRESH_SEQUENCE, 1, data);
    setInvalid(st, ppa);
    setValid(st, to);
    st.cmt!.gtd[tvpn] = to;
    return 1;
  }
  // Data: a fresh sequence number (the copy is the newest version of its LBA).
  const to = place(st, s, pool, KIND_DATA, p2l, FRESH_SEQUENCE, 1, data);
  setInvalid(st, ppa);
  st.l2p[p2l] = ~to;
  setValid(st, to);
  if (st.cmt !== null) st.cmt.mappingChanged(p2l);
  return 1;
}

/**
 * A TRIM record with sequence t is needed while some block other than its own may still hold an
 * older copy of a trimmed LBA: any unerased block whose first data page is older than t.
 */
export function trimObsolete(st: FtlState, sequence: number, ownBlock: number): boolean {
  for (let b = 0; b < st.totalBlocks; b++) {
    if (b === ownBlock) continue;
    const state = st.blockState[b];
    if ((state === BLOCK_OPEN || state === BLOCK_FULL || state === BLOCK_VICTIM) && st.blockMinSeq[b]! < sequence) return false;
  }
  return true;
}

/** Erases every good member of a victim and returns the unit to its free pool (failures retire). */
export function eraseUnit(st: FtlState, u: number, allowWearLeveling = true): void {
  const m = memberCount(st);
  for (let k = 0; k < m; k++) {
    const b = memberBlock(st, u, k);
    if (st.blockState[b] === BLOCK_BAD) continue;
    try {
      st.device.eraseBlock(b);
      st.counterValues.erases++;
    } catch (e) {
      if (!isNandError(e, 'ERASE_FAILED')) throw e;
      st.counterValues.eraseFailures++;
      markBlockBad(st, b);
    }
    resetBlock(st, b);
  }
  st.unitValid[u] = 0;
  const capacity = goodMembers(st, u) * st.dataPages;
  if (capacity !== st.unitCapacity[u]) {
    st.unitCapacity[u] = capacity;
    updatePoolCapacity(st, poolOfUnit(st, u));
  }
  if (capacity === 0) st.unitState[u] = BLOCK_BAD;
  else freeUnit(st, u);
  if (allowWearLeveling && st.options.staticWearLeveling && wearCheckDue(st)) staticWearLevel(st);
}

/** Counts one erase towards static wear leveling; true (and the count restarts) every max(16, units/4) erases. */
export function wearCheckDue(st: FtlState): boolean {
  if (++st.erasesSinceWearCheck < Math.max(16, st.unitCount >> 2)) return false;
  st.erasesSinceWearCheck = 0;
  return true;
}

/**
 * No free unit for a stream: the seed's collection. Read the victim's valid pages into the
 * controller's RAM, erase it, and program them back into it; it becomes the stream's open
 * unit. (Not power-safe: a cut between erase and rewrite loses the buffered pages. Only
 * reached when OP is a single unit, or GC fell behind.)
 */
export function collectInPlace(st: FtlState, s: Stream, pool: number): void {
  let victim = selectVictim(st, pool);
  if (victim < 0 || st.unitValid[victim]! >= st.unitCapacity[victim]!) victim = leastValidUnit(st, pool);
  if (victim < 0) {
    throw new SsdError('NO_SPACE', 'no free block and no block with invalid pages to collect');
  }
  beginVictim(st, victim);
  const lbas: number[] = [];
  const payloads: Uint8Array[] = [];
  const trims: number[] = [];
  const translations: number[] = [];
  const m = memberCount(st);
  for (let k = 0; k < m; k++) {
    const b = memberBlock(st, victim, k);
    if (st.blockState[b] === BLOCK_BAD) continue;
    const first = b * st.pagesPerBlock;
    const written = Math.min(st.writePointer[b]!, st.dataPages);
    for (let i = 0; i < written; i++) {
      const ppa = first + i;
      if (!isValid(st, ppa)) continue;
      const data = st.withData ? new Uint8Array(st.geometry.pageSize) : undefined;
      st.device.readPage(ppa, data, st.readSpare);
      st.counterValues.gcPageReads++;
      const entry = p2lAt(st, ppa);
      if (entry === P2L_TRIM) {
        const meta = decodeSpare(st.readSpare, st.metaOffset, data ?? null, st.meta);
        if (meta.valid) trims.push(meta.lba, meta.count, meta.sequence);
      } else if (entry <= P2L_TRANSLATION_BASE) {
        translations.push(P2L_TRANSLATION_BASE - entry);
      } else {
        lbas.push(entry);
        if (data) payloads.push(data);
      }
      setInvalid(st, ppa);
    }
  }
  for (let i = 0; i < lbas.length; i++) st.l2p[lbas[i]!] = ~-1;
  eraseUnit(st, victim, false);
  // eraseUnit returned it to the pool; take it straight back as this stream's unit.
  if (st.unitState[victim] === BLOCK_FREE) {
    const base = pool * st.unitsPerPool;
    for (let i = 0; i < st.heapSize[pool]!; i++) {
      if (st.heap[base + i] === victim) {
        heapRemoveAt(st, pool, i);
        break;
      }
    }
    st.unitState[victim] = BLOCK_OPEN;
    for (let k = 0; k < m; k++) {
      const b = memberBlock(st, victim, k);
      if (st.blockState[b] === BLOCK_BAD) continue;
      st.blockState[b] = BLOCK_OPEN;
      s.slot[st.blockMode ? pool : k] = b;
    }
    if (!st.blockMode) s.unit = victim;
  }
  st.counterValues.inPlaceGcRuns++;
  st.relocations++;
  st.counterValues.gcRuns++;
  for (let i = 0; i < trims.length; i += 3) {
    const to = place(st, s, pool, KIND_TRIM, trims[i]!, trims[i + 2]!, trims[i + 1]!, st.withData ? st.zeroPage : null);
    setValid(st, to);
    st.counterValues.metadataPagePrograms++;
  }
  for (const tvpn of translations) {
    const to = place(st, s, pool, KIND_TRANSLATION, tvpn, FRESH_SEQUENCE, 1, st.withData ? st.zeroPage : null);
    setValid(st, to);
    st.cmt!.gtd[tvpn] = to;
    st.counterValues.gcMovedPages++;
  }
  for (let i = 0; i < lbas.length; i++) {
    const to = place(st, s, pool, KIND_DATA, lbas[i]!, FRESH_SEQUENCE, 1, st.withData ? payloads[i]! : null);
    st.l2p[lbas[i]!] = ~to;
    setValid(st, to);
    st.counterValues.gcMovedPages++;
    if (st.cmt !== null) st.cmt.mappingChanged(lbas[i]!);
  }
}
