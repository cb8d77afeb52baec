/**
 * The kernel batch path: run() and precondition() hand their per-operation loop to the FTL's
 * WebAssembly module (kernel/simulator-kernel.ts simulate()), which issues host writes, draws the
 * workload and records latencies in tables it shares with the simulator, and returns at the first
 * operation that needs TypeScript (a read or TRIM drawn, a write the FTL kernel hands back) or at
 * the batch's limit. This file holds those tables (allocated in the kernel's memory when it runs),
 * the cell layout and status codes both sides name, and one simulate() call with the workload's
 * generator state carried across. No upstream counterpart: MQSim runs its event loop in C++.
 */
import { allocateTables, float64Table, int32Table } from '@flashdiff/nand';
import type { SimulatedNand } from '@flashdiff/nand';
import { rethrowKernelAbort } from '../errors.ts';
import type { Ftl, FtlKernel } from '../ftl.ts';
import { LatencyHistogram } from '../metrics.ts';
import type { Workload, WorkloadKind } from '../workload.ts';

// simulate()'s reasons for returning (kernel/simulator-kernel.ts BATCH_*).
/** The batch's host writes all completed; nothing pending. */
export const BATCH_LIMIT = 0;
/** A read was drawn (LBA in the batch cells), not issued. */
export const BATCH_READ = 1;
/** A TRIM was drawn (LBA in the batch cells), not issued. */
export const BATCH_TRIM = 2;
/** A write was issued and the FTL kernel handed it back (LBA, code, issue time in the cells). */
export const BATCH_WRITE = 3;
// timeCells (f64) and batchCells (i32), as kernel/simulator-kernel.ts names them.
export const LAST_ISSUE = 0;
export const HOST_OPS = 1;
export const PENDING_ISSUE = 2;
export const QUEUE_SLOT = 0;
export const BATCH_LBA = 1;
export const FTL_CODE = 2;
export const WRITES_DONE = 3;
/** The simulator kernel's workload kinds. */
export const KERNEL_WORKLOAD_KIND: Readonly<Record<WorkloadKind, number>> = { seq: 0, uniform: 1, hotcold: 2 };
/** count, sum, max after each histogram's buckets (metrics.ts LatencyHistogramStorage). */
export const HISTOGRAM_CELLS = 3;
/** The most host writes one simulate() call is given (its limit is an i32). */
export const MAX_BATCH = 0x40000000;

/** What the kernel-driven run loop did (tests look at it). */
export interface KernelLoopStats {
  /** simulate() calls. */
  batches: number;
  /** Host writes the FTL kernel handed back, finished by the TypeScript FTL. */
  handedBackWrites: number;
  /** Reads and TRIMs drawn by the kernel and run by the TypeScript code. */
  handedBackOperations: number;
}

/** The run loop's tables: in the FTL's table memory when its kernel runs (bound to it), else plain arrays. */
export interface LoopTables {
  /** Completion time of the last operation issued in each queue slot. */
  readonly completions: Float64Array;
  /** f64 cells: lastIssue, hostOps, the issue time of a write the kernel handed back. */
  readonly timeCells: Float64Array;
  /** i32 cells: queueSlot; the kernel's LBA drawn or handed back, FTL code, host writes done. */
  readonly batchCells: Int32Array;
  /** The workload's generator state and sequential cursor while the kernel draws (Workload.saveState). */
  readonly workloadCells: Int32Array;
  /** Every host operation's latency, and the current time-series interval's. */
  readonly latency: LatencyHistogram;
  readonly intervalLatency: LatencyHistogram;
  /** The FTL's kernel with these tables bound (null: no kernel, or the tables did not fit in its memory). */
  readonly kernel: FtlKernel | null;
}

/**
 * Allocates the tables the kernel loop steps too: in the FTL's table memory when its kernel runs
 * (they are allocated after the FTL, so the kernel gets their addresses from bindSimulator).
 */
export function allocateLoopTables(ftl: Ftl, device: SimulatedNand, workload: Workload, queueDepth: number): LoopTables {
  const memory = ftl.wasmKernelActive ? (device.metadataKernel?.memory ?? null) : null;
  const buckets = LatencyHistogram.BUCKETS;
  const tables = allocateTables(
    {
      completions: float64Table(queueDepth),
      timeCells: float64Table(3),
      batchCells: int32Table(4),
      workloadCells: int32Table(5),
      // One block, so the kernel reaches all of it from one address (kernel/simulator-kernel.ts
      // HISTOGRAM_*): the latency histogram's buckets and cells, the interval histogram's, the edges.
      histograms: float64Table(2 * (buckets + HISTOGRAM_CELLS) + LatencyHistogram.OCTAVE_EDGES.length),
    },
    memory,
  );
  const t = tables.views;
  const h = t.histograms;
  const histogram = (at: number): LatencyHistogram =>
    new LatencyHistogram({ buckets: h.subarray(at, at + buckets), cells: h.subarray(at + buckets, at + buckets + HISTOGRAM_CELLS) });
  const latency = histogram(0);
  const intervalLatency = histogram(buckets + HISTOGRAM_CELLS);
  h.set(LatencyHistogram.OCTAVE_EDGES, 2 * (buckets + HISTOGRAM_CELLS));
  const kernel = tables.inMemory ? ftl.directKernel : null;
  if (kernel !== null) {
    const at = tables.offsets;
    const o = workload.options;
    kernel.bindSimulator(
      at.completions, queueDepth, at.timeCells, at.batchCells, at.workloadCells, at.histograms,
      KERNEL_WORKLOAD_KIND[o.kind], ftl.userPages, workload.hotPages, o.readRatio, o.trimRatio, o.hotAccessFraction,
    );
  }
  return { completions: t.completions, timeCells: t.timeCells, batchCells: t.batchCells, workloadCells: t.workloadCells, latency, intervalLatency, kernel };
}

/**
 * One simulate() call: up to `limit` (≥ 1) host writes in the kernel. fillFrom ≥ 0: LBAs
 * fillFrom, fillFrom + 1, … (precondition); else drawn from the workload, whose generator state
 * goes to the kernel and back. Returns why it stopped (BATCH_*).
 */
export function simulateBatch(kernel: FtlKernel, workload: Workload, tables: LoopTables, limit: number, fillFrom: number): number {
  const w = workload;
  const draws = fillFrom < 0;
  if (draws) {
    w.saveState(tables.workloadCells);
    tables.batchCells[BATCH_LBA] = w.lba;
  }
  let status = 0;
  try {
    status = kernel.simulate(limit, fillFrom);
  } catch (e) {
    rethrowKernelAbort(fillFrom >= 0 ? `the kernel run loop's fill from LBA ${fillFrom}` : `the kernel run loop (up to ${limit} host writes)`, e);
  }
  if (draws) {
    w.restoreState(tables.workloadCells);
    w.lba = tables.batchCells[BATCH_LBA]!;
  }
  return status;
}
