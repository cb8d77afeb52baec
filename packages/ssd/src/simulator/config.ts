/**
 * The simulator's configuration ({@link SimulatorConfig}: the device, the FTL, the workload and the
 * host interface's options) and the checks the simulator's constructor runs on the host-side
 * options, each throwing INVALID_CONFIG naming the option, in the order the constructor calls
 * them. Upstream counterpart: MQSim's Execution_Parameter_Set / Host_Parameter_Set (ssdconfig.xml
 * and workload.xml: queue depth, the host interface type, the transaction scheduling policy).
 */
import type { FaultOptions, NandGeometry, NandTimingParams } from '@flashdiff/nand';
import type { FtlOptions } from '../config.ts';
import { SsdError } from '../errors.ts';
import { TRANSACTION_SCHEDULINGS } from '../scheduler.ts';
import type { SuspendOptions, TransactionScheduling } from '../scheduler.ts';
import type { WorkloadOptions } from '../workload.ts';
import type { DataCacheOptions } from '../cache/data-cache.ts';

/** Everything a simulation needs; only `geometry` is required. */
export interface SimulatorConfig {
  readonly geometry: NandGeometry;
  /** Name of the preset the geometry came from (echoed in reports). */
  readonly preset?: string;
  readonly ftl?: Partial<FtlOptions>;
  readonly workload?: Partial<WorkloadOptions>;
  /** Pages keep only their spare bytes (default true; false to carry real payloads). */
  readonly metadataOnly?: boolean;
  readonly faults?: FaultOptions;
  readonly timing?: Partial<NandTimingParams>;
  /**
   * Closed-loop host queue depth for synthetic workloads: operation i is issued when operation
   * i − queueDepth completed (default 32).
   */
  readonly queueDepth?: number;
  /** Time-series point every N measured host page writes (0: none). */
  readonly snapshotEvery?: number;
  /** Trace replay: a gap between arrivals longer than this (ns) runs background GC (0: never). */
  readonly backgroundGcIdleNs?: number;
  /**
   * Trace replay's host: 'open' (default) issues each request at its arrival time, or later when
   * all queueDepth submission-queue slots are taken; 'closed' ignores the arrival times and issues
   * each request as soon as a slot is free (the trace's order and addresses, as fast as the device
   * allows). Latency = completion − arrival (closed loop: the time it entered the queue).
   */
  readonly replayLoop?: ReplayLoop;
  /**
   * A host read of an LBA that was never written (or was trimmed): 'free' (default) completes at
   * once with zeros and charges the flash nothing; 'flash-read' charges a page read on the die
   * the LBA would have by channel-first striping (MQSim creates a mapping for such reads and
   * reads the flash). Stated in the report's config.
   */
  readonly unmappedReads?: UnmappedReads;
  /**
   * How trace replay times the flash operations: 'eager' (default) — nand's clock, each die in
   * issue order, computed as the FTL issues them; 'fifo' or 'read-first' — the controller's
   * transaction scheduler (scheduler.ts: per-die queues, host reads first with 'read-first', as
   * MQSim's default scheduler). The scheduler needs every operation in TypeScript: the device's and
   * the FTL's WebAssembly kernels are off for the whole simulator (synthetic runs keep the eager
   * clock, in TypeScript).
   */
  readonly transactionScheduling?: 'eager' | TransactionScheduling;
  /**
   * With a transaction scheduler: a host page transfer moves only the bytes of the page the
   * request touches (MQSim's behaviour), not the whole page and spare (default false).
   */
  readonly partialPageTransfers?: boolean;
  /**
   * Replay: a write covering part of a page that holds data — 'overwrite' (default) programs the
   * page as if whole; 'read-modify-write' first reads the old page (one flash read, counted in
   * nandPageReads and readModifyWriteReads). With a transaction scheduler the program waits for
   * that read (as MQSim's update read); with the eager clock both are issued together.
   */
  readonly partialPageWrites?: PartialPageWrites;
  /** With a transaction scheduler: host reads suspend programs and/or erases (scheduler.ts SuspendOptions; default none). */
  readonly suspend?: SuspendOptions;
  /**
   * With transactionScheduling 'read-first': 'first' (default; MQSim's non-preemptible GC) serves
   * a die's GC transactions before host reads and writes; 'preemptible' (MQSim's
   * Preemptible_GC_Enabled) serves host reads, then host writes, then GC, unless a pool of the die
   * has fewer than gcHardThreshold free blocks (then GC first again).
   */
  readonly gcPriority?: 'first' | 'preemptible';
  /** With gcPriority 'preemptible': free blocks per pool below which GC goes first (default 1; MQSim's GC_Hard_Threshold × blocks per plane). */
  readonly gcHardThreshold?: number;
  /**
   * A DRAM write-back data cache between the host and the FTL (cache/data-cache.ts; absent: none,
   * the default): host writes complete in DRAM, the least recently used page is written back when
   * the cache is full, idle gaps of a replay flush dirty pages, host reads of cached pages are
   * served from DRAM. With a transaction scheduler, DRAM accesses bound a request's completion and
   * write-backs are transactions of the request that caused them. The run loop then stays in
   * TypeScript.
   */
  readonly dataCache?: DataCacheOptions;
  /**
   * With planes (geometry.planesPerDie > 1): operations on distinct planes of a die that wait for
   * it together go as one multi-plane command (nand's MultiPlaneGrouping: k programs cost k
   * transfers and one tPROG). Default false: the planes of a die take turns. With a transaction
   * scheduler, the scheduler forms the commands from its die queues (scheduler.ts). With one
   * plane per die it changes nothing.
   */
  readonly multiPlane?: boolean;
  /**
   * With multiPlane: the die stands for a chip of this many dies (its planes numbered die + d ·
   * plane, as cwdp counts them), and a multi-plane command holds planes of one of them (MQSim's
   * chip; MultiPlaneGrouping.planeSets). Default 1. Must divide planesPerDie.
   */
  readonly multiPlaneDiesPerChip?: number;
  /** With multiPlane: the reads or programs of one command share their page address, as MQSim asks (MultiPlaneGrouping.samePage). Default false. */
  readonly multiPlaneSamePage?: boolean;
}

export type PartialPageWrites = 'overwrite' | 'read-modify-write';

export type ReplayLoop = 'open' | 'closed';
export type UnmappedReads = 'free' | 'flash-read';

/** config.transactionScheduling, default 'eager'; throws unless it is a known scheduling. */
export function resolveTransactionScheduling(config: SimulatorConfig): 'eager' | TransactionScheduling {
  const scheduling = config.transactionScheduling ?? 'eager';
  if (scheduling !== 'eager' && !TRANSACTION_SCHEDULINGS.includes(scheduling)) {
    throw new SsdError('INVALID_CONFIG', `transactionScheduling must be eager, ${TRANSACTION_SCHEDULINGS.join(' or ')}, got '${String(scheduling)}'`);
  }
  return scheduling;
}

/** config.suspend under a transaction scheduler (null: none); throws on an unknown suspend.operations. */
export function resolveSuspend(config: SimulatorConfig): SuspendOptions | null {
  const suspend = config.suspend ?? null;
  if (suspend !== null && !['program', 'erase', 'program-erase'].includes(suspend.operations)) {
    throw new SsdError('INVALID_CONFIG', `suspend.operations must be program, erase or program-erase, got '${String(suspend.operations)}'`);
  }
  return suspend;
}

/** The host-side options with their defaults. */
export interface HostOptions {
  readonly queueDepth: number;
  readonly replayLoop: ReplayLoop;
  readonly unmappedReads: UnmappedReads;
  readonly partialPageWrites: PartialPageWrites;
  readonly snapshotEvery: number;
  readonly backgroundGcIdleNs: number;
}

/** The host-side options, defaults filled in; throws on a queue depth below 1 or an unknown mode. */
export function resolveHostOptions(config: SimulatorConfig): HostOptions {
  const queueDepth = config.queueDepth ?? 32;
  if (!Number.isInteger(queueDepth) || queueDepth < 1) {
    throw new SsdError('INVALID_CONFIG', `queueDepth must be a positive integer, got ${queueDepth}`);
  }
  const replayLoop = config.replayLoop ?? 'open';
  if (replayLoop !== 'open' && replayLoop !== 'closed') {
    throw new SsdError('INVALID_CONFIG', `replayLoop must be 'open' or 'closed', got '${String(replayLoop)}'`);
  }
  const unmappedReads = config.unmappedReads ?? 'free';
  if (unmappedReads !== 'free' && unmappedReads !== 'flash-read') {
    throw new SsdError('INVALID_CONFIG', `unmappedReads must be 'free' or 'flash-read', got '${String(unmappedReads)}'`);
  }
  const partialPageWrites = config.partialPageWrites ?? 'overwrite';
  if (partialPageWrites !== 'overwrite' && partialPageWrites !== 'read-modify-write') {
    throw new SsdError('INVALID_CONFIG', `partialPageWrites must be 'overwrite' or 'read-modify-write', got '${String(partialPageWrites)}'`);
  }
  return { queueDepth, replayLoop, unmappedReads, partialPageWrites, snapshotEvery: config.snapshotEvery ?? 0, backgroundGcIdleNs: config.backgroundGcIdleNs ?? 1_000_000 };
}
