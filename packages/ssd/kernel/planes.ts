// The kernel's plane view (AssemblyScript, part of the FTL's WebAssembly module; see
// kernel/simulator/replay.ts): src/planes.ts's PlaneView for the kernel replay — the FTL's view
// block b (view die v = plane v mod P of real die ⌊v / P⌋) is real block ⌊v / P⌋ · B + i · P +
// plane, B the real blocks per die and i = b − v · B / P (PlaneView computes them the same way;
// it kept a table before) — and its operations as the device takes them with a sink on the
// clock: each tells the grouping its plane and page in block, then the device hands the
// operation to the scheduler (kernel/scheduler.ts enqueue) and checks, counts and stores.
// With one plane per die the view is the device itself (no grouping).
// Counterpart of src/planes.ts (MQSim: the plane level of the page address).
import { channelOfDieAt, countSinkRead, dieOfPage, eraseCount, programHeadSink } from '../../nand/kernel/metadata-device';
import { enqueue } from './scheduler';
import { grouping, setPlanes, setProgramPageInBlock, setReadPageInBlock } from './scheduler/multi-plane';
import { KIND_ERASE, KIND_PROGRAM, KIND_READ } from './scheduler/transactions';

// The device's tables an erase changes (nand's kernel/metadata-device.ts imports the same globals).
@external("device", "pageState") declare const devicePageState: usize;
@external("device", "programmed") declare const deviceProgrammed: usize;
@external("device", "nextPage") declare const deviceNextPage: usize;
@external("device", "eraseCounts") declare const deviceEraseCounts: usize;
@external("device", "erasesPerBlock") declare const deviceErasesPerBlock: usize;
@external("device", "badBlocks") declare const deviceBadBlocks: usize;
@external("device", "readsPerBlock") declare const deviceReadsPerBlock: usize;
@external("device", "counterCells") declare const deviceCounterCells: usize;
@external("device", "blockCount") declare const deviceBlockCount: i32;

/** Planes per die (1: no view), the view's and the device's blocks per die, pages per block. */
let planes: i32 = 1;
let viewBlocksPerDie: i32 = 1;
let realBlocksPerDie: i32 = 1;
let pagesPerBlock: i32 = 1;
/** The device's page + spare bytes (recordBytes): what a whole page's transfer moves. */
export let recordBytes: i32 = 0;

export function bindPlanes(perDie: i32, viewBlocks: i32, realBlocks: i32, pages: i32, record: i32): void {
  planes = perDie;
  viewBlocksPerDie = viewBlocks;
  realBlocksPerDie = realBlocks;
  pagesPerBlock = pages;
  recordBytes = record;
}

/** The plane of view block `block`. */
@inline export function planeOf(block: i32): i32 {
  return (block / viewBlocksPerDie) % planes;
}

/** The real block of view block `block`. */
@inline export function realBlock(block: i32): i32 {
  const viewDie = block / viewBlocksPerDie;
  const index = block - viewDie * viewBlocksPerDie;
  return (viewDie / planes) * realBlocksPerDie + index * planes + viewDie % planes;
}

/** The real page of view page `page`. */
// Mirrors: packages/ssd/src/planes.ts#PlaneView.realPage packages/ssd/src/planes.ts#PlaneView.realPageIn kernel:ce5befd5 source:3e1f9888
export function realPage(page: i32): i32 {
  if (planes == 1) return page;
  const block = page / pagesPerBlock;
  return realBlock(block) * pagesPerBlock + (page - block * pagesPerBlock);
}

/** A device read of real page `real` with the scheduler as the clock's sink (SimulatedNandDevice.readPage, no buffers). */
// Mirrors: packages/nand/src/device/simulated-device.ts#SimulatedNandDevice.readPage kernel:7b9f42bd source:31a555fd
export function deviceRead(real: i32): void {
  const die = dieOfPage(real);
  enqueue(die, KIND_READ, channelOfDieAt(die), recordBytes);
  if (countSinkRead(real) != 0) unreachable();
}

/** PlaneView.readPage (view page `page`): the grouping's read plane and page in block, then the device's read. Returns the real page. */
// Mirrors: packages/ssd/src/planes.ts#PlaneView.readPage kernel:203db42e source:e4b95aed
export function readPage(page: i32): i32 {
  const real = realPage(page);
  if (grouping != 0) {
    setPlanes(planeOf(page / pagesPerBlock), 0);
    setReadPageInBlock(page % pagesPerBlock);
  }
  deviceRead(real);
  return real;
}

/**
 * PlaneView.programSpareWords (view page `page`) with a data page's compact head (word 1 the
 * LBA, word 2 the sequence number): the grouping's program plane and page in block, then the
 * device's program (MetadataNandDevice.programSpareWords with the scheduler as the clock's sink).
 */
// Mirrors: packages/ssd/src/planes.ts#PlaneView.programSpareWords packages/ssd/src/planes.ts#PlaneView.page packages/nand/src/device/metadata-device.ts#MetadataNandDevice.programSpareWords kernel:0df52091 source:4b34abea
export function programPage(page: i32, w1: i32, w2: i32): void {
  let real = page;
  if (planes != 1) {
    const block = page / pagesPerBlock;
    const inBlock = page - block * pagesPerBlock;
    if (grouping != 0) {
      setPlanes(0, planeOf(block));
      setProgramPageInBlock(inBlock);
    }
    real = realBlock(block) * pagesPerBlock + inBlock;
  }
  if (programHeadSink(real, w1, w2) != 0) unreachable();
  const die = dieOfPage(real);
  enqueue(die, KIND_PROGRAM, channelOfDieAt(die), recordBytes);
}

// ------------------------------------------------------------------ GC's device operations in the kernel replay (kernel/ftl/replay-gc.ts)

@inline function bumpDevice(cell: i32, by: f64): void {
  const at = deviceCounterCells + (<usize>cell << 3);
  store<f64>(at, load<f64>(at) + by);
}

/** PlaneView.eraseCount: the erase count of view block `block`'s real block. */
// Mirrors: packages/ssd/src/planes.ts#PlaneView.eraseCount kernel:78a26c6b source:f7f8dbfc
export function eraseCountOf(block: i32): u32 {
  return eraseCount(planes == 1 ? block : realBlock(block));
}

/**
 * PlaneView.eraseBlock (view block `block`) with the scheduler as the clock's sink: the grouping's
 * program plane, then SimulatedNandDevice.eraseBlock — the operation handed to the scheduler, the
 * counts, the store's page states (RamStore.eraseBlock), the programmed bytes, the next page and
 * the erase count. (PlaneView's multi-plane erase counts change only when an erase joins a
 * command as it is handed over: with a sink it joins one later, in the scheduler.)
 */
// Mirrors: packages/ssd/src/planes.ts#PlaneView.eraseBlock packages/nand/src/device/simulated-device.ts#SimulatedNandDevice.eraseBlock kernel:1219f3d9 source:85a1ede5
export function eraseBlockSink(block: i32): void {
  let real = block;
  if (planes != 1) {
    real = realBlock(block);
    if (grouping != 0) setPlanes(0, planeOf(block));
  }
  if (<u32>real >= <u32>deviceBlockCount || load<u8>(deviceBadBlocks + <usize>real) != 0) unreachable();
  bumpDevice(3, 1);
  const die = dieOfPage(real * pagesPerBlock);
  enqueue(die, KIND_ERASE, 0, 0);
  bumpDevice(2, 1);
  const per = deviceErasesPerBlock + (<usize>real << 2);
  store<u32>(per, load<u32>(per) + 1);
  const first = <usize>(real * pagesPerBlock);
  memory.fill(devicePageState + first, 0, <usize>pagesPerBlock);
  memory.fill(deviceProgrammed + first, 0, <usize>pagesPerBlock);
  store<u32>(deviceNextPage + (<usize>real << 2), 0);
  const count = deviceEraseCounts + (<usize>real << 2);
  store<u32>(count, load<u32>(count) + 1);
}

/**
 * PlaneView.copybackRun of `count` view pages listed at `sources` (all of one victim block) to view
 * pages target … target + count − 1, with the scheduler as the clock's sink: the grouping told the
 * sources' plane and the target's, then MetadataNandDevice.copybackRun on one die —
 * NandClock.copybackRun hands a read and a program per page to the sink — its counts and each
 * target's compact head (word 1 the LBA, word 2 from `sequence` up).
 */
// Mirrors: packages/ssd/src/planes.ts#PlaneView.copybackRun packages/nand/src/device/metadata-device.ts#MetadataNandDevice.copybackRun packages/nand/src/timing.ts#NandClock.copybackRun kernel:218e5bc8 source:5a23fdfd
export function copybackRunSink(sources: usize, count: i32, target: i32, lbas: usize, sequence: f64): void {
  const first = load<i32>(sources);
  let realTarget = target;
  let realSource = first;
  if (planes != 1) {
    const block = target / pagesPerBlock;
    const inBlock = target - block * pagesPerBlock;
    if (grouping != 0) {
      setPlanes(planeOf(first / pagesPerBlock), planeOf(block));
      setProgramPageInBlock(inBlock);
    }
    realTarget = realBlock(block) * pagesPerBlock + inBlock;
    realSource = realPage(first);
  }
  const die = dieOfPage(realTarget);
  if (dieOfPage(realSource) != die) unreachable();
  const channel = channelOfDieAt(die);
  for (let k = 0; k < count; k++) {
    enqueue(die, KIND_READ, channel, recordBytes);
    enqueue(die, KIND_PROGRAM, channel, recordBytes);
  }
  const sourceBlock = realSource / pagesPerBlock;
  const reads = deviceReadsPerBlock + (<usize>sourceBlock << 2);
  store<u32>(reads, load<u32>(reads) + <u32>count);
  bumpDevice(0, <f64>count);
  for (let k = 0; k < count; k++) {
    if (programHeadSink(realTarget + k, load<i32>(lbas + (<usize>k << 2)), <i32>(<i64>(sequence + <f64>k))) != 0) unreachable();
  }
}
