// The kernel's plane view (AssemblyScript, part of the FTL's WebAssembly module; see
// kernel/simulator/replay.ts): src/planes.ts's PlaneView for the kernel replay — the FTL's view
// block b (view die v = plane v mod P of real die ⌊v / P⌋) is real block ⌊v / P⌋ · B + i · P +
// plane, B the real blocks per die and i = b − v · B / P (PlaneView keeps the same numbers in a
// table; here they are computed) — and its operations as the device takes them with a sink on the
// clock: each tells the grouping its plane and page in block, then the device hands the
// operation to the scheduler (kernel/scheduler.ts enqueue) and checks, counts and stores.
// With one plane per die the view is the device itself (no grouping).
// Counterpart of src/planes.ts (MQSim: the plane level of the page address).
import { channelOfDieAt, countSinkRead, dieOfPage, programHeadSink } from '../../nand/kernel/metadata-device';
import { enqueue } from './scheduler';
import { grouping, setPlanes, setProgramPageInBlock, setReadPageInBlock } from './scheduler/multi-plane';
import { KIND_PROGRAM, KIND_READ } from './scheduler/transactions';

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
@inline function planeOf(block: i32): i32 {
  return (block / viewBlocksPerDie) % planes;
}

/** The real block of view block `block`. */
@inline function realBlock(block: i32): i32 {
  const viewDie = block / viewBlocksPerDie;
  const index = block - viewDie * viewBlocksPerDie;
  return (viewDie / planes) * realBlocksPerDie + index * planes + viewDie % planes;
}

/** The real page of view page `page`. */
// Mirrors: packages/ssd/src/planes.ts#PlaneView.realPage packages/ssd/src/planes.ts#PlaneView.realPageIn kernel:ce5befd5 source:077ac424
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
