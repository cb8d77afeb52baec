/**
 * Trace replay through the host interface: an NVMe-style submission queue of queueDepth slots,
 * requests issued at their arrival times (the open loop) or as soon as a slot frees (the closed
 * loop), each split into page transactions on the FTL; the completion times of the outstanding
 * requests kept in a binary min-heap (the request queue). Two drivers: the eager clock (each die in
 * issue order, as the FTL issues the operations) and the controller's transaction scheduler
 * (scheduler.ts). Upstream counterparts: MQSim's Host_Interface_NVMe (submission and completion
 * queues, requests split into transactions) driven by IO_Flow_Trace_Based (arrival times from the
 * trace), and the queue-depth-limited issue of its IO_Flow_Synthetic. The simulator
 * (../simulator.ts) hands these functions a {@link ReplayHost}: the FTL, the device and the
 * counters they record into.
 */
import type { NandClock, NandGeometry, SimulatedNand } from '@flashdiff/nand';
import { SsdError } from '../errors.ts';
import type { Ftl } from '../ftl.ts';
import { CLASS_GC, CLASS_READ, CLASS_WRITE } from '../scheduler.ts';
import type { TransactionHandle, TransactionScheduler } from '../scheduler.ts';
import { SECTOR_BYTES } from '../trace.ts';
import type { TraceRequest } from '../trace.ts';
import type { PartialPageWrites, ReplayLoop, UnmappedReads } from './config.ts';

/** A request's kind, as the latency histograms are chosen by. */
export const REQUEST_WRITE = 0;
export const REQUEST_READ = 1;
export const REQUEST_TRIM = 2;

/** The DRAM data cache as replay drives it (the simulator's, see ../cache/data-cache.ts). */
export interface ReplayCache {
  /** An idle gap between issues longer than this (ns) flushes dirty pages (0: never). */
  readonly flushIdleNs: number;
  /** A read miss brings the page in (clean) after it was read from flash. */
  readonly readAllocate: boolean;
  /**
   * A host page write into the cache at time t, moving `bytes` (the sectors the request touches, as
   * MQSim's DRAM transfers); returns when its DRAM access ends. When the cache is full the least
   * recently used page leaves first, a dirty one written back (eager clock: the result includes
   * that program's end; with the scheduler it is a transaction of the request).
   */
  write(lba: number, t: number, bytes: number): number;
  /** A host page read at t of `bytes`: the end of its DRAM access on a hit, −1 on a miss (read it from flash). */
  read(lba: number, t: number, bytes: number): number;
  /** readAllocate: puts a page just read from flash in the cache at t (clean; evicting as write does); returns the DRAM access's end. */
  allocate(lba: number, t: number, bytes: number): number;
  has(lba: number): boolean;
  /** Drops a trimmed range. */
  invalidate(lba: number, count: number): void;
  /** Writes dirty pages back, oldest first, one at a time while keepGoing() says so after each; returns the pages written. */
  flush(keepGoing: () => boolean): number;
}

/** What a replay reads from the simulator and records into it. */
export interface ReplayHost {
  readonly ftl: Ftl;
  readonly device: SimulatedNand;
  readonly geometry: NandGeometry;
  /** Submission-queue slots: requests outstanding at once. */
  readonly queueDepth: number;
  readonly replayLoop: ReplayLoop;
  readonly unmappedReads: UnmappedReads;
  readonly partialPageWrites: PartialPageWrites;
  /** With a transaction scheduler: a page transfer moves only the bytes the request touches. */
  readonly partialPageTransfers: boolean;
  /** An idle gap between issues longer than this (ns) runs background GC (0: never). */
  readonly backgroundGcIdleNs: number;
  /** The DRAM data cache (null: none). */
  readonly cache: ReplayCache | null;
  /** Records a request's latency (ns) by kind (REQUEST_*): every request's histogram, the interval's, its kind's. */
  recordLatency(kind: number, latency: number): void;
  /** unmappedReads 'flash-read': charges the page read of a never-written LBA; returns its completion time. */
  chargeUnmappedRead(lba: number): number;
  /** Counts an old page read before a partial-page write. */
  readModifyWriteRead(): void;
  /** Counts a request issued (the host operations of the throughput figures). */
  requestIssued(): void;
  /** After each host page write: a time-series point every snapshotEvery measured writes. */
  afterHostWrite(): void;
}

/**
 * Replays block-trace requests through a host interface model (NVMe-style): a submission queue
 * of queueDepth slots; a request is issued at its arrival time (replayLoop 'open') or as soon as
 * the trace reaches it ('closed'), and no earlier than a slot is free — the earliest completion
 * among the queueDepth requests outstanding. Issued, its byte range is split into page
 * transactions, all issued at once (the dies and channels then run them in parallel); page
 * numbers map into the device modulo the user capacity. Request latency = completion of its last
 * page − arrival (closed loop: the time it entered the queue), recorded by kind (reads, writes,
 * TRIMs). A gap between issues longer than backgroundGcIdleNs runs background GC (up to the next
 * issue). Trace times are shifted to start at the device's current clock.
 */
export function replayTrace(host: ReplayHost, requests: readonly TraceRequest[], onProgress?: (done: number, total: number) => void): void {
  const pageSize = host.geometry.pageSize;
  const user = host.ftl.userPages;
  const timing = host.device.timing;
  const origin = requests.length > 0 ? requests[0]!.arrivalNs : 0;
  const base = Math.max(timing.elapsed, timing.now);
  const closed = host.replayLoop === 'closed';
  const flashReadUnmapped = host.unmappedReads === 'flash-read';
  const rmw = host.partialPageWrites === 'read-modify-write';
  // The read-modify-write read goes through the FTL's device: its page numbers are the FTL's (a
  // plane view's, with planes), so the read lands on the block, die and channel of the old copy.
  const flash = host.ftl.internalState.device;
  // The TypeScript replay reads the tables: whatever a lazy fill still implies written first.
  host.ftl.internalState.settleFill();
  // The completion times of the outstanding requests: a binary min-heap of at most queueDepth.
  const depth = host.queueDepth;
  const outstanding = new Float64Array(depth);
  let queued = 0;
  let previousIssue = base;
  for (let r = 0; r < requests.length; r++) {
    const req = requests[r]!;
    // Beyond 2^53 bytes p++ stops advancing and the loops below never end (the trace parsers
    // reject such lines; this guards requests built by hand).
    if (!Number.isSafeInteger((req.sector + req.sectors) * SECTOR_BYTES) || !(req.sectors >= 1)) {
      throw new SsdError('TRACE_PARSE', `request of line ${req.line}: sector ${req.sector} + ${req.sectors} is not a range below 2^53 bytes`);
    }
    let arrival = closed ? previousIssue : base + Math.max(0, req.arrivalNs - origin);
    let issue = arrival;
    if (queued === depth) {
      // Every slot taken: wait for the earliest completion, then free its slot.
      const free = outstanding[0]!;
      if (free > issue) issue = free;
      if (closed) arrival = issue;
      queued = heapPop(outstanding, queued);
    }
    // Issue times never go backwards: arrivals are in trace order and a slot frees no earlier
    // than the previous one did (each completion comes after its own issue).
    if (issue < previousIssue) issue = previousIssue;
    if (host.backgroundGcIdleNs > 0 && issue - previousIssue > host.backgroundGcIdleNs) {
      timing.issueAt(previousIssue);
      for (let k = 0; k < 64 && timing.elapsed < issue; k++) {
        if (host.ftl.backgroundGc(1) === 0) break;
      }
    }
    const cache = host.cache;
    if (cache !== null && cache.flushIdleNs > 0 && issue - previousIssue > cache.flushIdleNs) {
      timing.issueAt(previousIssue);
      cache.flush(() => timing.elapsed < issue);
    }
    previousIssue = issue;
    timing.issueAt(issue);
    const first = Math.floor((req.sector * SECTOR_BYTES) / pageSize);
    const last = Math.floor(((req.sector + req.sectors) * SECTOR_BYTES - 1) / pageSize);
    let done = issue;
    const firstByte = req.sector * SECTOR_BYTES;
    const endByte = (req.sector + req.sectors) * SECTOR_BYTES;
    // TRIM (blkparse discards, flashdiff traces): the range in pieces that do not wrap the device.
    for (let p = first; req.isTrim && p <= last; ) {
      const lba = p % user;
      const count = Math.min(last - p + 1, user - lba);
      const programs = host.device.stats.pagePrograms;
      cache?.invalidate(lba, count);
      host.ftl.trim(lba, count);
      if (host.device.stats.pagePrograms !== programs) done = Math.max(done, timing.lastCompletion);
      p += count;
    }
    for (let p = req.isTrim ? last + 1 : first; p <= last; p++) {
      const lba = p % user;
      // The bytes of this page the request touches (what a DRAM access moves).
      const touched = Math.min(endByte, (p + 1) * pageSize) - Math.max(firstByte, p * pageSize);
      if (cache !== null && req.isRead) {
        const served = cache.read(lba, issue, touched);
        if (served >= 0) {
          done = Math.max(done, served);
          continue;
        }
      }
      if (req.isRead) {
        if (host.ftl.read(lba) === 'mapped') done = Math.max(done, timing.lastCompletion);
        else if (flashReadUnmapped) done = Math.max(done, host.chargeUnmappedRead(lba));
        if (cache !== null && cache.readAllocate) done = Math.max(done, cache.allocate(lba, issue, touched));
      } else {
        // A cached page is updated in DRAM: no read of the old page.
        if (rmw && (p * pageSize < firstByte || (p + 1) * pageSize > endByte) && (cache === null || !cache.has(lba))) {
          const old = host.ftl.physicalPage(lba);
          if (old >= 0) {
            flash.readPage(old);
            host.readModifyWriteRead();
            done = Math.max(done, timing.lastCompletion);
          }
        }
        if (cache !== null) {
          timing.issueAt(issue);
          done = Math.max(done, cache.write(lba, issue, touched));
        } else {
          host.ftl.write(lba);
          done = Math.max(done, timing.lastCompletion);
        }
        host.afterHostWrite();
      }
    }
    queued = heapPush(outstanding, queued, done);
    host.requestIssued();
    const latency = done - arrival;
    host.recordLatency(req.isTrim ? REQUEST_TRIM : req.isRead ? REQUEST_READ : REQUEST_WRITE, latency);
    if (onProgress && (r & 0xfff) === 0xfff) onProgress(r + 1, requests.length);
  }
}

/**
 * With multi-plane commands under the scheduler: the plane and page a never-written LBA's flash
 * read ('flash-read') is charged at, taken as a sequential channel-first fill would have placed
 * it (MQSim's CWDP over its initial occupancy: die by the LBA's stripe, as chargeUnmappedRead
 * takes it, then plane ⌊lba / (channels · dies)⌋ mod planes, page ⌊lba / (channels · dies ·
 * planes)⌋ mod pages per block), so such reads form multi-plane commands as mapped ones do.
 */
function placeUnmappedRead(scheduler: TransactionScheduler, geometry: NandGeometry, lba: number): void {
  const grouping = scheduler.multiPlane;
  if (grouping === null) return;
  const planes = grouping.planesPerDie;
  const stripe = Math.floor(lba / (geometry.channels * geometry.diesPerChannel));
  grouping.setPlanes(stripe % planes, 0);
  grouping.readPageInBlock = Math.floor(stripe / planes) % geometry.pagesPerBlock;
}

/**
 * {@link replayTrace} through the transaction scheduler: the same host model (queue slots, open or
 * closed loop, page transactions, the latencies by kind), with each request's operations queued
 * on their dies and a request complete when its last transaction is.
 */
export function replayTraceScheduled(host: ReplayHost, scheduler: TransactionScheduler, requests: readonly TraceRequest[], onProgress?: (done: number, total: number) => void): void {
  const pageSize = host.geometry.pageSize;
  const user = host.ftl.userPages;
  const clock = host.device.timing as NandClock;
  const origin = requests.length > 0 ? requests[0]!.arrivalNs : 0;
  const base = Math.max(clock.elapsed, clock.now);
  const closed = host.replayLoop === 'closed';
  const flashReadUnmapped = host.unmappedReads === 'flash-read';
  const depth = host.queueDepth;
  const partial = host.partialPageTransfers;
  const rmw = host.partialPageWrites === 'read-modify-write';
  // The update read through the FTL's device (its page numbers; planes.ts tells the grouping its plane).
  const flash = host.ftl.internalState.device;
  // The TypeScript replay reads the tables: whatever a lazy fill still implies written first.
  host.ftl.internalState.settleFill();
  // Completion times of requests done but still holding their slot (freed once the host looks).
  const doneTimes = new Float64Array(depth);
  let doneCount = 0;
  let inFlight = 0;
  const arrivals = new Float64Array(requests.length);
  const kinds = new Uint8Array(requests.length); // REQUEST_WRITE, REQUEST_READ, REQUEST_TRIM
  scheduler.onComplete = (r, completion) => {
    doneCount = heapPush(doneTimes, doneCount, completion);
    host.recordLatency(kinds[r]!, completion - arrivals[r]!);
  };
  let previousIssue = base;
  scheduler.advance(base);
  clock.sink = scheduler;
  const cache = host.cache;
  // Translation-page reads of the cached mapping table: what follows for the page (the data
  // transfer needs the address) waits until the read is done; a miss on a translation page whose
  // read is in flight waits for that read (MQSim's ArrivingMappingEntries); with partial-page
  // transfers a translation read moves one sector (MQSim reads SECTOR_SIZE_IN_BYTE).
  const translationReads = new Map<number, TransactionHandle>();
  // Foreground GC inside a host write's FTL call: its own class (GC first with read-first, as
  // MQSim's non-preemptible GC), no request's, whole pages, not held after the request's update read.
  let gcDepth = 0;
  let savedClass = CLASS_WRITE;
  let savedBytes = 0;
  let savedHold: TransactionHandle | null = null;
  let savedNotBefore = 0;
  // Preemptible GC's urgency: some pool of the die (a plane's, with planes) below the threshold.
  const poolsPerDie = Math.max(1, Math.floor(host.ftl.freeCount.length / (host.geometry.channels * host.geometry.diesPerChannel)));
  scheduler.gcUrgent = (die, threshold) => {
    const pools = host.ftl.freeCount;
    if (pools.length === 1) return pools[0]! < threshold;
    for (let p = die * poolsPerDie; p < (die + 1) * poolsPerDie; p++) if (pools[p]! < threshold) return true;
    return false;
  };
  let savedRequest = -1;
  let savedLast: TransactionHandle | null = null;
  host.ftl.gcTiming = {
    begin: () => {
      if (gcDepth++ > 0) return;
      // GC is the device's work, not the request's (MQSim's GC transactions belong to no user
      // request): the request completes with its own transactions, which wait for GC only where
      // GC goes first.
      savedRequest = scheduler.request;
      scheduler.request = -1;
      savedLast = scheduler.lastTransaction;
      savedClass = scheduler.operationClass;
      savedBytes = scheduler.transferBytes;
      savedHold = scheduler.holdAfter;
      savedNotBefore = scheduler.notBefore;
      scheduler.operationClass = CLASS_GC;
      scheduler.transferBytes = 0;
      scheduler.holdAfter = null;
      scheduler.notBefore = 0;
    },
    end: () => {
      if (--gcDepth > 0) return;
      scheduler.request = savedRequest;
      scheduler.lastTransaction = savedLast;
      scheduler.operationClass = savedClass;
      scheduler.transferBytes = savedBytes;
      scheduler.holdAfter = savedHold;
      scheduler.notBefore = savedNotBefore;
    },
  };
  let pageTransfer = 0;
  host.ftl.translationTiming = {
    beforeRead: () => {
      scheduler.lastTransaction = null;
      scheduler.mappingOperations = true;
      if (partial) scheduler.transferBytes = SECTOR_BYTES;
    },
    afterRead: (tvpn) => {
      scheduler.mappingOperations = false;
      if (partial) scheduler.transferBytes = pageTransfer;
      const read = scheduler.lastTransaction;
      if (read === null) return; // held or run by a suspension: nothing to wait for
      scheduler.holdAfter = read;
      translationReads.set(tvpn, read);
    },
    join: (tvpn) => {
      const read = translationReads.get(tvpn);
      if (read === undefined) return false;
      const done = scheduler.doneTime(read);
      if (done < 0) scheduler.holdAfter = read;
      else if (done > scheduler.time) scheduler.notBefore = Math.max(scheduler.notBefore, done);
      else {
        translationReads.delete(tvpn);
        return false;
      }
      return true;
    },
  };
  try {
    for (let r = 0; r < requests.length; r++) {
      const req = requests[r]!;
      if (!Number.isSafeInteger((req.sector + req.sectors) * SECTOR_BYTES) || !(req.sectors >= 1)) {
        throw new SsdError('TRACE_PARSE', `request of line ${req.line}: sector ${req.sector} + ${req.sectors} is not a range below 2^53 bytes`);
      }
      let arrival = closed ? previousIssue : base + Math.max(0, req.arrivalNs - origin);
      let issue = arrival > previousIssue ? arrival : previousIssue;
      if (host.backgroundGcIdleNs > 0 && issue - previousIssue > host.backgroundGcIdleNs) {
        // An idle gap: GC units queued at its start, while their work ends before the next issue.
        scheduler.operationClass = CLASS_GC;
        for (let k = 0; k < 64; k++) {
          if (host.ftl.backgroundGc(1) === 0) break;
          while (scheduler.nextEvent() < issue) scheduler.step();
          if (clock.elapsed >= issue) break;
        }
      }
      if (cache !== null && cache.flushIdleNs > 0 && issue - previousIssue > cache.flushIdleNs) {
        // The same for the data cache's dirty pages: one write-back at a time while the gap lasts.
        scheduler.operationClass = CLASS_WRITE;
        cache.flush(() => {
          while (scheduler.nextEvent() < issue) scheduler.step();
          return clock.elapsed < issue;
        });
      }
      scheduler.advance(issue);
      while (doneCount > 0 && doneTimes[0]! <= issue) {
        doneCount = heapPop(doneTimes, doneCount);
        inFlight--;
      }
      if (inFlight === depth) {
        // Every slot taken: run the dies until the earliest completion is known, then take its slot.
        // Completions come in time order: the first one reported is the earliest.
        while (doneCount === 0) {
          if (scheduler.nextEvent() === Infinity) throw new SsdError('INVALID_CONFIG', 'internal: a full queue with nothing outstanding');
          scheduler.step();
        }
        const free = doneTimes[0]!;
        doneCount = heapPop(doneTimes, doneCount);
        inFlight--;
        if (free > issue) issue = free;
        if (closed) arrival = issue;
        scheduler.advance(issue);
      }
      previousIssue = issue;
      clock.issueAt(issue);
      arrivals[r] = arrival;
      kinds[r] = req.isTrim ? REQUEST_TRIM : req.isRead ? REQUEST_READ : REQUEST_WRITE;
      inFlight++;
      scheduler.open(r);
      scheduler.operationClass = req.isRead ? CLASS_READ : CLASS_WRITE;
      const first = Math.floor((req.sector * SECTOR_BYTES) / pageSize);
      const last = Math.floor(((req.sector + req.sectors) * SECTOR_BYTES - 1) / pageSize);
      for (let p = first; req.isTrim && p <= last; ) {
        const lba = p % user;
        const count = Math.min(last - p + 1, user - lba);
        cache?.invalidate(lba, count);
        host.ftl.trim(lba, count);
        p += count;
      }
      const firstByte = req.sector * SECTOR_BYTES;
      const endByte = (req.sector + req.sectors) * SECTOR_BYTES;
      for (let p = req.isTrim ? last + 1 : first; p <= last; p++) {
        const lba = p % user;
        // The bytes of this page the request touches: what its transfer moves.
        const touched = Math.min(endByte, (p + 1) * pageSize) - Math.max(firstByte, p * pageSize);
        pageTransfer = touched;
        if (partial) scheduler.transferBytes = touched;
        scheduler.notBefore = 0;
        if (req.isRead) {
          const served = cache !== null ? cache.read(lba, issue, touched) : -1;
          if (served >= 0) {
            // From DRAM: no transaction; the request ends no earlier than the access.
            scheduler.completeNoEarlierThan(r, served);
            continue;
          }
          if (host.ftl.read(lba) === 'unmapped' && flashReadUnmapped) {
            placeUnmappedRead(scheduler, host.geometry, lba);
            host.chargeUnmappedRead(lba);
          }
          scheduler.holdAfter = null;
          if (cache !== null && cache.readAllocate) scheduler.completeNoEarlierThan(r, cache.allocate(lba, issue, touched));
        } else if (cache !== null) {
          // Into DRAM; an eviction's write-back is a transaction of this request. A partial page
          // that is not cached still reads its old copy (a transaction of the request, not held).
          const old = rmw && touched < pageSize && !cache.has(lba) ? host.ftl.physicalPage(lba) : -1;
          if (old >= 0) {
            scheduler.operationClass = CLASS_READ;
            if (partial) scheduler.transferBytes = pageSize - touched;
            flash.readPage(old);
            host.readModifyWriteRead();
            if (partial) scheduler.transferBytes = touched;
          }
          scheduler.operationClass = CLASS_WRITE;
          scheduler.completeNoEarlierThan(r, cache.write(lba, issue, touched));
          scheduler.holdAfter = null;
          host.afterHostWrite();
        } else {
          const old = rmw && touched < pageSize ? host.ftl.physicalPage(lba) : -1;
          if (old >= 0) {
            // The update read (the sectors the write leaves), then the program held until it is done.
            scheduler.operationClass = CLASS_READ;
            if (partial) scheduler.transferBytes = pageSize - touched;
            scheduler.lastTransaction = null;
            flash.readPage(old);
            host.readModifyWriteRead();
            scheduler.holdAfter = scheduler.lastTransaction;
            scheduler.operationClass = CLASS_WRITE;
            if (partial) scheduler.transferBytes = touched;
          }
          host.ftl.write(lba);
          scheduler.holdAfter = null;
          host.afterHostWrite();
        }
      }
      scheduler.transferBytes = 0;
      scheduler.notBefore = 0;
      scheduler.seal(r);
      host.requestIssued();
      if (onProgress && (r & 0xfff) === 0xfff) onProgress(r + 1, requests.length);
    }
    scheduler.drain();
  } finally {
    clock.sink = null;
    scheduler.notBefore = 0;
    host.ftl.translationTiming = null;
    host.ftl.gcTiming = null;
  }
}

/** Pushes `value` on a binary min-heap of `size` items in `heap`; returns the new size. */
function heapPush(heap: Float64Array, size: number, value: number): number {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = value;
  return size + 1;
}

/** Removes the smallest item (heap[0]) of a binary min-heap of `size` items; returns the new size. */
function heapPop(heap: Float64Array, size: number): number {
  const last = heap[--size]!;
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1]! < heap[child]!) child++;
    if (heap[child]! >= last) break;
    heap[i] = heap[child]!;
    i = child;
  }
  if (size > 0) heap[i] = last;
  return size;
}
