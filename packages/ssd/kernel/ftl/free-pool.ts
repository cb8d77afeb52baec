// The FTL kernel's free pools (AssemblyScript, part of the FTL kernel; see kernel/ftl/mapping.ts):
// the per-die min-heap of free blocks. Counterpart of src/ftl/free-pool.ts (MQSim:
// Flash_Block_Manager_Base's free block pool).

import { eraseCount } from '../../../nand/kernel/metadata-device';
import { BLOCK_BAD, BLOCK_FREE, SCALAR_INSERTION_STAMP } from '../../src/ftl/abi';
import { realBlock } from '../planes';
import { blockState, dieOfBlock, dies, dynamicWearLeveling, freeCount, heap, heapKey, heapSize, i32At, poolCapacity, scalarCells, setI32, unitCapacity, unitsPerPool, unitState } from './state';

// The device's block tables (nand's kernel/metadata-device.ts imports the same globals), by real block.
@external("device", "badBlocks") declare const deviceBadBlocks: usize;
@external("device", "eraseCounts") declare const deviceEraseCounts: usize;

/**
 * format() of a fresh device in block mode (src/ftl/free-pool.ts formatBlocks, then each pool's
 * updatePoolCapacity): every view block's state, capacity and unit state; each good one keyed —
 * its erase count with dynamic wear leveling, else the next insertion stamp — and pushed on its
 * die's heap in block order. Bad or good and the erase count are the real block's (kernel/planes.ts
 * realBlock: the plane view bound first). The TypeScript loop runs interpreted for most of its
 * 262,144 blocks at MQSim's default 512 GiB; here it is about a millisecond.
 */
// Mirrors: packages/ssd/src/ftl/free-pool.ts#formatBlocks packages/ssd/src/ftl/free-pool.ts#updatePoolCapacity kernel:c90da806 source:0ce2fd10
export function formatBlocks(units: i32, capacity: i32): void {
  for (let u = 0; u < units; u++) {
    const real = realBlock(u);
    if (load<u8>(deviceBadBlocks + <usize>real) != 0) {
      store<u8>(blockState + <usize>u, BLOCK_BAD);
      setI32(unitCapacity, u, 0);
      store<u8>(unitState + <usize>u, BLOCK_BAD);
      continue;
    }
    store<u8>(blockState + <usize>u, BLOCK_FREE);
    setI32(unitCapacity, u, capacity);
    store<u8>(unitState + <usize>u, BLOCK_FREE);
    store<f64>(heapKey + (<usize>u << 3), dynamicWearLeveling != 0 ? <f64>load<u32>(deviceEraseCounts + (<usize>real << 2)) : nextInsertionStamp());
    const pool = i32At(dieOfBlock, u);
    const size = i32At(heapSize, pool);
    setI32(heapSize, pool, size + 1);
    siftUp(pool * unitsPerPool, size, u);
    setI32(freeCount, pool, i32At(freeCount, pool) + 1);
  }
  for (let pool = 0; pool < dies; pool++) {
    let pages = 0;
    for (let u = pool * unitsPerPool; u < (pool + 1) * unitsPerPool; u++) pages += i32At(unitCapacity, u);
    setI32(poolCapacity, pool, pages);
  }
}

// Mirrors: packages/ssd/src/ftl/free-pool.ts#freeCapacity kernel:2742e6ec source:f384a3b7
export function freeCapacity(pool: i32): i32 {
  const base = pool * unitsPerPool;
  let pages = 0;
  const size = i32At(heapSize, pool);
  for (let i = 0; i < size; i++) pages += i32At(unitCapacity, i32At(heap, base + i));
  return pages;
}

@inline export function keyOf(u: i32): f64 {
  return load<f64>(heapKey + (<usize>u << 3));
}

// Mirrors: packages/ssd/src/ftl/free-pool.ts#siftUp kernel:18c7d910 source:0317b8c7
export function siftUp(base: i32, i: i32, u: i32): void {
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

// Mirrors: packages/ssd/src/ftl/free-pool.ts#heapRemoveAt kernel:f776a0ad source:54588166
export function heapRemoveAt(pool: i32, index: i32): i32 {
  const base = pool * unitsPerPool;
  const top = i32At(heap, base + index);
  const size = i32At(heapSize, pool) - 1;
  setI32(heapSize, pool, size);
  setI32(freeCount, pool, i32At(freeCount, pool) - 1);
  if (index == size) return top;
  const last = i32At(heap, base + size);
  const lastKey = keyOf(last);
  let i = index;
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

/** The youngest free block, or (cold data) the most worn. */
// Mirrors: packages/ssd/src/ftl/free-pool.ts#takeFreeUnit kernel:e65f6275 source:ea61723d
export function takeFreeUnit(pool: i32, preferOld: bool): i32 {
  if (!preferOld) return heapRemoveAt(pool, 0);
  const base = pool * unitsPerPool;
  let best = 0;
  let bestKey = -Infinity;
  const size = i32At(heapSize, pool);
  for (let i = 0; i < size; i++) {
    const k = keyOf(i32At(heap, base + i));
    if (k > bestKey) {
      bestKey = k;
      best = i;
    }
  }
  return heapRemoveAt(pool, best);
}

// Mirrors: packages/ssd/src/ftl/free-pool.ts#freeUnit kernel:a272cb5d source:cc0e1d82
export function freeUnit(u: i32, pool: i32): void {
  pushFreeUnit(u, pool, dynamicWearLeveling != 0 ? <f64>eraseCount(u) : nextInsertionStamp());
}

/** The insertion stamp a freed unit gets as its key without dynamic wear leveling; advanced. */
export function nextInsertionStamp(): f64 {
  const key = load<f64>(scalarCells, SCALAR_INSERTION_STAMP << 3);
  store<f64>(scalarCells, key + 1, SCALAR_INSERTION_STAMP << 3);
  return key;
}

/** freeUnit's common part (here and kernel/ftl/replay-gc.ts freeBlock): `u` marked free and pushed on `pool`'s heap under `key`. */
export function pushFreeUnit(u: i32, pool: i32, key: f64): void {
  store<u8>(unitState + <usize>u, BLOCK_FREE);
  if (load<u8>(blockState + <usize>u) != BLOCK_BAD) store<u8>(blockState + <usize>u, BLOCK_FREE);
  store<f64>(heapKey + (<usize>u << 3), key);
  const size = i32At(heapSize, pool);
  setI32(heapSize, pool, size + 1);
  siftUp(pool * unitsPerPool, size, u);
  setI32(freeCount, pool, i32At(freeCount, pool) + 1);
}
