// Free pools: one binary min-heap of free units per pool (a die in block mode, the device in
// superblock mode), keyed by insertion order or, with dynamic wear leveling, by erase count; the
// format of a fresh device; and the pools' good capacity.
// MQSim counterpart: Flash_Block_Manager_Base's Free_block_pool (a multimap keyed by erase count)
// and Get_a_free_block / Add_to_free_block_pool.
import { BLOCK_BAD, BLOCK_FREE } from './abi.ts';
import { bindKernelPlaneView, goodMembers, memberBlock, memberCount, poolOfUnit } from './state.ts';
import type { FtlState } from './state.ts';

/** A fresh device: every good block erased-state is trusted as free (factory-bad skipped). */
export function format(st: FtlState): void {
  if (st.blockMode) {
    formatBlocks(st);
    return;
  }
  for (let b = 0; b < st.totalBlocks; b++) {
    st.blockState[b] = st.device.isBad(b) ? BLOCK_BAD : BLOCK_FREE;
  }
  for (let u = 0; u < st.unitCount; u++) {
    st.unitCapacity[u] = goodMembers(st, u) * st.dataPages;
    if (st.unitCapacity[u] === 0) st.unitState[u] = BLOCK_BAD;
    else freeUnit(st, u);
  }
  for (let pool = 0; pool < st.poolCount; pool++) updatePoolCapacity(st, pool);
}

/**
 * format() in block mode (a unit is a block, its pool its die) in one pass over the blocks: the
 * same tables as the general loops (each block's state, capacity and unit state; each good one
 * keyed and pushed on its die's heap in block order), with the unit's member, erase key and pool
 * looked up inline. A cold start runs this loop interpreted for much of it (262,144 blocks at
 * 512 GiB), where the general loops' nine calls a block were most of the FTL's construction; so
 * where the tables are in the FTL's module's memory the module runs it (kernel/ftl/free-pool.ts
 * formatBlocks, the same tables; test/format.test.ts compares the two).
 */
function formatBlocks(st: FtlState): void {
  const kernel = st.moduleKernel;
  if (kernel !== null) {
    // The same loop in the FTL's module (kernel/ftl/free-pool.ts formatBlocks) over the same tables.
    bindKernelPlaneView(st, kernel);
    kernel.formatBlocks(st.unitCount, st.dataPages);
    return;
  }
  const device = st.device;
  const dynamic = st.options.dynamicWearLeveling;
  const { blockState, unitState, unitCapacity, heapKey, heapSize, freeCount, dieOfBlock } = st;
  const capacity = st.dataPages;
  const perPool = st.unitsPerPool;
  for (let u = 0; u < st.unitCount; u++) {
    if (device.isBad(u)) {
      blockState[u] = BLOCK_BAD;
      unitCapacity[u] = 0;
      unitState[u] = BLOCK_BAD;
      continue;
    }
    blockState[u] = BLOCK_FREE;
    unitCapacity[u] = capacity;
    unitState[u] = BLOCK_FREE;
    heapKey[u] = dynamic ? device.eraseCount(u) : st.insertionStamp++;
    const pool = dieOfBlock[u]!;
    siftUp(st, pool * perPool, heapSize[pool]!++, u);
    freeCount[pool]!++;
  }
  for (let pool = 0; pool < st.poolCount; pool++) updatePoolCapacity(st, pool);
}

export function unitEraseKey(st: FtlState, u: number): number {
  let sum = 0;
  const m = memberCount(st);
  for (let k = 0; k < m; k++) {
    const b = memberBlock(st, u, k);
    if (st.blockState[b] !== BLOCK_BAD) sum += st.device.eraseCount(b);
  }
  return sum;
}

export function freeUnit(st: FtlState, u: number): void {
  st.unitState[u] = BLOCK_FREE;
  const m = memberCount(st);
  for (let k = 0; k < m; k++) {
    const b = memberBlock(st, u, k);
    if (st.blockState[b] !== BLOCK_BAD) st.blockState[b] = BLOCK_FREE;
  }
  st.heapKey[u] = st.options.dynamicWearLeveling ? unitEraseKey(st, u) : st.insertionStamp++;
  const pool = poolOfUnit(st, u);
  siftUp(st, pool * st.unitsPerPool, st.heapSize[pool]!++, u);
  st.freeCount[pool]!++;
}

/** Places unit `u` at slot `i` of a pool's min-heap (at `base`), moving it up past larger keys. */
export function siftUp(st: FtlState, base: number, i: number, u: number): void {
  const heap = st.heap;
  const key = st.heapKey;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const pu = heap[base + parent]!;
    if (key[pu]! <= key[u]!) break;
    heap[base + i] = pu;
    i = parent;
  }
  heap[base + i] = u;
}

export function heapRemoveAt(st: FtlState, pool: number, index: number): number {
  const base = pool * st.unitsPerPool;
  const heap = st.heap;
  const key = st.heapKey;
  const top = heap[base + index]!;
  const size = --st.heapSize[pool]!;
  st.freeCount[pool]!--;
  if (index === size) return top;
  const last = heap[base + size]!;
  // Sift the last item down from `index` (then up, for a removal from the middle).
  let i = index;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) break;
    const r = l + 1;
    const c = r < size && key[heap[base + r]!]! < key[heap[base + l]!]! ? r : l;
    if (key[heap[base + c]!]! >= key[last]!) break;
    heap[base + i] = heap[base + c]!;
    i = c;
  }
  siftUp(st, base, i, last);
  return top;
}

/** Takes a free unit: the youngest (or oldest-freed) one, or the most worn for cold data. */
export function takeFreeUnit(st: FtlState, pool: number, preferOld: boolean): number {
  if (!preferOld) return heapRemoveAt(st, pool, 0);
  const base = pool * st.unitsPerPool;
  let best = 0;
  let bestKey = -Infinity;
  for (let i = 0; i < st.heapSize[pool]!; i++) {
    const k = st.heapKey[st.heap[base + i]!]!;
    if (k > bestKey) {
      bestKey = k;
      best = i;
    }
  }
  return heapRemoveAt(st, pool, best);
}

/** Recomputes the good data pages of a pool (after a block is retired). */
export function updatePoolCapacity(st: FtlState, pool: number): void {
  if (!st.blockMode) return;
  let pages = 0;
  for (let u = pool * st.blocksPerDie; u < (pool + 1) * st.blocksPerDie; u++) pages += st.unitCapacity[u]!;
  st.poolCapacity[pool] = pages;
}

/** Data pages in a pool's free units (units with retired members hold fewer). */
export function freeCapacity(st: FtlState, pool: number): number {
  const base = pool * st.unitsPerPool;
  let pages = 0;
  for (let i = 0; i < st.heapSize[pool]!; i++) pages += st.unitCapacity[st.heap[base + i]!]!;
  return pages;
}
