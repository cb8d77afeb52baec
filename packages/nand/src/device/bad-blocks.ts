/**
 * Bad-block marking: the marker byte that flags a block bad in the spare of its first pages (ONFI:
 * any byte but 0xFF at the marker offset of page 0 or 1), writing it when a block is marked bad
 * or made factory-bad, and finding the bad blocks of a fresh store from their markers. Upstream
 * counterparts: the Linux MTD nand core's bad-block marker handling (drivers/mtd/nand/raw/
 * nand_base.c: nand_block_bad, nand_default_block_markbad; NAND_BBM_FIRSTPAGE | NAND_BBM_SECONDPAGE,
 * the marker at byte 0 of large pages and 5 of small ones). Functions over the device's state
 * (simulated-device.ts).
 */
import { FaultRandom } from '../random.ts';
import type { NandGeometry } from '../types.ts';
import { STREAM_FACTORY } from './faults.ts';
import type { SimulatedNandDevice } from './simulated-device.ts';

/** The marker value written into bad blocks: anything but 0xFF marks the block. */
export const BAD_BLOCK_MARKER_VALUE = 0x00;
/** Pages of a block that carry the marker (first and second, as ONFI parts do). */
export const BAD_BLOCK_MARKER_PAGES = 2;

/** The marker's spare offset a part of this page size carries: 0 on large pages, 5 on 512-byte ones. */
export function defaultBadBlockMarker(geometry: NandGeometry): { spareOffset: number } {
  return { spareOffset: geometry.pageSize >= 2048 ? 0 : 5 };
}

/** Writes the marker byte into the spare of the block's first pages (AND-ing, as a real re-program does). */
export function writeBadBlockMarker(device: SimulatedNandDevice, block: number): void {
  if (device.markerOffset < 0 || device.store.readOnly) return;
  const first = block * device.pagesPerBlock;
  const pages = Math.min(BAD_BLOCK_MARKER_PAGES, device.pagesPerBlock);
  for (let i = 0; i < pages; i++) {
    const page = first + i;
    device.store.readData(page, device.scratchData);
    device.store.readSpare(page, device.scratchSpare);
    device.scratchSpare[device.markerOffset] &= BAD_BLOCK_MARKER_VALUE;
    device.store.writePage(page, device.metadataOnly ? null : device.scratchData, device.scratchSpare);
    device.markProgrammed(page, block, i);
  }
}

/**
 * On a fresh store (no saved bad-block table): the bad blocks its markers flag, and the factory
 * bad blocks the fault options ask for (marked now); the table found is saved with the store.
 * `markers` false: the store holds no programmed page (a new one), so no marker is looked for.
 */
export function findBadBlocks(device: SimulatedNandDevice, markers = true): void {
  const store = device.store;
  const ppb = device.pagesPerBlock;
  if (markers && device.markerOffset >= 0) {
    const spare = device.scratchSpare;
    const pages = Math.min(BAD_BLOCK_MARKER_PAGES, ppb);
    for (let block = 0; block < device.blockCount; block++) {
      for (let i = 0; i < pages; i++) {
        const page = block * ppb + i;
        if (device.programmed[page] === 0) continue;
        store.readSpare(page, spare);
        if (spare[device.markerOffset] !== 0xff) {
          store.badBlocks[block] = 1;
          break;
        }
      }
    }
  }
  const faults = device.faultOptions;
  const factory = new Set<number>();
  for (const block of faults.factoryBadBlocks ?? []) {
    device.checkBlock(block);
    factory.add(block);
  }
  const rate = faults.factoryBadBlockRate ?? 0;
  if (rate > 0) {
    const random = new FaultRandom(faults.seed ?? 1, STREAM_FACTORY);
    for (let block = 1; block < device.blockCount; block++) if (random.nextFloat() < rate) factory.add(block);
  }
  for (const block of factory) {
    if (store.badBlocks[block] !== 0) continue;
    store.badBlocks[block] = 1;
    writeBadBlockMarker(device, block);
  }
  // Persist the table found now, so later reboots/reopens trust it instead of rescanning
  // markers (user spare bytes at the marker position would otherwise read as bad blocks).
  if (!store.readOnly) store.sync();

}
