/**
 * Fault injection and power loss: the seeded faults a {@link SimulatedNand} injects (program and
 * erase failures, wear-out at an endurance limit, raw bit errors on reads) and what a power cut
 * during a program or an erase leaves on the chip, plus the {@link FaultControl} a test arms them
 * with. Functions over the device's state (simulated-device.ts), which calls them on its slow
 * paths only. No upstream counterpart: MQSim injects no faults; the Linux MTD nand core reports
 * them (PROGRAM_FAILED, ERASE_FAILED, ECC results) but the chip makes them. The damage follows the
 * cell physics: a program moves bits 1 → 0 and an erase 0 → 1, so a cut leaves some unmoved.
 */
import { NandError } from '../types.ts';
import type { SimulatedNandDevice } from './simulated-device.ts';

export interface FaultControl {
  /** Arms the countdown: power is cut during the N-th program or erase from now; 0 or Infinity disarms. */
  cutPowerAfter(operations: number): void;
  /** Programs + erases that reached the chip so far (failed and interrupted ones included). */
  readonly operations: number;
  /** The next program of this page fails (PROGRAM_FAILED). */
  failProgram(page: number): void;
  /** The next erase of this block fails (ERASE_FAILED). */
  failErase(block: number): void;
  readonly powerIsOn: boolean;
}

// Independent random streams, so enabling one fault kind does not shift another's draws.
export const STREAM_FACTORY = 0;
export const STREAM_FAILURES = 1;
export const STREAM_BIT_ERRORS = 2;
export const STREAM_DAMAGE = 3;

/** The device's {@link FaultControl}: arms the faults below on it. */
export class FaultControlView implements FaultControl {
  constructor(private readonly device: SimulatedNandDevice) {}
  cutPowerAfter(operations: number): void {
    armPowerCut(this.device, operations);
  }
  get operations(): number {
    return this.device.operationsSoFar();
  }
  failProgram(page: number): void {
    armProgramFailure(this.device, page);
  }
  failErase(block: number): void {
    armEraseFailure(this.device, block);
  }
  get powerIsOn(): boolean {
    return this.device.powered;
  }
}

/** Arms the countdown (see {@link FaultControl.cutPowerAfter}). */
export function armPowerCut(device: SimulatedNandDevice, operations: number): void {
  if (operations === 0 || operations === Infinity) {
    device.cutCountdown = 0;
    device.updateGeneralOnly();
    return;
  }
  if (!Number.isInteger(operations) || operations < 0) {
    throw new NandError('OUT_OF_RANGE', `cutPowerAfter(${operations}): expected a positive integer, 0 or Infinity`);
  }
  device.cutCountdown = operations;
  device.updateGeneralOnly();
}
/** The next program of `page` fails. */
export function armProgramFailure(device: SimulatedNandDevice, page: number): void {
  device.checkPage(page);
  device.pendingProgramFailures.add(page);
  device.programFaultsArmed = true;
  device.updateGeneralOnly();
}
/** The next erase of `block` fails. */
export function armEraseFailure(device: SimulatedNandDevice, block: number): void {
  device.checkBlock(block);
  device.pendingEraseFailures.add(block);
  device.eraseFaultsArmed = true;
  device.updateGeneralOnly();
}
/** Whether this program fails: armed for the page, the block worn out, or a random failure. */
export function programShouldFail(device: SimulatedNandDevice, page: number, block: number): boolean {
  if (device.pendingProgramFailures.delete(page)) return true;
  if (device.store.eraseCounts[block] >= device.endurance) return true;
  return device.programFailureRate > 0 && device.failureRandom.nextFloat() < device.programFailureRate;
}
/** Whether this erase fails: armed for the block, the block worn out, or a random failure. */
export function eraseShouldFail(device: SimulatedNandDevice, block: number): boolean {
  if (device.pendingEraseFailures.delete(block)) return true;
  if (device.store.eraseCounts[block] >= device.endurance) return true;
  return device.eraseFailureRate > 0 && device.failureRandom.nextFloat() < device.eraseFailureRate;
}
/** Flips each bit of the copy with probability base + perCycle · eraseCount (geometric gaps). */
export function injectBitErrors(device: SimulatedNandDevice, data: Uint8Array | null, spare: Uint8Array, block: number): void {
  const p = Math.min(1, device.berBase + device.berPerCycle * device.store.eraseCounts[block]);
  if (p <= 0) return;
  const dataBits = data === null ? 0 : device.pageSize * 8;
  const totalBits = dataBits + device.spareSize * 8;
  const random = device.bitRandom;
  for (let bit = random.nextGap(p); bit < totalBits; bit += 1 + random.nextGap(p)) {
    if (bit < dataBits) (data as Uint8Array)[bit >> 3] ^= 1 << (bit & 7);
    else spare[(bit - dataBits) >> 3] ^= 1 << ((bit - dataBits) & 7);
  }
}
/**
 * Programming moves cells from 1 to 0. Cut short, a seeded subset of the bits meant to become 0
 * is still 1, in data and spare alike; at least one such bit when the page had any.
 */
export function writeInterruptedProgram(device: SimulatedNandDevice, page: number, data: Uint8Array | null, spare: Uint8Array): void {
  const random = device.damageRandom;
  const partData = new Uint8Array(device.pageSize).fill(0xff);
  if (data !== null && !device.metadataOnly) partData.set(data);
  const partSpare = new Uint8Array(device.spareSize).fill(0xff);
  partSpare.set(spare);
  let damaged = false;
  let firstZero: Uint8Array | null = null;
  let firstZeroIndex = 0;
  for (const buffer of [partData, partSpare]) {
    for (let i = 0; i < buffer.length; i++) {
      const intended = buffer[i];
      if (intended === 0xff) continue;
      if (firstZero === null) {
        firstZero = buffer;
        firstZeroIndex = i;
      }
      const unprogrammed = random.nextUint32() & 0xff & ~intended;
      if (unprogrammed !== 0) damaged = true;
      buffer[i] = intended | unprogrammed;
    }
  }
  if (!damaged && firstZero !== null) {
    const v = firstZero[firstZeroIndex];
    firstZero[firstZeroIndex] = v | ((v + 1) & ~v & 0xff); // raise the lowest 0 bit
  }
  device.store.writePage(page, device.metadataOnly ? null : partData, partSpare);
}
/**
 * Erasing moves cells from 0 to 1. Cut short, a seeded prefix of the block's pages is erased and
 * the programmed pages after it keep their content with a seeded subset of 0 bits already at 1.
 * The last programmed page always survives (damaged), so the block is neither erased nor intact.
 */
export function writeInterruptedErase(device: SimulatedNandDevice, block: number): void {
  const first = block * device.pagesPerBlock;
  let lastProgrammed = -1;
  for (let i = 0; i < device.pagesPerBlock; i++) if (device.programmed[first + i] !== 0) lastProgrammed = i;
  if (lastProgrammed < 0) return; // nothing to damage: an empty block stays empty
  const random = device.damageRandom;
  const erasedPrefix = random.nextInt(lastProgrammed + 1);
  const survivors: { page: number; data: Uint8Array; spare: Uint8Array }[] = [];
  for (let i = erasedPrefix; i <= lastProgrammed; i++) {
    const page = first + i;
    if (device.programmed[page] === 0) continue;
    const data = new Uint8Array(device.pageSize);
    const spare = new Uint8Array(device.spareSize);
    device.store.readData(page, data);
    device.store.readSpare(page, spare);
    let damaged = false;
    for (const buffer of device.metadataOnly ? [spare] : [data, spare]) {
      for (let j = 0; j < buffer.length; j++) {
        const value = buffer[j];
        if (value === 0xff) continue;
        // each 0 bit is already back at 1 with probability 1/4
        const raised = random.nextUint32() & random.nextUint32() & 0xff & ~value;
        if (raised !== 0) damaged = true;
        buffer[j] = value | raised;
      }
    }
    if (!damaged) {
      const buffer = device.metadataOnly ? spare : data;
      const j = buffer.findIndex((v) => v !== 0xff);
      if (j >= 0) buffer[j] |= (buffer[j] + 1) & ~buffer[j] & 0xff;
    }
    survivors.push({ page, data, spare });
  }
  device.store.eraseBlock(block);
  device.programmed.fill(0, first, first + device.pagesPerBlock);
  device.nextPage[block] = 0;
  for (const s of survivors) {
    device.store.writePage(s.page, device.metadataOnly ? null : s.data, s.spare);
    device.markProgrammed(s.page, block, s.page - first);
  }
}
