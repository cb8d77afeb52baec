// The kernel replay (AssemblyScript, part of the FTL's WebAssembly module, entry
// kernel/simulator-kernel.ts): src/simulator/replay.ts's replayTraceScheduled — the host interface
// (a submission queue of queueDepth slots, open or closed loop), each request split into page
// transactions on the FTL (kernel/ftl/mapping.ts replayRead, replayWrite, with foreground GC and
// wear leveling in kernel/ftl/replay-gc.ts) through the plane view (kernel/planes.ts) and the
// transaction scheduler (kernel/scheduler.ts), read-modify-write of partial pages, flash reads of
// unwritten LBAs, every request's latency in the histograms by kind, time-series points (the
// kernel stops after the write that makes one due) — for the configurations
// src/simulator/replay-kernel.ts hands it (no data cache, no cached mapping table, no background
// GC, no suspension, no TRIM, and a check made first that no pool can run out of free blocks).
// The same decisions, order and arithmetic as the TypeScript replay;
// test/replay-kernel-scheduled.test.ts and test/kernel-replay-gc.test.ts compare every request's latency.
// Counterpart of src/simulator/replay.ts (MQSim: Host_Interface_NVMe, IO_Flow_Trace_Based).
import { issueAt } from '../../../nand/kernel/metadata-device';
import {
  C_BASE, C_COUNTS, C_HOST_OPS, C_HOST_PAGE_READS, C_LATEST, C_MP_COMMANDS, C_MP_OPERATIONS, C_NOW, C_ORIGIN, C_PER_BYTE, C_RMW_READS, C_SEQUENCE, C_TBERS,
  C_TPROG, C_TR, C_UNMAPPED_READS, C_WRITE_MAX, D_ALLOCATION, D_CELLS, D_CHANNELS, D_CLOSED, D_DIES_PER_CHANNEL, D_DIE_FREE, D_DONE_TIMES,
  D_FINISH_REQUEST, D_FINISH_TIME, D_FLASH_READ_UNMAPPED, D_GROUP, D_GROUPING, D_HEADS, D_HEAP_DIE, D_HEAP_INDEX, D_HEAP_KEY, D_HISTOGRAMS, D_IN_ARRIVAL,
  D_IN_READ, D_IN_SECTOR, D_IN_SECTORS, D_LOG, D_OPERATION_CLASS, D_PROGRESS, D_SNAPSHOT_EVERY, D_UNTIL_POINT, D_PAGES_PER_BLOCK, D_PAGE_SIZE, D_PARTIAL, D_PLANES, D_PLANE_SETS, D_PROGRAM_PAGE,
  D_PROGRAM_PLANE, D_QUEUE_DEPTH, D_READ_FIRST, D_READ_PAGE, D_READ_PLANE, D_REAL_BLOCKS_PER_DIE, D_RECORD_BYTES, D_REQUESTS, D_RUN_KIND, D_RUN_REQUEST, D_REQ_FLOATS, D_REQ_INTS,
  D_RMW, D_SAME_PAGE, D_SPARE_SIZE, D_TAILS, D_TX_CAPACITY, D_TX_FLOATS, D_TX_INTS, D_USER_PAGES, D_VIEW_BLOCKS_PER_DIE, HISTOGRAMS, H_INTERVAL, H_LATENCY,
  H_READ, H_TRIM, C_WEAR_CHECK, C_WEAR_MOVED, C_WEAR_RUNS, D_COLD_SLOT, D_GC_GROUP, D_GC_SCRATCH, D_P2L, D_PLANE_HEADS, D_PLANE_TAILS, D_STATIC_WEAR_LEVELING, D_UNITS, D_WEAR_THRESHOLD,
} from '../../src/simulator/replay-abi';
import { bindReplayGc, erasesSinceWearCheck, wearLevelingMovedPages, wearLevelingRuns } from '../ftl/replay-gc';
import { l2p } from '../ftl/state';
import { settleLba } from '../ftl/lazy-fill';
import { bindReplayFtl, replayRead, replayWrite } from '../ftl/mapping';
import { HISTOGRAM_BYTES, bucketOf, recordInBucket } from '../metrics';
import { bindPlanes, readPage } from '../planes';
import {
  advance, bindScheduler, drain, enqueue, lastTransaction, latest, nextEvent, now, open, operationClass, seal, sequence, setHoldAfter,
  setLastTransaction, setOperationClass, setTransferBytes, step, storeCounts,
} from '../scheduler';
import { bindDieQueues, bindPlaneChains } from '../scheduler/die-queues';
import {
  bindGrouping, grouping, multiPlaneCommands, multiPlaneOperations, programPageInBlock, programPlane, readPageInBlock, readPlane, setPlanes, setReadPageInBlock,
} from '../scheduler/multi-plane';
import { CLASS_READ, CLASS_WRITE, KIND_READ, R_ARRIVAL, R_KIND, bindRecords, ri, rf, setRf, setRi } from '../scheduler/transactions';

/** The sector size of the traces (trace.ts SECTOR_BYTES). */
const SECTOR_BYTES: f64 = 512;
// Request kinds (replay.ts REQUEST_*).
const REQUEST_WRITE: i32 = 0;
const REQUEST_READ: i32 = 1;
const REQUEST_TRIM: i32 = 2;

// Bound for one replayScheduled() call.
let histograms: usize = 0;
let doneTimes: usize = 0;
let doneCount: i32 = 0;
/** SsdSimulator.requestLog: kind and latency of each request as it completes (0: not kept), and the pairs so far. */
let log: usize = 0;
let logged: i32 = 0;
let writeMax: f64 = 0;
let channels: i32 = 1;
let diesPerChannel: i32 = 1;
let pagesPerBlock: i32 = 1;
let planesPerDie: i32 = 1;

@inline function at32(desc: usize, slot: i32): i32 {
  return load<i32>(desc + (<usize>slot << 2));
}
@inline function cell(cells: usize, c: i32): f64 {
  return load<f64>(cells + (<usize>c << 3));
}
@inline function addr(desc: usize, slot: i32): usize {
  return <usize>load<i32>(desc + (<usize>slot << 2));
}

// ------------------------------------------------------------------ the host's queue of completions (replay.ts heapPush, heapPop)

// Mirrors: packages/ssd/src/simulator/replay.ts#heapPush kernel:56699523 source:63422735
function heapPush(heap: usize, size: i32, value: f64): i32 {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const p = load<f64>(heap + (<usize>parent << 3));
    if (p <= value) break;
    store<f64>(heap + (<usize>i << 3), p);
    i = parent;
  }
  store<f64>(heap + (<usize>i << 3), value);
  return size + 1;
}

// Mirrors: packages/ssd/src/simulator/replay.ts#heapPop kernel:f43e735d source:7feec8b5
function heapPop(heap: usize, size: i32): i32 {
  const last = load<f64>(heap + (<usize>(--size) << 3));
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && load<f64>(heap + (<usize>(child + 1) << 3)) < load<f64>(heap + (<usize>child << 3))) child++;
    const c = load<f64>(heap + (<usize>child << 3));
    if (c >= last) break;
    store<f64>(heap + (<usize>i << 3), c);
    i = child;
  }
  if (size > 0) store<f64>(heap + (<usize>i << 3), last);
  return size;
}

// ------------------------------------------------------------------ what the replay records (simulator.ts recordRequest)

/** A request's latency: in every request's histogram, the interval's, and its kind's. */
// Mirrors: packages/ssd/src/simulator.ts#SsdSimulator.recordRequest kernel:c021579e source:6845f6cd
function recordRequest(kind: i32, latency: f64): void {
  if (log != 0) {
    store<f64>(log + (<usize>logged << 4), <f64>kind);
    store<f64>(log + (<usize>logged << 4), latency, 8);
    logged++;
  }
  const edges = histograms + <usize>(HISTOGRAMS * HISTOGRAM_BYTES);
  const bucket = bucketOf(latency, edges);
  recordInBucket(histograms + <usize>(H_LATENCY * HISTOGRAM_BYTES), bucket, latency);
  recordInBucket(histograms + <usize>(H_INTERVAL * HISTOGRAM_BYTES), bucket, latency);
  if (kind == REQUEST_TRIM) recordInBucket(histograms + <usize>(H_TRIM * HISTOGRAM_BYTES), bucket, latency);
  else if (kind == REQUEST_READ) recordInBucket(histograms + <usize>(H_READ * HISTOGRAM_BYTES), bucket, latency);
  else if (latency > writeMax) writeMax = latency;
}

/** The scheduler's onComplete: the request's slot frees at its completion, its latency recorded. */
// Mirrors: packages/ssd/src/simulator/replay.ts#replayTraceScheduled kernel:c36d657e source:2ee84a63
export function requestCompleted(r: i32, completion: f64): void {
  doneCount = heapPush(doneTimes, doneCount, completion);
  recordRequest(ri(r, R_KIND), completion - rf(r, R_ARRIVAL));
}

// ------------------------------------------------------------------ reads of never-written LBAs (replay.ts placeUnmappedRead, simulator.ts chargeUnmappedRead)

/** The plane and page a never-written LBA's flash read is charged at (a sequential channel-first fill's). */
// Mirrors: packages/ssd/src/simulator/replay.ts#placeUnmappedRead kernel:85018bc4 source:3b49b821
function placeUnmappedRead(lba: i32): void {
  if (grouping == 0) return;
  const stripe = lba / (channels * diesPerChannel);
  setPlanes(stripe % planesPerDie, 0);
  setReadPageInBlock((stripe / planesPerDie) % pagesPerBlock);
}

/** The page read of a never-written LBA: on the die channel-first striping gives it, a whole page and spare. */
// Mirrors: packages/ssd/src/simulator.ts#SsdSimulator.chargeUnmappedRead kernel:1844e4da source:b26c40ec
function chargeUnmappedRead(lba: i32, bytes: i32): void {
  const channel = lba % channels;
  const die = channel * diesPerChannel + (lba / channels) % diesPerChannel;
  enqueue(die, KIND_READ, channel, bytes);
}

// ------------------------------------------------------------------ the replay

// The replay's state between calls (replayScheduled starts it, replayResume goes on after a
// time-series point): the descriptor, the loop's position and what it has counted.
let desc: usize = 0;
let request: i32 = 0;
/** The next page of the current request (its first before the request was issued). */
let page: f64 = 0;
/** 1 while a request is issued and its pages are being handed over (a point came in between). */
let midRequest: i32 = 0;
let isRead: bool = false;
let lastPage: f64 = 0;
let firstByte: f64 = 0;
let endByte: f64 = 0;
let inFlight: i32 = 0;
let previousIssue: f64 = 0;
let hostOps: f64 = 0;
let rmwReads: f64 = 0;
let unmappedReads: f64 = 0;
let hostPageReads: f64 = 0;
/** Host page writes until the next time-series point (0: no points). */
let untilPoint: i32 = 0;
let snapshotEvery: i32 = 0;

/** Why replayScheduled / replayResume returned (src/simulator/replay-kernel.ts reads the same values). */
const DONE: i32 = 0;
const QUEUE_STUCK: i32 = 1;
const POINT: i32 = 2;

/**
 * Starts replaying the requests of descriptor `at` (replay-abi.ts D_*): binds the tables and
 * parameters, then runs as replayResume does.
 */
export function replayScheduled(at: usize): i32 {
  desc = at;
  const cells = addr(desc, D_CELLS);
  channels = at32(desc, D_CHANNELS);
  diesPerChannel = at32(desc, D_DIES_PER_CHANNEL);
  pagesPerBlock = at32(desc, D_PAGES_PER_BLOCK);
  planesPerDie = at32(desc, D_PLANES);
  histograms = addr(desc, D_HISTOGRAMS);
  doneTimes = addr(desc, D_DONE_TIMES);
  doneCount = 0;
  log = addr(desc, D_LOG);
  logged = 0;
  writeMax = load<f64>(cells + (<usize>C_WRITE_MAX << 3));
  bindRecords(addr(desc, D_TX_INTS), addr(desc, D_TX_FLOATS), at32(desc, D_TX_CAPACITY), addr(desc, D_REQ_INTS), addr(desc, D_REQ_FLOATS));
  bindDieQueues(addr(desc, D_HEADS), addr(desc, D_TAILS), addr(desc, D_DIE_FREE), addr(desc, D_HEAP_DIE), addr(desc, D_HEAP_KEY), addr(desc, D_HEAP_INDEX));
  bindScheduler(
    at32(desc, D_READ_FIRST), cell(cells, C_NOW), cell(cells, C_LATEST), cell(cells, C_SEQUENCE), cell(cells, C_TR), cell(cells, C_TPROG), cell(cells, C_TBERS), cell(cells, C_PER_BYTE),
    addr(desc, D_RUN_KIND), addr(desc, D_RUN_REQUEST), addr(desc, D_FINISH_TIME), addr(desc, D_FINISH_REQUEST), cells + (<usize>C_COUNTS << 3),
  );
  bindPlaneChains(
    addr(desc, D_PLANE_HEADS), addr(desc, D_PLANE_TAILS), at32(desc, D_GROUPING) != 0 ? planesPerDie : 0,
    at32(desc, D_GROUPING) != 0 && at32(desc, D_SAME_PAGE) != 0 ? pagesPerBlock + 1 : 1,
  );
  bindGrouping(
    at32(desc, D_GROUPING), at32(desc, D_PLANE_SETS), at32(desc, D_SAME_PAGE), at32(desc, D_READ_PLANE), at32(desc, D_PROGRAM_PLANE), at32(desc, D_READ_PAGE),
    at32(desc, D_PROGRAM_PAGE), cell(cells, C_MP_COMMANDS), cell(cells, C_MP_OPERATIONS), addr(desc, D_GROUP),
  );
  bindPlanes(planesPerDie, at32(desc, D_VIEW_BLOCKS_PER_DIE), at32(desc, D_REAL_BLOCKS_PER_DIE), pagesPerBlock, at32(desc, D_RECORD_BYTES));
  bindReplayFtl(at32(desc, D_ALLOCATION), planesPerDie);
  bindReplayGc(
    at32(desc, D_GC_GROUP), at32(desc, D_STATIC_WEAR_LEVELING), <f64>at32(desc, D_WEAR_THRESHOLD), addr(desc, D_COLD_SLOT), addr(desc, D_P2L), addr(desc, D_GC_SCRATCH),
    at32(desc, D_UNITS), <i32>cell(cells, C_WEAR_CHECK),
  );
  request = 0;
  midRequest = 0;
  inFlight = 0;
  hostOps = 0;
  rmwReads = 0;
  unmappedReads = 0;
  hostPageReads = 0;
  snapshotEvery = at32(desc, D_SNAPSHOT_EVERY);
  untilPoint = at32(desc, D_UNTIL_POINT);
  const base = cell(cells, C_BASE);
  previousIssue = base;
  advance(base);
  return replayResume();
}

/**
 * Replays the requests of the bound descriptor from where the last call stopped, to the end
 * (DONE, then everything is written back) or to the next time-series point (POINT: after the
 * host page write that makes it due, in the middle of its request, as replay.ts's afterHostWrite
 * records it; the histograms and counts are then in the block and cells for TypeScript, which
 * calls this again). QUEUE_STUCK: a full queue with nothing outstanding (replay.ts's internal error).
 */
// Mirrors: packages/ssd/src/simulator/replay.ts#replayTraceScheduled kernel:0a3385f2 source:2ee84a63
export function replayResume(): i32 {
  const cells = addr(desc, D_CELLS);
  const requests = at32(desc, D_REQUESTS);
  const depth = at32(desc, D_QUEUE_DEPTH);
  const closed = at32(desc, D_CLOSED) != 0;
  const flashReadUnmapped = at32(desc, D_FLASH_READ_UNMAPPED) != 0;
  const partial = at32(desc, D_PARTIAL) != 0;
  const rmw = at32(desc, D_RMW) != 0;
  const user = <f64>at32(desc, D_USER_PAGES);
  const pageSize = at32(desc, D_PAGE_SIZE);
  const pageBytes = <f64>pageSize;
  const unmappedBytes = pageSize + at32(desc, D_SPARE_SIZE);
  const inArrival = addr(desc, D_IN_ARRIVAL);
  const inSector = addr(desc, D_IN_SECTOR);
  const inSectors = addr(desc, D_IN_SECTORS);
  const inRead = addr(desc, D_IN_READ);
  const base = cell(cells, C_BASE);
  const origin = cell(cells, C_ORIGIN);
  let status = DONE;
  for (; request < requests; request++) {
    const r = request;
    if (midRequest == 0) {
      isRead = load<i32>(inRead + (<usize>r << 2)) != 0;
      const sector = load<f64>(inSector + (<usize>r << 3));
      const sectors = load<f64>(inSectors + (<usize>r << 3));
      const arrivalNs = load<f64>(inArrival + (<usize>r << 3));
      let arrival = closed ? previousIssue : base + max<f64>(0, arrivalNs - origin);
      let issue = arrival > previousIssue ? arrival : previousIssue;
      advance(issue);
      while (doneCount > 0 && load<f64>(doneTimes) <= issue) {
        doneCount = heapPop(doneTimes, doneCount);
        inFlight--;
      }
      if (inFlight == depth) {
        // Every slot taken: run the dies until the earliest completion is known, then take its slot.
        while (doneCount == 0) {
          if (nextEvent() == Infinity) {
            status = QUEUE_STUCK;
            break;
          }
          step();
        }
        if (status != DONE) break;
        const free = load<f64>(doneTimes);
        doneCount = heapPop(doneTimes, doneCount);
        inFlight--;
        if (free > issue) issue = free;
        if (closed) arrival = issue;
        advance(issue);
      }
      previousIssue = issue;
      issueAt(issue);
      setRf(r, R_ARRIVAL, arrival);
      setRi(r, R_KIND, isRead ? REQUEST_READ : REQUEST_WRITE);
      inFlight++;
      open(r);
      setOperationClass(isRead ? CLASS_READ : CLASS_WRITE);
      page = Math.floor((sector * SECTOR_BYTES) / pageBytes);
      lastPage = Math.floor(((sector + sectors) * SECTOR_BYTES - 1) / pageBytes);
      firstByte = sector * SECTOR_BYTES;
      endByte = (sector + sectors) * SECTOR_BYTES;
      midRequest = 1;
    }
    while (page <= lastPage) {
      const p = page;
      page = p + 1;
      const lba = <i32>(p % user);
      // The bytes of this page the request touches: what its transfer moves.
      const touched = <i32>(min<f64>(endByte, (p + 1) * pageBytes) - max<f64>(firstByte, p * pageBytes));
      if (partial) setTransferBytes(touched);
      if (isRead) {
        hostPageReads += 1;
        if (replayRead(lba) == 0 && flashReadUnmapped) {
          placeUnmappedRead(lba);
          unmappedReads += 1;
          chargeUnmappedRead(lba, unmappedBytes);
        }
        setHoldAfter(-1);
      } else {
        if (rmw && touched < pageSize) settleLba(lba);
        const old = rmw && touched < pageSize ? ~load<i32>(l2p + (<usize>lba << 2)) : -1;
        if (old >= 0) {
          // The update read (the sectors the write leaves), then the program held until it is done.
          // Through the plane view (replay.ts reads it through the FTL's device): the old copy's block.
          setOperationClass(CLASS_READ);
          if (partial) setTransferBytes(pageSize - touched);
          setLastTransaction(-1);
          readPage(old);
          rmwReads += 1;
          setHoldAfter(lastTransaction);
          setOperationClass(CLASS_WRITE);
          if (partial) setTransferBytes(touched);
        }
        replayWrite(lba);
        setHoldAfter(-1);
        // afterHostWrite: a time-series point every snapshotEvery host page writes.
        if (snapshotEvery > 0 && --untilPoint == 0) {
          untilPoint = snapshotEvery;
          status = POINT;
          break;
        }
      }
    }
    if (status != DONE) break;
    setTransferBytes(0);
    seal(r);
    hostOps += 1;
    midRequest = 0;
  }
  store<f64>(cells + (<usize>C_WEAR_CHECK << 3), <f64>erasesSinceWearCheck);
  store<f64>(cells + (<usize>C_WEAR_RUNS << 3), wearLevelingRuns);
  store<f64>(cells + (<usize>C_WEAR_MOVED << 3), wearLevelingMovedPages);
  if (status == POINT) {
    // Mid-request: the loop goes on from here at the next call; TypeScript reads the histograms.
    store<i32>(desc + (<usize>D_PROGRESS << 2), request);
    store<f64>(cells + (<usize>C_WRITE_MAX << 3), writeMax);
    return status;
  }
  if (status == DONE) drain();
  // What TypeScript reads back.
  store<f64>(cells + (<usize>C_NOW << 3), now);
  store<f64>(cells + (<usize>C_LATEST << 3), latest);
  store<f64>(cells + (<usize>C_SEQUENCE << 3), sequence);
  storeCounts(cells + (<usize>C_COUNTS << 3));
  store<f64>(cells + (<usize>C_MP_COMMANDS << 3), multiPlaneCommands);
  store<f64>(cells + (<usize>C_MP_OPERATIONS << 3), multiPlaneOperations);
  store<f64>(cells + (<usize>C_HOST_OPS << 3), hostOps);
  store<f64>(cells + (<usize>C_RMW_READS << 3), rmwReads);
  store<f64>(cells + (<usize>C_UNMAPPED_READS << 3), unmappedReads);
  store<f64>(cells + (<usize>C_HOST_PAGE_READS << 3), hostPageReads);
  store<f64>(cells + (<usize>C_WRITE_MAX << 3), writeMax);
  store<i32>(desc + (<usize>D_READ_PLANE << 2), readPlane);
  store<i32>(desc + (<usize>D_PROGRAM_PLANE << 2), programPlane);
  store<i32>(desc + (<usize>D_READ_PAGE << 2), readPageInBlock);
  store<i32>(desc + (<usize>D_PROGRAM_PAGE << 2), programPageInBlock);
  store<i32>(desc + (<usize>D_OPERATION_CLASS << 2), operationClass);
  store<i32>(desc + (<usize>D_PROGRESS << 2), request);
  return status;
}
