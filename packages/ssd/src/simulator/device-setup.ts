/**
 * The simulated device and its controller as the simulator's constructor builds them from a
 * {@link SimulatorConfig}: the NAND device (metadata-only by default; its WebAssembly kernel off
 * where the kernels cannot follow: several planes per die), multi-plane
 * command grouping on the device's clock (which, under the transaction scheduler, tells the
 * scheduler each operation's plane and page), and the transaction scheduler, with the checks that tie
 * these options together (INVALID_CONFIG naming the option). Upstream counterpart: MQSim's
 * SSD_Device constructor (the NVM_PHY_ONFI channels and chips, the TSU of the chosen policy).
 */
import { MultiPlaneGrouping, NandClock, createNandDevice, planesPerDie } from '@flashdiff/nand';
import type { SimulatedNand } from '@flashdiff/nand';
import { SsdError } from '../errors.ts';
import { TransactionScheduler } from '../scheduler.ts';
import type { TransactionScheduling } from '../scheduler.ts';
import { resolveSuspend } from './config.ts';
import type { SimulatorConfig } from './config.ts';

/** The device, its multi-plane grouping (or null) and its transaction scheduler (null: 'eager'). */
export interface SimulatorDevice {
  readonly device: SimulatedNand;
  readonly multiPlane: MultiPlaneGrouping | null;
  readonly scheduler: TransactionScheduler | null;
}

/** Builds the device and its controller for `config` with the transaction scheduling already resolved. */
export function createSimulatorDevice(config: SimulatorConfig, transactionScheduling: 'eager' | TransactionScheduling): SimulatorDevice {
  const scheduled = transactionScheduling !== 'eager';
  const planes = planesPerDie(config.geometry);
  if (config.multiPlane !== undefined && typeof config.multiPlane !== 'boolean') {
    throw new SsdError('INVALID_CONFIG', `multiPlane must be true or false, got ${String(config.multiPlane)}`);
  }
  const device = createNandDevice({
    geometry: config.geometry,
    metadataOnly: config.metadataOnly ?? true,
    ...(config.faults ? { faults: config.faults } : {}),
    ...(config.timing ? { timing: config.timing } : {}),
    // With a transaction scheduler the kernels run the preconditioning fill and synthetic runs and
    // pause while replay hands the clock's operations to the scheduler (SsdSimulator.replay).
  });
  // The device's kernel has no planes: with planes it stays paused (every device operation in
  // TypeScript, see SsdSimulator.engine), and its memory holds the tables the kernel replay uses.
  if (planes > 1 && device.kernelPaused !== undefined) device.kernelPaused = true;
  let multiPlane: MultiPlaneGrouping | null = null;
  if (planes > 1 && config.multiPlane === true) {
    const clock = device.timing;
    if (!(clock instanceof NandClock)) throw new SsdError('INVALID_CONFIG', 'multiPlane needs the NAND device\'s own clock');
    multiPlane = new MultiPlaneGrouping(clock, planes, config.geometry.channels * config.geometry.diesPerChannel);
    clock.sink = multiPlane;
    const dies = config.multiPlaneDiesPerChip ?? 1;
    if (!Number.isInteger(dies) || dies < 1 || planes % dies !== 0) {
      throw new SsdError('INVALID_CONFIG', `multiPlaneDiesPerChip must be a whole number dividing planesPerDie ${planes}, got ${String(dies)}`);
    }
    multiPlane.planeSets = dies;
    multiPlane.samePage = config.multiPlaneSamePage === true;
  } else if (config.multiPlaneDiesPerChip !== undefined || config.multiPlaneSamePage !== undefined) {
    throw new SsdError('INVALID_CONFIG', 'multiPlaneDiesPerChip and multiPlaneSamePage need multiPlane with planesPerDie > 1');
  }
  let scheduler: TransactionScheduler | null = null;
  if (scheduled) {
    const clock = device.timing;
    if (!(clock instanceof NandClock)) throw new SsdError('INVALID_CONFIG', 'transactionScheduling needs the NAND device\'s own clock');
    const g = config.geometry;
    scheduler = new TransactionScheduler(clock, clock.params, g.channels * g.diesPerChannel, transactionScheduling as TransactionScheduling, resolveSuspend(config));
    // The scheduler forms the multi-plane commands itself; the grouping tells it the planes.
    if (multiPlane !== null) {
      scheduler.pagesPerBlock = g.pagesPerBlock;
      scheduler.multiPlane = multiPlane;
    }
    if (config.gcPriority !== undefined && config.gcPriority !== 'first' && config.gcPriority !== 'preemptible') {
      throw new SsdError('INVALID_CONFIG', `gcPriority must be 'first' or 'preemptible', got '${String(config.gcPriority)}'`);
    }
    const hard = config.gcHardThreshold ?? 1;
    if (!Number.isInteger(hard) || hard < 1) throw new SsdError('INVALID_CONFIG', `gcHardThreshold must be a whole number of blocks ≥ 1, got ${String(hard)}`);
    if (config.gcPriority === 'preemptible') {
      if (transactionScheduling !== 'read-first') throw new SsdError('INVALID_CONFIG', "gcPriority 'preemptible' needs transactionScheduling 'read-first'");
      scheduler.gcHardThreshold = hard;
    }
  } else if (config.suspend !== undefined) {
    throw new SsdError('INVALID_CONFIG', "suspend needs transactionScheduling 'fifo' or 'read-first'");
  } else if (config.gcPriority !== undefined || config.gcHardThreshold !== undefined) {
    throw new SsdError('INVALID_CONFIG', "gcPriority and gcHardThreshold need transactionScheduling 'read-first'");
  }
  return { device, multiPlane, scheduler };
}

/**
 * Runs `action` with the device's WebAssembly kernel paused (NandDevice.kernelPaused): for a
 * replay through the transaction scheduler, which takes the clock's operations, while the device's
 * kernel (and the FTL kernel's writes through it) would time them itself.
 */
export function withKernelPaused<T>(device: SimulatedNand, action: () => T): T {
  const paused = device.kernelPaused;
  if (paused === undefined) return action();
  device.kernelPaused = true;
  try {
    return action();
  } finally {
    device.kernelPaused = paused;
  }
}
