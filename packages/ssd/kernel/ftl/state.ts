// The FTL kernel's state (AssemblyScript, part of the FTL kernel; see kernel/ftl/mapping.ts): the
// addresses of the FTL's tables and its parameters, imported as "ftl" globals (their names are
// src/ftl/state.ts's KERNEL_TABLES and startKernel's parameters; the cells' indexes come from
// src/ftl/abi.ts), with the table accessors, counters and sequence numbers every file uses.
// Counterpart of src/ftl/state.ts (MQSim: the FTL's and Flash_Block_Manager_Base's bookkeeping).
//
// Addresses are byte offsets into the memory; every table is aligned to its element size.

import { SCALAR_NEXT_SEQUENCE } from '../../src/ftl/abi';

@external("ftl", "l2p") export declare const l2p: usize;
@external("ftl", "validBits") export declare const validBits: usize;
@external("ftl", "blockValid") export declare const blockValid: usize;
@external("ftl", "poolValid") export declare const poolValid: usize;
@external("ftl", "unitState") export declare const unitState: usize;
@external("ftl", "blockState") export declare const blockState: usize;
@external("ftl", "writePointer") export declare const writePointer: usize;
@external("ftl", "blockMinSeq") export declare const blockMinSeq: usize;
@external("ftl", "unitStamp") export declare const unitStamp: usize;
@external("ftl", "bucketHead") export declare const bucketHead: usize;
@external("ftl", "bucketNext") export declare const bucketNext: usize;
@external("ftl", "bucketPrev") export declare const bucketPrev: usize;
@external("ftl", "bucketMin") export declare const bucketMin: usize;
@external("ftl", "dieOfBlock") export declare const dieOfBlock: usize;
@external("ftl", "hostSlot") export declare const hostSlot: usize;
@external("ftl", "gcSlot") export declare const gcSlot: usize;
@external("ftl", "moveSources") export declare const moveSources: usize;
@external("ftl", "moveWords") export declare const moveWords: usize;
@external("ftl", "unitCapacity") export declare const unitCapacity: usize;
@external("ftl", "freeCount") export declare const freeCount: usize;
@external("ftl", "poolCapacity") export declare const poolCapacity: usize;
@external("ftl", "heap") export declare const heap: usize;
@external("ftl", "heapKey") export declare const heapKey: usize;
@external("ftl", "heapSize") export declare const heapSize: usize;
@external("ftl", "dieOrder") export declare const dieOrder: usize;
/** f64 cells: [0] next sequence number, [1] insertion stamp. */
@external("ftl", "scalarCells") export declare const scalarCells: usize;
/** i32 cells: [0] host cursor, [1] last victim unit. */
@external("ftl", "stateCells") export declare const stateCells: usize;
/** f64 counter cells, folded into Ftl.counters: host page writes, GC runs, GC moved pages, GC page reads, erases. */
@external("ftl", "counterCells") export declare const counterCells: usize;
@external("ftl", "pageShift") export declare const pageShift: i32;
@external("ftl", "pagesPerBlock") export declare const pagesPerBlock: i32;
/** log2(blocks per die) when it is a power of two, else −1 (then dieOfBlock is looked up). */
@external("ftl", "dieShift") export declare const dieShift: i32;
@external("ftl", "dataPages") export declare const dataPages: i32;
@external("ftl", "bucketWidth") export declare const bucketWidth: i32;
@external("ftl", "dies") export declare const dies: i32;
@external("ftl", "unitsPerPool") export declare const unitsPerPool: i32;
@external("ftl", "gcThreshold") export declare const gcThreshold: i32;
@external("ftl", "hostReserve") export declare const hostReserve: i32;
@external("ftl", "dynamicWearLeveling") export declare const dynamicWearLeveling: i32;
/** A static hostAllocation (cwdp, pcwd…; one plane per die here): 1, else 0 (round robin). */
@external("ftl", "staticAllocation") export declare const staticAllocation: i32;
/** The static scheme takes the channel from the LBA before the die in the channel: 1, else 0. */
@external("ftl", "channelFirst") export declare const channelFirst: i32;
@external("ftl", "channels") export declare const channels: i32;
@external("ftl", "diesPerChannel") export declare const diesPerChannel: i32;

// ------------------------------------------------------------------ table accessors

@inline export function i32At(table: usize, index: i32): i32 {
  return load<i32>(table + (<usize>index << 2));
}
@inline export function setI32(table: usize, index: i32, value: i32): void {
  store<i32>(table + (<usize>index << 2), value);
}
/** The die (block mode: the pool) of a block: a shift where it can be, saving a table access (often a cache miss). */
@inline export function dieOf(b: i32): i32 {
  return dieShift >= 0 ? b >>> dieShift : i32At(dieOfBlock, b);
}
@inline export function blockOf(ppa: i32): i32 {
  return pageShift >= 0 ? ppa >>> pageShift : ppa / pagesPerBlock;
}

@inline export function bump(cell: i32, by: f64): void {
  const at = counterCells + (<usize>cell << 3);
  store<f64>(at, load<f64>(at) + by);
}

/** Takes the next sequence number (Ftl.nextSequence++). */
@inline export function nextSequence(): f64 {
  const sequence = load<f64>(scalarCells, SCALAR_NEXT_SEQUENCE << 3);
  store<f64>(scalarCells, sequence + 1, SCALAR_NEXT_SEQUENCE << 3);
  return sequence;
}

/** A device status other than 0 here is a broken invariant (the readiness flags were checked). */
@inline export function must(status: i32): void {
  if (status != 0) unreachable();
}
