// AssemblyScript source of the FTL's WebAssembly kernel (compiled by scripts/build-kernels.ts into
// src/ftl-kernel-wasm.ts; not part of the TypeScript program).
//
// write() is Ftl.write for the common case of the metadata fast path: block mode, greedy GC, the
// bitmap validity method, no P2L summaries, no static wear leveling, nothing armed on the device.
// It covers the die choice, foreground GC (greedy victim, the relocation of its valid pages in
// copyback runs, the erase, the free-pool heap) and the host page, with the same decisions, page
// order, sequence numbers and device operations as ftl.ts (nextHostDie, foregroundGc, collect,
// relocateBlockFast, placeMoved, place, eraseUnit, freeUnit, write).
//
// It works on the FTL's tables, which Ftl appends to the NAND device's shared table memory and
// also reads and writes as typed arrays, and drives the device through nand's own kernel source
// (kernel/metadata-device.ts, compiled into this module): nothing is copied between the two, and
// the device's rules stay nand's. Whenever something needs ftl.ts (a TRIM record in a victim, a die
// that must collect in place, a stream with no free unit), write() returns before changing
// anything, or after complete GC units with the die it chose, and ftl.ts goes on from there.
//
// Addresses are byte offsets into the memory; every table is aligned to its element size.

import { copybackRun, eraseCount, erase, erasesReady, program, programsReady, read, readsReady } from '../../nand/kernel/metadata-device';

@external("ftl", "l2p") declare const l2p: usize;
@external("ftl", "p2l") declare const p2l: usize;
@external("ftl", "validBits") declare const validBits: usize;
@external("ftl", "blockValid") declare const blockValid: usize;
@external("ftl", "poolValid") declare const poolValid: usize;
@external("ftl", "unitState") declare const unitState: usize;
@external("ftl", "blockState") declare const blockState: usize;
@external("ftl", "writePointer") declare const writePointer: usize;
@external("ftl", "blockMinSeq") declare const blockMinSeq: usize;
@external("ftl", "unitStamp") declare const unitStamp: usize;
@external("ftl", "bucketHead") declare const bucketHead: usize;
@external("ftl", "bucketNext") declare const bucketNext: usize;
@external("ftl", "bucketPrev") declare const bucketPrev: usize;
@external("ftl", "bucketMin") declare const bucketMin: usize;
@external("ftl", "dieOfBlock") declare const dieOfBlock: usize;
@external("ftl", "hostSlot") declare const hostSlot: usize;
@external("ftl", "gcSlot") declare const gcSlot: usize;
@external("ftl", "moveSources") declare const moveSources: usize;
@external("ftl", "moveWords") declare const moveWords: usize;
@external("ftl", "crcSlice") declare const crcSlice: usize;
@external("ftl", "unitCapacity") declare const unitCapacity: usize;
@external("ftl", "freeCount") declare const freeCount: usize;
@external("ftl", "poolCapacity") declare const poolCapacity: usize;
@external("ftl", "heap") declare const heap: usize;
@external("ftl", "heapKey") declare const heapKey: usize;
@external("ftl", "heapSize") declare const heapSize: usize;
@external("ftl", "dieOrder") declare const dieOrder: usize;
/** f64 cells: [0] next sequence number, [1] insertion stamp. */
@external("ftl", "scalarCells") declare const scalarCells: usize;
/** i32 cells: [0] host cursor, [1] last victim unit. */
@external("ftl", "stateCells") declare const stateCells: usize;
/** f64 counter cells, folded into Ftl.counters: host page writes, GC runs, GC moved pages, GC page reads, erases. */
@external("ftl", "counterCells") declare const counterCells: usize;
@external("ftl", "pageShift") declare const pageShift: i32;
@external("ftl", "pagesPerBlock") declare const pagesPerBlock: i32;
/** log2(blocks per die) when it is a power of two, else −1 (then dieOfBlock is looked up). */
@external("ftl", "dieShift") declare const dieShift: i32;
@external("ftl", "dataPages") declare const dataPages: i32;
@external("ftl", "bucketWidth") declare const bucketWidth: i32;
@external("ftl", "dies") declare const dies: i32;
@external("ftl", "unitsPerPool") declare const unitsPerPool: i32;
@external("ftl", "gcThreshold") declare const gcThreshold: i32;
@external("ftl", "hostReserve") declare const hostReserve: i32;
@external("ftl", "dynamicWearLeveling") declare const dynamicWearLeveling: i32;
@external("ftl", "dataWord0") declare const dataWord0: i32;
// shift4(shift4(shift4(~dataWord0))): the CRC term of the constant first spare word (see crc32.ts).
@external("ftl", "firstTerm") declare const firstTerm: i32;

const BLOCK_FREE: u8 = 0;
const BLOCK_OPEN: u8 = 1;
const BLOCK_FULL: u8 = 2;
const BLOCK_VICTIM: u8 = 3;
const BLOCK_BAD: u8 = 4;
const P2L_NONE: i32 = -1;

// ------------------------------------------------------------------ CRC-32 of the spare words

/**
 * The byte offset of byte `shift / 8` of x in a slicing table. Table k starts at byte k · 1024 of
 * crcSlice; that start goes in the load's constant offset, so each lookup is one address add.
 */
@inline function byteIndex(x: u32, shift: u32): usize {
  return <usize>((x >> shift) & 0xff) << 2;
}

/** shift8(w1): the second spare word's term (slicing-by-8's upper four tables, 7 to 4). */
@inline function lbaTerm(table: usize, w1: u32): u32 {
  return load<u32>(table + byteIndex(w1, 0), 7 << 10) ^ load<u32>(table + byteIndex(w1, 8), 6 << 10) ^
    load<u32>(table + byteIndex(w1, 16), 5 << 10) ^ load<u32>(table + byteIndex(w1, 24), 4 << 10);
}

/** shift4(w2): the third spare word's term (the lower four tables, 3 to 0). */
@inline function shift4(table: usize, w2: u32): u32 {
  return load<u32>(table + byteIndex(w2, 0), 3 << 10) ^ load<u32>(table + byteIndex(w2, 8), 2 << 10) ^
    load<u32>(table + byteIndex(w2, 16), 1 << 10) ^ load<u32>(table + byteIndex(w2, 24));
}

/**
 * The step from shift4(s) to shift4(s + 1) (crc32.ts SEQUENCE_STEP, stored after the slicing
 * tables): s ^ (s + 1) = 2^(j+1) − 1 with j = the trailing one bits of s, and shift4 is linear.
 * j is taken as 31 − clz(s ^ (s + 1)), not ctz(~s): at the wrap (s = 2^32 − 1) that is step 31
 * (the mask 2^32 − 1), where ctz(~s) would be 32, past the table.
 */
@inline function sequenceStep(table: usize, s: u32): u32 {
  return load<u32>(table + (<usize>(31 - clz(s ^ (s + 1))) << 2), 8 << 10);
}

// The sequence word hashed last and its shift4: every page takes the next sequence number, so the
// next page's term is nearly always one step (one lookup) from this one instead of four lookups.
// shift4(0) = 0 (a CRC table maps byte 0 to 0), so the pair starts valid.
let lastSequenceWord: u32 = 0;
let lastSequenceTerm: u32 = 0;

/** shift4(w2), stepped from the last sequence word when w2 follows it. */
@inline function sequenceTerm(table: usize, w2: u32): u32 {
  const previous = lastSequenceWord;
  const term = w2 == previous + 1 ? lastSequenceTerm ^ sequenceStep(table, previous) : w2 == previous ? lastSequenceTerm : shift4(table, w2);
  lastSequenceWord = w2;
  lastSequenceTerm = term;
  return term;
}

/**
 * CRC-32 of the 12 little-endian bytes of (dataWord0, w1, w2), as crc32Words3Int32 computes it:
 * by linearity ~(shift4(shift4(shift4(~w0))) ^ shift8(w1) ^ shift4(w2)).
 */
@inline function spareCrc(w1: u32, w2: u32): i32 {
  const table = crcSlice;
  return ~(firstTerm ^ <i32>lbaTerm(table, w1) ^ <i32>sequenceTerm(table, w2));
}

// ------------------------------------------------------------------ table accessors

@inline function i32At(table: usize, index: i32): i32 {
  return load<i32>(table + (<usize>index << 2));
}
@inline function setI32(table: usize, index: i32, value: i32): void {
  store<i32>(table + (<usize>index << 2), value);
}
/** The die (block mode: the pool) of a block: a shift where it can be, saving a table access (often a cache miss). */
@inline function dieOf(b: i32): i32 {
  return dieShift >= 0 ? b >>> dieShift : i32At(dieOfBlock, b);
}
@inline function blockOf(ppa: i32): i32 {
  return pageShift >= 0 ? ppa >>> pageShift : ppa / pagesPerBlock;
}

// ------------------------------------------------------------------ greedy buckets (ftl.ts bucketMove / bucketInsert)

// Mirrors: packages/ssd/src/ftl/victim.ts#bucketMove kernel:1b031630 source:84eadf34
function bucketMove(u: i32, pool: i32, from: i32, to: i32): void {
  const base = pool * bucketWidth;
  const after = i32At(bucketNext, u);
  const before = i32At(bucketPrev, u);
  if (before >= 0) setI32(bucketNext, before, after);
  else setI32(bucketHead, base + from, after);
  if (after >= 0) setI32(bucketPrev, after, before);
  const head = i32At(bucketHead, base + to);
  setI32(bucketNext, u, head);
  setI32(bucketPrev, u, -1);
  if (head >= 0) setI32(bucketPrev, head, u);
  setI32(bucketHead, base + to, u);
  if (to < i32At(bucketMin, pool)) setI32(bucketMin, pool, to);
}

// Mirrors: packages/ssd/src/ftl/victim.ts#bucketInsert kernel:cecad895 source:57d98909
function bucketInsert(u: i32, pool: i32): void {
  const v = i32At(blockValid, u);
  const h = pool * bucketWidth + v;
  const head = i32At(bucketHead, h);
  setI32(bucketNext, u, head);
  setI32(bucketPrev, u, -1);
  if (head >= 0) setI32(bucketPrev, head, u);
  setI32(bucketHead, h, u);
  if (v < i32At(bucketMin, pool)) setI32(bucketMin, pool, v);
}

// ------------------------------------------------------------------ valid-page bookkeeping (block mode)

// Mirrors: packages/ssd/src/ftl/block-manager.ts#setValid kernel:9b5d3a35 source:7e7991bf
function setValid(ppa: i32): void {
  const w = validBits + (<usize>(ppa >>> 5) << 2);
  store<u32>(w, load<u32>(w) | (1 << (ppa & 31)));
  const b = blockOf(ppa);
  const die = dieOf(b);
  setI32(poolValid, die, i32At(poolValid, die) + 1);
  const v = i32At(blockValid, b);
  setI32(blockValid, b, v + 1);
  if (load<u8>(unitState + <usize>b) == BLOCK_FULL) bucketMove(b, die, v, v + 1);
}

// Mirrors: packages/ssd/src/ftl/block-manager.ts#setInvalid kernel:e21c7361 source:8eca62ad
function setInvalid(ppa: i32): void {
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

/**
 * Lists the valid pages of [first, end) from the VPBM into moveSources (x & −x isolates the
 * lowest set bit, clz its index). Returns how many, or −1 at a valid page that holds no host data
 * (a TRIM record: collect() leaves such a victim to ftl.ts).
 */
function listValid(first: i32, end: i32): i32 {
  const sources = moveSources;
  const p2lTable = p2l;
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
      if (i32At(p2lTable, page) < 0) return -1;
      setI32(sources, n++, page);
    }
  }
  return n;
}

/**
 * One GC run: the data pages moveSources[i …] (up to `room` of them) get their spare words in
 * moveWords (sequence numbers from the next one up, which then moves past them), P2L/L2P at
 * `target` + k and the targets' VPBM bits. Every listed page is still a valid data page: collect()
 * listed them from the VPBM and checked their P2L, and nothing else runs during a collection. The
 * sources' VPBM bits stay set until eraseVictim clears the whole victim's at once. Returns the
 * number of pages in the run; the caller issues the device's copybackRun and the per-run counts.
 */
function moveRun(i: i32, n: i32, target: i32, room: i32): i32 {
  const sequenceNumber = load<f64>(scalarCells);
  // Short names for the tables and constants of the loop.
  const sources = moveSources + (<usize>i << 2);
  const words = moveWords;
  const p2lTable = p2l;
  const l2pTable = l2p;
  const table = crcSlice;
  const w0 = dataWord0;
  const fixedTerm = firstTerm;
  const count = min(room, n - i);
  let w2 = <u32>(<i64>sequenceNumber);
  let term = sequenceTerm(table, w2);
  for (let k = 0; k < count; k++) {
    const lba = i32At(p2lTable, load<i32>(sources + (<usize>k << 2)));
    const at = words + (<usize>k << 4);
    store<i32>(at, w0);
    store<i32>(at, lba, 4);
    store<u32>(at, w2, 8);
    store<i32>(at, ~(fixedTerm ^ <i32>lbaTerm(table, <u32>lba) ^ <i32>term), 12);
    // The run's sequence numbers are consecutive: each page's term is one step from the last.
    term ^= sequenceStep(table, w2);
    w2++;
    const to = target + k;
    setI32(p2lTable, to, lba);
    setI32(l2pTable, lba, to);
  }
  lastSequenceWord = w2;
  lastSequenceTerm = term;
  setValidRange(target, target + count);
  store<f64>(scalarCells, sequenceNumber + <f64>count);
  return count;
}

/** Sets the VPBM bits of pages [first, end) a word at a time (a run's targets). */
function setValidRange(first: i32, end: i32): void {
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

// Mirrors: packages/ssd/src/ftl/victim.ts#bucketRemove kernel:0b70611d source:fa675e7c
function bucketRemove(u: i32, pool: i32, v: i32): void {
  const next = i32At(bucketNext, u);
  const prev = i32At(bucketPrev, u);
  if (prev >= 0) setI32(bucketNext, prev, next);
  else setI32(bucketHead, pool * bucketWidth + v, next);
  if (next >= 0) setI32(bucketPrev, next, prev);
}

@inline function bump(cell: i32, by: f64): void {
  const at = counterCells + (<usize>cell << 3);
  store<f64>(at, load<f64>(at) + by);
}

/** Takes the next sequence number (Ftl.nextSequence++). */
@inline function nextSequence(): f64 {
  const sequence = load<f64>(scalarCells);
  store<f64>(scalarCells, sequence + 1);
  return sequence;
}

/** A device status other than 0 here is a broken invariant (the readiness flags were checked). */
@inline function must(status: i32): void {
  if (status != 0) unreachable();
}

// ------------------------------------------------------------------ victims and free units (ftl.ts selectVictim … freeUnit)

/** Greedy: the head of the lowest non-empty valid-count list (bucketMin moves up to it). */
// Mirrors: packages/ssd/src/ftl/victim.ts#selectVictim kernel:d7b56d28 source:d9e8a8e2
function selectVictim(pool: i32): i32 {
  const base = pool * bucketWidth;
  for (let v = i32At(bucketMin, pool); v < bucketWidth; v++) {
    const u = i32At(bucketHead, base + v);
    if (u >= 0) {
      setI32(bucketMin, pool, v);
      return u;
    }
  }
  setI32(bucketMin, pool, bucketWidth);
  return -1;
}

// Mirrors: packages/ssd/src/ftl/victim.ts#leastValidUnit kernel:8a13e32a source:15a5c780
function leastValidUnit(pool: i32): i32 {
  const u = selectVictim(pool);
  return u >= 0 && i32At(blockValid, u) < i32At(unitCapacity, u) ? u : -1;
}

// Mirrors: packages/ssd/src/ftl/free-pool.ts#freeCapacity kernel:d405ff32 source:f384a3b7
function freeCapacity(pool: i32): i32 {
  const base = pool * unitsPerPool;
  let pages = 0;
  const size = i32At(heapSize, pool);
  for (let i = 0; i < size; i++) pages += i32At(unitCapacity, i32At(heap, base + i));
  return pages;
}

@inline function keyOf(u: i32): f64 {
  return load<f64>(heapKey + (<usize>u << 3));
}

// Mirrors: packages/ssd/src/ftl/free-pool.ts#siftUp kernel:0ce7d3ce source:0317b8c7
function siftUp(base: i32, i: i32, u: i32): void {
  const key = keyOf(u);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const pu = i32At(heap, base + parent);
    if (keyOf(pu) <= key) break;
    setI32(heap, base + i, pu);
    i = parent;
  }
  setI32(heap, base + i, u);
}

/** heapRemoveAt(pool, 0): the free unit with the smallest key. */
// Mirrors: packages/ssd/src/ftl/free-pool.ts#takeFreeUnit kernel:4ca3d8f3 source:ea61723d
function takeFreeUnit(pool: i32): i32 {
  const base = pool * unitsPerPool;
  const top = i32At(heap, base);
  const size = i32At(heapSize, pool) - 1;
  setI32(heapSize, pool, size);
  setI32(freeCount, pool, i32At(freeCount, pool) - 1);
  if (size == 0) return top;
  const last = i32At(heap, base + size);
  const lastKey = keyOf(last);
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) break;
    const r = l + 1;
    const c = r < size && keyOf(i32At(heap, base + r)) < keyOf(i32At(heap, base + l)) ? r : l;
    if (keyOf(i32At(heap, base + c)) >= lastKey) break;
    setI32(heap, base + i, i32At(heap, base + c));
    i = c;
  }
  siftUp(base, i, last);
  return top;
}

// Mirrors: packages/ssd/src/ftl/free-pool.ts#freeUnit kernel:5e259655 source:cc0e1d82
function freeUnit(u: i32, pool: i32): void {
  store<u8>(unitState + <usize>u, BLOCK_FREE);
  if (load<u8>(blockState + <usize>u) != BLOCK_BAD) store<u8>(blockState + <usize>u, BLOCK_FREE);
  let key: f64;
  if (dynamicWearLeveling != 0) {
    key = <f64>eraseCount(u);
  } else {
    key = load<f64>(scalarCells, 8);
    store<f64>(scalarCells, key + 1, 8);
  }
  store<f64>(heapKey + (<usize>u << 3), key);
  const size = i32At(heapSize, pool);
  setI32(heapSize, pool, size + 1);
  siftUp(pool * unitsPerPool, size, u);
  setI32(freeCount, pool, i32At(freeCount, pool) + 1);
}

/** openUnit in block mode: the stream's slot on `pool` gets the youngest free block (the caller checked freeCount). */
// Mirrors: packages/ssd/src/ftl/block-manager.ts#openUnit kernel:6ee86ab3 source:d43c02a3
function openUnit(slots: usize, pool: i32): i32 {
  const u = takeFreeUnit(pool);
  store<u8>(unitState + <usize>u, BLOCK_OPEN);
  setI32(blockValid, u, 0);
  store<u8>(blockState + <usize>u, BLOCK_OPEN);
  setI32(writePointer, u, 0);
  store<f64>(blockMinSeq + (<usize>u << 3), Infinity);
  setI32(slots, pool, u);
  return u;
}

/** afterProgram + closeUnit: block `b` of a stream used its last data page. */
// Mirrors: packages/ssd/src/ftl/block-manager.ts#closeUnit kernel:60b438bf source:b1bead1b
function closeBlock(slots: usize, b: i32): void {
  store<u8>(blockState + <usize>b, BLOCK_FULL);
  const die = dieOf(b);
  if (i32At(slots, die) == b) setI32(slots, die, -1);
  store<u8>(unitState + <usize>b, BLOCK_FULL);
  store<f64>(unitStamp + (<usize>b << 3), load<f64>(scalarCells));
  bucketInsert(b, die);
}

@inline function lowerMinSequence(b: i32, sequence: f64): void {
  const at = blockMinSeq + (<usize>b << 3);
  if (sequence < load<f64>(at)) store<f64>(at, sequence);
}

/** Programs data page `lba` with `sequence` at the next page of open block `b` (no close). */
@inline function programNext(b: i32, lba: i32, sequence: f64): i32 {
  const wp = i32At(writePointer, b);
  const ppa = b * pagesPerBlock + wp;
  setI32(writePointer, b, wp + 1);
  const w2 = <i32>(<i64>sequence);
  must(program(ppa, dataWord0, lba, w2, spareCrc(<u32>lba, <u32>w2)));
  setI32(p2l, ppa, lba);
  lowerMinSequence(b, sequence);
  return ppa;
}

// ------------------------------------------------------------------ GC (ftl.ts collect, relocateBlockFast, placeMoved, eraseUnit)

/** placeMoved for the GC stream with no room for a run: the read, then the page placed as place() does. */
// Mirrors: packages/ssd/src/ftl/block-manager.ts#placeMoved kernel:0d3b4216 source:e6a94fc9
function placeMoved(pool: i32, source: i32, lba: i32): i32 {
  let open = i32At(gcSlot, pool);
  if (open < 0 || i32At(writePointer, open) + 1 >= dataPages) {
    must(read(source));
    bump(3, 1);
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
  bump(3, 1);
  const sequence = nextSequence();
  must(read(source));
  return programNext(open, lba, sequence);
}

/**
 * relocateBlockFast for victim `b` whose valid pages (all data pages) are listed in
 * moveSources[0 … n): all n are moved. The victim's VPBM bits are left for eraseVictim.
 */
// Mirrors: packages/ssd/src/ftl/gc.ts#relocateBlockFast kernel:0ebe841a source:c7aecd08
function relocate(b: i32, pool: i32, n: i32): void {
  for (let i = 0; i < n; ) {
    const open = i32At(gcSlot, pool);
    const room = open >= 0 && load<u8>(unitState + <usize>open) != BLOCK_FULL ? dataPages - i32At(writePointer, open) : 0;
    if (room == 0) {
      const ppa = i32At(moveSources, i);
      const lba = i32At(p2l, ppa);
      const to = placeMoved(pool, ppa, lba);
      setI32(l2p, lba, to);
      setValid(to);
      i++;
      continue;
    }
    const wp = i32At(writePointer, open);
    const target = open * pagesPerBlock + wp;
    const sequence = load<f64>(scalarCells);
    const k = moveRun(i, n, target, room);
    must(copybackRun(b, target, k, moveWords));
    setI32(writePointer, open, wp + k);
    lowerMinSequence(open, sequence);
    setI32(blockValid, open, i32At(blockValid, open) + k);
    const die = dieOf(open);
    setI32(poolValid, die, i32At(poolValid, die) + k);
    bump(3, <f64>k);
    i += k;
    if (wp + k >= dataPages) closeBlock(gcSlot, open);
  }
  if (n > 0) {
    setI32(blockValid, b, i32At(blockValid, b) - n);
    const die = dieOf(b);
    setI32(poolValid, die, i32At(poolValid, die) - n);
  }
}

/** eraseUnit + resetBlock + freeUnit for a victim block (block mode). */
// Mirrors: packages/ssd/src/ftl/gc.ts#eraseUnit kernel:d9e26f5f source:babb04f9
function eraseVictim(u: i32, pool: i32): void {
  must(erase(u));
  bump(4, 1);
  const first = u * pagesPerBlock;
  memory.fill(p2l + (<usize>first << 2), <u8>P2L_NONE, <usize>pagesPerBlock << 2); // P2L_NONE = −1: every byte 0xff
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
  // The block erased fine, so its capacity is unchanged (retirements go through ftl.ts).
  freeUnit(u, pool);
}

/**
 * collect(pool, −1, gcStream): 1 when a unit was collected, 0 when collect() would return false,
 * −1 when this one needs ftl.ts (a TRIM record among the victim's valid pages; nothing changed).
 */
// Mirrors: packages/ssd/src/ftl/gc.ts#collect packages/ssd/src/ftl/gc.ts#foregroundGc kernel:0f2a955a source:522163d8
function collect(pool: i32): i32 {
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
  store<i32>(stateCells, victim, 4);
  relocate(victim, pool, n);
  bump(1, 1);
  bump(2, <f64>n);
  eraseVictim(victim, pool);
  return 1;
}

// ------------------------------------------------------------------ the host write (ftl.ts write, nextHostDie, placeHost)

/** nextHostDie's two passes; −1 where ftl.ts decides (a die that needs leastValidUnit's scan, or none). */
// Mirrors: packages/ssd/src/ftl/mapping.ts#nextHostDie kernel:cf8f0562 source:aa87f038
function nextHostDie(): i32 {
  let cursor = load<i32>(stateCells);
  for (let pass = 0; pass < 2; pass++) {
    for (let tries = 0; tries < dies; tries++) {
      const die = i32At(dieOrder, cursor);
      if (++cursor == dies) cursor = 0;
      if (pass == 0 && i32At(poolCapacity, die) - i32At(poolValid, die) < hostReserve) continue;
      if (i32At(hostSlot, die) >= 0 || i32At(freeCount, die) > 0 || leastValidUnit(die) >= 0) {
        store<i32>(stateCells, cursor);
        return die;
      }
    }
  }
  return -1;
}

/**
 * Writes host page `lba` (ftl.ts checked it). Returns the page written; −1 when ftl.ts must do the
 * whole write (nothing changed); −2 − die when ftl.ts must go on with die `die` (chosen, the host
 * cursor moved, and whole GC units may have run).
 */
// Mirrors: packages/ssd/src/ftl/mapping.ts#write packages/ssd/src/ftl/mapping.ts#writeAfterKernel packages/ssd/src/ftl/block-manager.ts#placeHost kernel:849aebef source:77217cba
export function write(lba: i32): i32 {
  if (programsReady() == 0 || erasesReady() == 0 || readsReady() == 0) return -1;
  // The old mapping is read first: a random L2P access that misses the cache overlaps the work
  // below. Only a collection can move the page in between; then it is read again.
  let old = i32At(l2p, lba);
  const die = nextHostDie();
  if (die < 0) return -1;
  let guard = unitsPerPool + 4;
  while (i32At(freeCount, die) < gcThreshold && guard-- > 0) {
    const collected = collect(die);
    if (collected == 0) break;
    if (collected < 0) return -2 - die;
    old = i32At(l2p, lba);
  }
  let open = i32At(hostSlot, die);
  if (open < 0) {
    if (i32At(freeCount, die) == 0) return -2 - die; // collect in place: ftl.ts
    open = openUnit(hostSlot, die);
  }
  const ppa = programNext(open, lba, nextSequence());
  const closing = i32At(writePointer, open) >= dataPages;
  if (closing) closeBlock(hostSlot, open);
  if (old >= 0) setInvalid(old);
  setI32(l2p, lba, ppa);
  if (closing) {
    setValid(ppa);
  } else {
    // setValid for a page of a block still open (on `die`): no greedy list to move it in.
    const w = validBits + (<usize>(ppa >>> 5) << 2);
    store<u32>(w, load<u32>(w) | (1 << (ppa & 31)));
    setI32(poolValid, die, i32At(poolValid, die) + 1);
    setI32(blockValid, open, i32At(blockValid, open) + 1);
  }
  bump(0, 1);
  return ppa;
}
