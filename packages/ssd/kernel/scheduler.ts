// The kernel's flash transaction scheduler (AssemblyScript, part of the FTL's WebAssembly module;
// driven by kernel/simulator/replay.ts): src/scheduler.ts's TransactionScheduler for the
// configurations the kernel replay covers — 'fifo' or 'read-first' (GC first: it is never
// preemptible here), no program/erase suspension, no copyback, no translation-page reads — over
// transaction records in the shared memory (scheduler/transactions.ts), with the channels booked
// through nand's kernel (NandClock.bookChannel, noteCompletion). Same events, same order, same
// arithmetic as src/scheduler.ts; test/replay-kernel-scheduled.test.ts compares the two.
// Counterpart of src/scheduler.ts (MQSim: TSU_Base, TSU_Priority_OutOfOrder).
import { addDieBusy, bookChannel, issueAt, noteCompletion } from '../../nand/kernel/metadata-device';
import { requestCompleted } from './simulator/replay';
import { append, dieAt, dieFree, headOf, heapRemove, heapSize, keyAt, schedule, unlink } from './scheduler/die-queues';
import { gather, groupAt, grouping, programPageInBlock, programPlane, readPageInBlock, readPlane } from './scheduler/multi-plane';
import {
  CLASSES, CLASS_GC, CLASS_READ, CLASS_WRITE, KIND_ERASE, KIND_PROGRAM, KIND_READ, R_COMPLETION, R_FINISHED, R_PENDING, R_SEALED,
  T_BYTES, T_CHANNEL, T_COUNTED, T_CREATED, T_DEP_HEAD, T_DEP_NEXT, T_DEP_TAIL, T_DIE, T_DONE, T_ISSUE, T_KIND, T_KLASS, T_OPCLASS, T_PAGE,
  T_PLANE, T_REQUEST, T_SEQUENCE, freeTransaction, newTransaction, rf, ri, setRf, setRi, setTf, setTi, tf, ti,
} from './scheduler/transactions';

// The hand-over state the host model sets around each FTL call (TransactionScheduler's fields).
export let operationClass: i32 = CLASS_WRITE;
export let request: i32 = -1;
export let transferBytes: i32 = 0;
export let holdAfter: i32 = -1;
export let lastTransaction: i32 = -1;
// The event loop's scalars.
export let now: f64 = 0;
export let latest: f64 = 0;
export let sequence: f64 = 0;
export let readFirst: i32 = 1;
let tR: f64 = 0;
let tPROG: f64 = 0;
let tBERS: f64 = 0;
let transferPerByte: f64 = 0;
// The counts a measurement window reports (TransactionScheduler.hostReadTransactions …).
export let hostReadTransactions: f64 = 0;
export let hostReadTurnaroundNs: f64 = 0;
export let hostProgramTransactions: f64 = 0;
export let hostProgramTurnaroundNs: f64 = 0;
// Per die: the kind and request of the operation it ran last (runKind, runRequest).
let runKind: usize = 0;
let runRequest: usize = 0;
// Requests whose transactions have all started, by completion: a binary min-heap (lazy, as src/scheduler.ts).
let finishTime: usize = 0;
let finishRequest: usize = 0;
export let finishSize: i32 = 0;

export function bindScheduler(
  first: i32, at: f64, latestAt: f64, sequenceAt: f64, tRead: f64, tProgram: f64, tErase: f64, perByte: f64,
  runKindAt: usize, runRequestAt: usize, finishTimeAt: usize, finishRequestAt: usize, counts: usize,
): void {
  readFirst = first;
  now = at;
  latest = latestAt;
  sequence = sequenceAt;
  tR = tRead;
  tPROG = tProgram;
  tBERS = tErase;
  transferPerByte = perByte;
  runKind = runKindAt;
  runRequest = runRequestAt;
  finishTime = finishTimeAt;
  finishRequest = finishRequestAt;
  finishSize = 0;
  hostReadTransactions = load<f64>(counts);
  hostReadTurnaroundNs = load<f64>(counts, 8);
  hostProgramTransactions = load<f64>(counts, 16);
  hostProgramTurnaroundNs = load<f64>(counts, 24);
  operationClass = CLASS_WRITE;
  request = -1;
  transferBytes = 0;
  holdAfter = -1;
  lastTransaction = -1;
}

/** Writes the counts back (bindScheduler's layout). */
export function storeCounts(counts: usize): void {
  store<f64>(counts, hostReadTransactions);
  store<f64>(counts, hostReadTurnaroundNs, 8);
  store<f64>(counts, hostProgramTransactions, 16);
  store<f64>(counts, hostProgramTurnaroundNs, 24);
}

@inline export function setOperationClass(klass: i32): void {
  operationClass = klass;
}
@inline export function setTransferBytes(bytes: i32): void {
  transferBytes = bytes;
}
@inline export function setHoldAfter(t: i32): void {
  holdAfter = t;
}
@inline export function setLastTransaction(t: i32): void {
  lastTransaction = t;
}
@inline export function setRequest(r: i32): void {
  request = r;
}

// Mirrors: packages/ssd/src/scheduler.ts#TransactionScheduler.open kernel:4cc41570 source:1fa18de8
export function open(r: i32): void {
  request = r;
  setRi(r, R_PENDING, 0);
  setRf(r, R_COMPLETION, now);
  setRi(r, R_SEALED, 0);
  setRi(r, R_FINISHED, 0);
}

// Mirrors: packages/ssd/src/scheduler.ts#TransactionScheduler.seal kernel:7d562293 source:427c3913
export function seal(r: i32): void {
  setRi(r, R_SEALED, 1);
  if (ri(r, R_PENDING) == 0) finishAt(r);
  request = -1;
}

/** An operation handed over (NandOperationSink read, program, erase): queued, or held after holdAfter. */
// Mirrors: packages/ssd/src/scheduler.ts#TransactionScheduler.enqueue packages/ssd/src/scheduler.ts#TransactionScheduler.read packages/ssd/src/scheduler.ts#TransactionScheduler.program kernel:0ff26943 source:cdeaaa00
export function enqueue(die: i32, kind: i32, channel: i32, bytes: i32): void {
  if (kind != KIND_ERASE && transferBytes > 0) bytes = transferBytes;
  const plane = grouping == 0 ? -1 : kind == KIND_READ ? readPlane : programPlane;
  const page = grouping == 0 || kind == KIND_ERASE ? -1 : kind == KIND_READ ? readPageInBlock : programPageInBlock;
  if (request >= 0) setRi(request, R_PENDING, ri(request, R_PENDING) + 1);
  const hold = holdAfter;
  if (hold >= 0) {
    // A held transaction: a record not in any queue until its holder has run.
    const h = newTransaction();
    setTi(h, T_DIE, die);
    setTi(h, T_KIND, kind);
    setTi(h, T_PLANE, plane);
    setTi(h, T_PAGE, page);
    setTi(h, T_CHANNEL, channel);
    setTi(h, T_BYTES, bytes);
    setTf(h, T_CREATED, now);
    setTi(h, T_COUNTED, 1);
    setTi(h, T_REQUEST, request);
    setTi(h, T_OPCLASS, operationClass);
    setTi(h, T_DEP_NEXT, -1);
    const tail = ti(hold, T_DEP_TAIL);
    if (tail < 0) setTi(hold, T_DEP_HEAD, h);
    else setTi(tail, T_DEP_NEXT, h);
    setTi(hold, T_DEP_TAIL, h);
    return;
  }
  // notBefore is 0 here (no translation reads) and no read suspends anything: issued now.
  queue(die, kind, plane, page, channel, bytes, now, now, 1, request, operationClass);
}

// Mirrors: packages/ssd/src/scheduler.ts#TransactionScheduler.queue kernel:82b38c25 source:360d6ac2
function queue(die: i32, kind: i32, plane: i32, page: i32, channel: i32, bytes: i32, issue: f64, created: f64, counted: i32, r: i32, opClass: i32): void {
  const klass = opClass == CLASS_GC ? CLASS_GC : kind == KIND_READ && opClass == CLASS_READ ? CLASS_READ : CLASS_WRITE;
  const t = newTransaction();
  setTi(t, T_KIND, kind);
  setTi(t, T_PLANE, plane);
  setTi(t, T_PAGE, page);
  setTi(t, T_CHANNEL, channel);
  setTi(t, T_BYTES, bytes);
  setTf(t, T_ISSUE, issue);
  setTf(t, T_CREATED, created);
  setTi(t, T_KLASS, klass);
  setTi(t, T_COUNTED, counted);
  setTi(t, T_REQUEST, r);
  setTf(t, T_SEQUENCE, sequence);
  sequence += 1;
  setTi(t, T_DEP_HEAD, -1);
  setTi(t, T_DEP_TAIL, -1);
  setTf(t, T_DONE, -1);
  lastTransaction = t;
  append(CLASSES * die + klass, t);
  schedule(die);
}

/** Runs every event (starts, completions) up to `time`; operations handed over next are issued then. */
// Mirrors: packages/ssd/src/scheduler.ts#TransactionScheduler.advance kernel:ba6dd46e source:ee7ca4d0
export function advance(time: f64): void {
  while (nextEvent() <= time) step();
  if (time > now) now = time;
}

// Mirrors: packages/ssd/src/scheduler.ts#TransactionScheduler.nextEvent kernel:c7007928 source:504f356d
export function nextEvent(): f64 {
  const start = heapSize > 0 ? keyAt(0) : Infinity;
  const finish = finishSize > 0 ? load<f64>(finishTime) : Infinity;
  return start < finish ? start : finish;
}

@inline function finishTimeAt(i: i32): f64 {
  return load<f64>(finishTime + (<usize>i << 3));
}
@inline function finishRequestAt(i: i32): i32 {
  return load<i32>(finishRequest + (<usize>i << 2));
}
@inline function setFinish(i: i32, time: f64, r: i32): void {
  store<f64>(finishTime + (<usize>i << 3), time);
  store<i32>(finishRequest + (<usize>i << 2), r);
}

// Mirrors: packages/ssd/src/scheduler.ts#TransactionScheduler.finishAt kernel:255070b7 source:87260c38
function finishAt(r: i32): void {
  const time = rf(r, R_COMPLETION);
  let i = finishSize++;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (finishTimeAt(parent) <= time) break;
    setFinish(i, finishTimeAt(parent), finishRequestAt(parent));
    i = parent;
  }
  setFinish(i, time, r);
}

// Mirrors: packages/ssd/src/scheduler.ts#TransactionScheduler.finishNext kernel:38d35098 source:d4f4033b
function finishNext(): void {
  const time = finishTimeAt(0);
  const r = finishRequestAt(0);
  const size = --finishSize;
  const lastTime = finishTimeAt(size);
  const lastRequest = finishRequestAt(size);
  if (size > 0) {
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && finishTimeAt(child + 1) < finishTimeAt(child)) child++;
      if (finishTimeAt(child) >= lastTime) break;
      setFinish(i, finishTimeAt(child), finishRequestAt(child));
      i = child;
    }
    setFinish(i, lastTime, lastRequest);
  }
  if (ri(r, R_FINISHED) != 0 || time != rf(r, R_COMPLETION)) return;
  setRi(r, R_FINISHED, 1);
  if (time > now) now = time;
  requestCompleted(r, time);
}

/** Runs the next event: the earliest transaction start or request completion. */
// Mirrors: packages/ssd/src/scheduler.ts#TransactionScheduler.step kernel:7287eeb8 source:fc196b0f
export function step(): void {
  if (finishSize > 0 && (heapSize == 0 || finishTimeAt(0) <= keyAt(0))) {
    finishNext();
    return;
  }
  const die = dieAt(0);
  const start = keyAt(0);
  heapRemove(0);
  // GC, then host reads, then host writes ('read-first'); the earliest handed over ('fifo').
  const base = CLASSES * die;
  let q = -1;
  for (let k = 0; k < 3; k++) {
    const klass = k == 0 ? CLASS_GC : k == 1 ? CLASS_READ : CLASS_WRITE;
    const head = headOf(base + klass);
    if (head < 0 || tf(head, T_ISSUE) > start) continue;
    if (q < 0 || (readFirst != 0 ? false : tf(head, T_SEQUENCE) < tf(headOf(q), T_SEQUENCE))) q = base + klass;
  }
  const t = headOf(q);
  unlink(q, t);
  issueAt(start);
  const kind = ti(t, T_KIND);
  const grouped = grouping != 0 && ti(t, T_PLANE) >= 0 ? gather(t, q, base, start) : 0;
  const transfer = <f64>ti(t, T_BYTES) * transferPerByte;
  let busyFrom = start;
  let done: f64;
  let end: f64;
  if (kind == KIND_READ) {
    done = transfer > 0 ? bookChannel(ti(t, T_CHANNEL), start + tR, transfer) + transfer : start + tR;
    end = done;
    for (let k = 0; k < grouped; k++) {
      const x = groupAt(k);
      const moved = <f64>ti(x, T_BYTES) * transferPerByte;
      if (moved > 0) end = bookChannel(ti(x, T_CHANNEL), end, moved) + moved;
      setTf(x, T_DONE, end);
    }
  } else if (kind == KIND_PROGRAM) {
    busyFrom = transfer > 0 ? bookChannel(ti(t, T_CHANNEL), start, transfer) : start;
    end = busyFrom + transfer;
    for (let k = 0; k < grouped; k++) {
      const x = groupAt(k);
      const moved = <f64>ti(x, T_BYTES) * transferPerByte;
      if (moved > 0) end = bookChannel(ti(x, T_CHANNEL), end, moved) + moved;
    }
    done = end + tPROG;
    end = done;
  } else {
    done = start + tBERS;
    end = done;
  }
  setTf(t, T_DONE, done);
  if (kind != KIND_READ) for (let k = 0; k < grouped; k++) setTf(groupAt(k), T_DONE, done);
  store<f64>(dieFree + (<usize>die << 3), end);
  store<i32>(runKind + (<usize>die << 2), kind);
  store<i32>(runRequest + (<usize>die << 2), ti(t, T_REQUEST));
  addDieBusy(die, end - busyFrom);
  noteCompletion(end);
  if (end > latest) latest = end;
  complete(t);
  for (let k = 0; k < grouped; k++) complete(groupAt(k));
  schedule(die);
  // Nothing refers to a transaction that has run (a hold is taken and used within one request's
  // hand-over, before any step): its record is reused.
  freeTransaction(t);
  for (let k = 0; k < grouped; k++) freeTransaction(groupAt(k));
}

/** A started transaction's consequences: its held transactions queue, its request counts it. */
// Mirrors: packages/ssd/src/scheduler.ts#TransactionScheduler.complete kernel:69889158 source:2fa0e613
function complete(t: i32): void {
  const done = tf(t, T_DONE);
  const r = ti(t, T_REQUEST);
  if (r >= 0 && ti(t, T_COUNTED) != 0) {
    if (ti(t, T_KLASS) == CLASS_READ) {
      hostReadTransactions += 1;
      hostReadTurnaroundNs += done - tf(t, T_CREATED);
    } else if (ti(t, T_KIND) == KIND_PROGRAM && ti(t, T_KLASS) == CLASS_WRITE) {
      hostProgramTransactions += 1;
      hostProgramTurnaroundNs += done - tf(t, T_CREATED);
    }
  }
  let h = ti(t, T_DEP_HEAD);
  if (h >= 0) {
    // Their turn comes when this one is done: into their dies' queues, issued then.
    while (h >= 0) {
      const next = ti(h, T_DEP_NEXT);
      queue(ti(h, T_DIE), ti(h, T_KIND), ti(h, T_PLANE), ti(h, T_PAGE), ti(h, T_CHANNEL), ti(h, T_BYTES), done, tf(h, T_CREATED), ti(h, T_COUNTED), ti(h, T_REQUEST), ti(h, T_OPCLASS));
      freeTransaction(h);
      h = next;
    }
    setTi(t, T_DEP_HEAD, -1);
    setTi(t, T_DEP_TAIL, -1);
  }
  if (r >= 0) {
    if (done > rf(r, R_COMPLETION)) setRf(r, R_COMPLETION, done);
    const pending = ri(r, R_PENDING) - 1;
    setRi(r, R_PENDING, pending);
    if (pending == 0 && ri(r, R_SEALED) != 0) finishAt(r);
  }
}

/** Runs everything still waiting; returns the latest completion. */
// Mirrors: packages/ssd/src/scheduler.ts#TransactionScheduler.drain kernel:50cbb10d source:8e00bec5
export function drain(): f64 {
  while (heapSize > 0 || finishSize > 0) step();
  return latest;
}
