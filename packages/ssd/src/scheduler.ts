/**
 * The SSD controller's flash transaction scheduler — MQSim's TSU (src/ssd/TSU_Base.cpp,
 * TSU_Priority_OutOfOrder.cpp) in a few lines: every flash operation the FTL issues becomes a
 * transaction in a queue of its die (one queue per class: GC, host reads, host writes), and each
 * die, when it is free, starts the next transaction by the chosen policy:
 *   - 'fifo': in issue order (what nand's eager NandClock computes directly);
 *   - 'read-first': the die's waiting GC goes first, then host reads, then host programs and
 *     erases (MQSim's default PRIORITY_OUT_OF_ORDER with non-preemptible GC; with preemptible GC,
 *     GC goes last while its die is not urgent). Without suspension nothing is preempted: a read
 *     waits for the operation its die is running.
 * Program/erase suspend ({@link SuspendOptions}): a host read arriving while its die runs a
 * program (or erase) with more than a threshold left, and no other read waiting there, suspends
 * it: the read runs after the suspend latency, and the suspended operation resumes after it,
 * finishing later by the time it lost (one suspension at a time per die, as in MQSim).
 * Multi-plane commands ({@link TransactionScheduler.multiPlane}): when a die starts a transaction,
 * the transactions of the same kind waiting on its other planes (issued by then, the same queue
 * first, then the die's other queue) go with it as one command — k reads: one tR then k transfers;
 * k programs: k transfers then one tPROG; k erases: one tBERS (MQSim's
 * TSU_Base::issue_command_to_chip and its planeVector). Copyback halves (the grouping's copyback
 * flag) move no bytes and join only each other.
 * The channels are nand's: a transfer books the earliest gap of its channel's calendar
 * (NandClock.bookChannel). It is a discrete-event simulation: the host model hands it the
 * operations of each request at the request's issue time (the FTL decides the addresses then, as
 * MQSim's address mapping unit does) and advances it to each issue time; a request completes when
 * its last transaction does. The FTL and the device see no difference: the device's clock hands
 * the operations over (NandClock.sink) instead of timing them.
 * This file owns {@link TransactionScheduler}: the hand-over (holds, mapping reads, transfer sizes),
 * suspension, the event loop (the queue a starting die serves, the command's timing) and request
 * completion; MQSim's TSU_Base (serving a free chip), TSU_OutOfOrder (suspension) and
 * TSU_Priority_OutOfOrder (the queue order). Beside it in scheduler/: transactions.ts (classes,
 * kinds, records, option types; re-exported here), die-queues.ts (each die's queues, the heap of
 * dies waiting to start) and multi-plane.ts (which waiting transactions join a starting one).
 */
import type { NandClock, NandOperationSink, NandTimingParams } from '@flashdiff/nand';
import { MultiPlaneDieQueues } from './scheduler/multi-plane.ts';
import { CLASSES, CLASS_GC, CLASS_READ, CLASS_WRITE, KIND_ERASE, KIND_PROGRAM, KIND_READ, PREEMPTIBLE, PRIORITY } from './scheduler/transactions.ts';
import type { SuspendOptions, Transaction, TransactionHandle, TransactionScheduling, TransactionTurnaround } from './scheduler/transactions.ts';

export { CLASS_GC, CLASS_READ, CLASS_WRITE, TRANSACTION_SCHEDULINGS } from './scheduler/transactions.ts';
export type { SuspendOptions, TransactionHandle, TransactionScheduling, TransactionTurnaround } from './scheduler/transactions.ts';

/** TransactionScheduler.kernelState. */
export interface SchedulerKernelState {
  readonly idle: boolean;
  readonly kernelCovers: boolean;
  readonly readFirst: boolean;
  readonly now: number;
  readonly latest: number;
  readonly sequence: number;
  readonly tR: number;
  readonly tPROG: number;
  readonly tBERS: number;
  readonly transferPerByte: number;
  readonly dieFree: Float64Array;
  readonly runKind: Int8Array;
  readonly runRequest: Int32Array;
}

export class TransactionScheduler extends MultiPlaneDieQueues implements NandOperationSink {
  /** The class of the operations handed over next (set by the host model around each FTL call). */
  operationClass = CLASS_WRITE;
  /** The request the operations handed over next belong to (−1: none). */
  request = -1;
  /**
   * Bytes the next reads and programs move on the channel instead of the device's page + spare
   * (0: the device's): the host model sets it to the sectors a request touches in the page, as
   * MQSim transfers only those (a partial page moves less). GC work inside the same FTL call gets
   * it too (documented approximation).
   */
  transferBytes = 0;
  /**
   * While set, the operations handed over wait until this transaction has run, then join their
   * dies' queues (MQSim holds a partial-page write until its update read is done).
   */
  holdAfter: TransactionHandle | null = null;
  /** The transaction handed over last (to hold others after it). */
  lastTransaction: TransactionHandle | null = null;
  /**
   * The operations handed over next are issued no earlier than this (ns; 0: now): they wait for
   * something already running, e.g. a translation-page read another request started.
   */
  notBefore = 0;
  /** Called once per request when its last transaction completes (or at sealing, with none). */
  onComplete: (request: number, completion: number) => void = () => {};
  /** Simulated time up to which every transaction start has been decided. */
  private now = 0;
  /** Host reads that suspended a program or erase. */
  suspensions = 0;
  /**
   * Transactions of host requests and their summed turnaround (completion − hand-over, ns): host
   * page reads, and programs issued for host requests (their writes, and any mapping program the
   * request's FTL call made; not its GC). Reset with {@link resetCounts}.
   */
  hostReadTransactions = 0;
  hostReadTurnaroundNs = 0;
  hostProgramTransactions = 0;
  hostProgramTurnaroundNs = 0;

  /**
   * Preemptible GC (MQSim's Preemptible_GC_Enabled; 0: off, GC first): host reads, then host
   * writes, then GC, unless {@link gcUrgent} says a pool of the die has fewer free blocks than
   * this (MQSim's GC_is_in_urgent_mode).
   */
  gcHardThreshold = 0;
  /** With preemptible GC: whether die `die` has a pool below `threshold` free blocks (the replay asks the FTL). */
  gcUrgent: (die: number, threshold: number) => boolean = () => true;

  /**
   * While set, the operations handed over are the mapping's (translation-page reads of the cached
   * mapping table): their turnaround is not a host transaction's (MQSim counts them apart).
   */
  mappingOperations = false;

  /** Zeroes the counts a measurement window reports (suspensions, transaction turnaround). */
  resetCounts(): void {
    this.suspensions = 0;
    this.hostReadTransactions = 0;
    this.hostReadTurnaroundNs = 0;
    this.hostProgramTransactions = 0;
    this.hostProgramTurnaroundNs = 0;
  }

  /** Mean turnaround of host read and program transactions (µs; MQSim's Average_*_Transaction_Turnaround_Time). */
  transactionTurnaround(): TransactionTurnaround {
    return {
      reads: this.hostReadTransactions,
      readMeanUs: this.hostReadTransactions > 0 ? this.hostReadTurnaroundNs / this.hostReadTransactions / 1000 : 0,
      programs: this.hostProgramTransactions,
      programMeanUs: this.hostProgramTransactions > 0 ? this.hostProgramTurnaroundNs / this.hostProgramTransactions / 1000 : 0,
    };
  }
  private readonly suspendPrograms: boolean;
  private readonly suspendErases: boolean;
  private readonly suspendLatency: number;
  private readonly suspendMinimum: number;
  // The operation each die runs (started last): its kind and request; the die's suspension ends.
  private readonly runKind: Int8Array;
  private readonly runRequest: Int32Array;
  private readonly suspendedUntil: Float64Array;
  // Requests whose transactions have all started, by completion: a binary min-heap (lazy: an
  // entry older than its request's completion, moved by a suspension, is skipped).
  private finishTime: number[] = [];
  private finishRequest: number[] = [];
  private readonly finished: boolean[] = [];
  private readonly readFirst: boolean;
  private readonly clock: NandClock;
  private readonly tR: number;
  private readonly tPROG: number;
  private readonly tBERS: number;
  private readonly transferPerByte: number;
  // Per request: transactions not yet started, completion so far, sealed (all handed over).
  private readonly pending: number[] = [];
  private readonly completion: number[] = [];
  private readonly sealed: boolean[] = [];
  private latest = 0;
  private sequence = 0;

  constructor(clock: NandClock, params: NandTimingParams, dies: number, scheduling: TransactionScheduling, suspend: SuspendOptions | null = null) {
    super(dies);
    this.clock = clock;
    this.suspendPrograms = suspend !== null && suspend.operations !== 'erase';
    this.suspendErases = suspend !== null && suspend.operations !== 'program';
    this.suspendLatency = suspend?.latencyNs ?? 20_000;
    this.suspendMinimum = suspend?.minimumRemainingNs ?? 100_000;
    this.runKind = new Int8Array(dies).fill(-1);
    this.runRequest = new Int32Array(dies).fill(-1);
    this.suspendedUntil = new Float64Array(dies);
    this.readFirst = scheduling === 'read-first';
    this.tR = params.tR;
    this.tPROG = params.tPROG;
    this.tBERS = params.tBERS;
    this.transferPerByte = params.transferPerByte;
    this.now = clock.now;
  }

  /** A new request issued now; the operations handed over until {@link seal} belong to it. */
  open(request: number): void {
    this.request = request;
    this.pending[request] = 0;
    this.completion[request] = this.now;
    this.sealed[request] = false;
    this.finished[request] = false;
  }

  /**
   * The request completes no earlier than t, whatever its transactions (a DRAM access of the data
   * cache: a request served from DRAM has no transaction at all). Call before {@link seal}.
   */
  completeNoEarlierThan(request: number, t: number): void {
    if (t > this.completion[request]!) this.completion[request] = t;
  }

  /** When a transaction handed over completes: −1 while it has not started. */
  doneTime(handle: TransactionHandle): number {
    return (handle as Transaction).done;
  }

  /** Simulated time up to which every transaction start has been decided. */
  get time(): number {
    return this.now;
  }

  /** Every operation of the request has been handed over; completes it if none is pending. */
  seal(request: number): void {
    this.sealed[request] = true;
    if (this.pending[request] === 0) this.finishAt(request);
    this.request = -1;
  }

  read(die: number, channel: number, bytes: number): void {
    this.enqueue(die, KIND_READ, channel, bytes);
  }
  program(die: number, channel: number, bytes: number): void {
    this.enqueue(die, KIND_PROGRAM, channel, bytes);
  }
  erase(die: number): void {
    this.enqueue(die, KIND_ERASE, 0, 0);
  }

  private enqueue(die: number, kind: number, channel: number, bytes: number): void {
    if (kind !== KIND_ERASE && this.transferBytes > 0) bytes = this.transferBytes;
    const mp = this.multiPlane;
    const plane = mp === null ? -1 : kind === KIND_READ ? mp.nextReadPlane : mp.nextProgramPlane;
    const page = mp === null || kind === KIND_ERASE ? -1 : kind === KIND_READ ? mp.readPageInBlock : mp.programPageInBlock;
    const copyback = mp !== null && kind !== KIND_ERASE && mp.copyback;
    if (copyback) {
      bytes = 0;
      mp.copybackOperations++;
    }
    if (this.request >= 0) this.pending[this.request]!++;
    const hold = this.holdAfter as Transaction | null;
    if (hold !== null) {
      (hold.dependents ??= []).push({ die, kind, plane, page, copyback, channel, bytes, created: this.now, counted: !this.mappingOperations, request: this.request, operationClass: this.operationClass });
      return;
    }
    const issue = this.notBefore > this.now ? this.notBefore : this.now;
    if (issue === this.now && kind === KIND_READ && this.operationClass === CLASS_READ && this.trySuspend(die, channel, bytes)) return;
    this.queue(die, kind, plane, page, copyback, channel, bytes, issue, this.now, !this.mappingOperations, this.request, this.operationClass);
  }

  private queue(die: number, kind: number, plane: number, page: number, copyback: boolean, channel: number, bytes: number, issue: number, created: number, counted: boolean, request: number, operationClass: number): void {
    // Reads the FTL issues for itself (GC, scans) are not host reads: only host reads jump ahead.
    const klass = operationClass === CLASS_GC ? CLASS_GC : kind === KIND_READ && operationClass === CLASS_READ ? CLASS_READ : CLASS_WRITE;
    const t: Transaction = {
      kind, plane, page, copyback, channel, bytes, issue, created, klass, counted, request, sequence: this.sequence++,
      next: null, previous: null, planeNext: null, planePrevious: null, dependents: null, done: -1,
    };
    this.lastTransaction = t;
    this.append(CLASSES * die + klass, t);
    this.schedule(die);
  }

  /**
   * A host read on a die running a program or erase it may suspend: runs the read now (after the
   * suspend latency) and pushes the suspended operation's end back by the time taken. Returns
   * whether it did.
   */
  private trySuspend(die: number, channel: number, bytes: number): boolean {
    const kind = this.runKind[die]!;
    if (!((kind === KIND_PROGRAM && this.suspendPrograms) || (kind === KIND_ERASE && this.suspendErases))) return false;
    const now = this.now;
    const end = this.dieFree[die]!;
    if (end - now < this.suspendMinimum || this.suspendedUntil[die]! > now || this.heads[CLASSES * die + CLASS_READ] !== null) return false;
    this.clock.issueAt(now);
    const transfer = bytes * this.transferPerByte;
    const done = this.clock.bookChannel(channel, now + this.suspendLatency + this.tR, transfer) + transfer;
    const resumedEnd = end + (done - now);
    this.dieFree[die] = resumedEnd;
    this.suspendedUntil[die] = resumedEnd;
    this.clock.dieBusy[die] += done - now;
    this.clock.noteCompletion(done);
    this.clock.noteCompletion(resumedEnd);
    if (resumedEnd > this.latest) this.latest = resumedEnd;
    this.suspensions++;
    this.lastTransaction = null; // run already: nothing to hold others after
    // The suspended operation's request ends later; the read's is this read's (counted pending above).
    const suspended = this.runRequest[die]!;
    if (suspended >= 0 && !this.finished[suspended] && resumedEnd > this.completion[suspended]!) {
      this.completion[suspended] = resumedEnd;
      if (this.pending[suspended] === 0 && this.sealed[suspended] === true) this.finishAt(suspended);
    }
    const r = this.request;
    if (r >= 0 && !this.mappingOperations) {
      this.hostReadTransactions++;
      this.hostReadTurnaroundNs += done - now;
    }
    if (r >= 0) {
      if (done > this.completion[r]!) this.completion[r] = done;
      if (--this.pending[r]! === 0 && this.sealed[r] === true) this.finishAt(r);
    }
    this.schedule(die);
    return true;
  }

  /** Issue time of the operations handed over next; runs every event (starts, completions) up to it. */
  advance(time: number): void {
    while (this.nextEvent() <= time) this.step();
    if (time > this.now) this.now = time;
  }

  /** When the next transaction starts (Infinity: none waiting). */
  nextStart(): number {
    return this.heapSize > 0 ? this.heapKey[0]! : Infinity;
  }

  /** The next event: a transaction start or a request completion (Infinity: none). */
  nextEvent(): number {
    const start = this.heapSize > 0 ? this.heapKey[0]! : Infinity;
    const finish = this.finishTime.length > 0 ? this.finishTime[0]! : Infinity;
    return start < finish ? start : finish;
  }

  /** A request whose transactions have all started completes at its completion time (queued). */
  private finishAt(request: number): void {
    const time = this.completion[request]!;
    const times = this.finishTime;
    const requests = this.finishRequest;
    let i = times.length;
    times.push(time);
    requests.push(request);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (times[parent]! <= time) break;
      times[i] = times[parent]!;
      requests[i] = requests[parent]!;
      i = parent;
    }
    times[i] = time;
    requests[i] = request;
  }

  /** Completes the request with the earliest completion (reports it unless the entry is stale). */
  private finishNext(): void {
    const times = this.finishTime;
    const requests = this.finishRequest;
    const time = times[0]!;
    const request = requests[0]!;
    const lastTime = times.pop()!;
    const lastRequest = requests.pop()!;
    const size = times.length;
    if (size > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= size) break;
        if (child + 1 < size && times[child + 1]! < times[child]!) child++;
        if (times[child]! >= lastTime) break;
        times[i] = times[child]!;
        requests[i] = requests[child]!;
        i = child;
      }
      times[i] = lastTime;
      requests[i] = lastRequest;
    }
    if (this.finished[request] === true || time !== this.completion[request]) return;
    this.finished[request] = true;
    if (time > this.now) this.now = time;
    this.onComplete(request, time);
  }

  /** Runs the next event: the earliest transaction start or request completion. */
  step(): void {
    if (this.finishTime.length > 0 && (this.heapSize === 0 || this.finishTime[0]! <= this.heapKey[0]!)) {
      this.finishNext();
      return;
    }
    const die = this.heapDie[0]!;
    const start = this.heapKey[0]!;
    this.heapRemove(0);
    // Among the queue heads issued by `start` (a held transaction may be released later than the
    // die's turn): 'fifo' takes the one handed over first; 'read-first' takes GC, then host reads,
    // then host writes (MQSim's PRIORITY_OUT_OF_ORDER with non-preemptible GC: a chip with GC
    // transactions serves them before user reads and writes).
    const base = CLASSES * die;
    const order = this.gcHardThreshold > 0 && this.readFirst && !this.gcUrgent(die, this.gcHardThreshold) ? PREEMPTIBLE : PRIORITY;
    let q = -1;
    for (const klass of order) {
      const head = this.heads[base + klass]!;
      if (head === null || head.issue > start) continue;
      if (q < 0 || (this.readFirst ? false : head.sequence < this.heads[q]!.sequence)) q = base + klass;
    }
    const t = this.heads[q]!;
    this.unlink(q, t);
    this.clock.issueAt(start);
    const group = this.multiPlane !== null && t.plane >= 0 ? this.gather(t, q, base, start) : null;
    const transfer = t.bytes * this.transferPerByte;
    let busyFrom = start;
    let done: number;
    // The die is free when its command's last page is out (reads) or programmed.
    let end: number;
    if (t.kind === KIND_READ) {
      // One tR for every plane of the command, then each page out in turn (a copyback keeps it in the die).
      done = transfer > 0 ? this.clock.bookChannel(t.channel, start + this.tR, transfer) + transfer : start + this.tR;
      end = done;
      if (group !== null) {
        for (const x of group) {
          const moved = x.bytes * this.transferPerByte;
          if (moved > 0) end = this.clock.bookChannel(x.channel, end, moved) + moved;
          x.done = end;
        }
      }
    } else if (t.kind === KIND_PROGRAM) {
      // Each page in in turn, then one tPROG for every plane of the command.
      busyFrom = transfer > 0 ? this.clock.bookChannel(t.channel, start, transfer) : start;
      end = busyFrom + transfer;
      if (group !== null) {
        for (const x of group) {
          const moved = x.bytes * this.transferPerByte;
          if (moved > 0) end = this.clock.bookChannel(x.channel, end, moved) + moved;
        }
      }
      done = end + this.tPROG;
      end = done;
    } else {
      done = start + this.tBERS;
      end = done;
    }
    t.done = done;
    if (group !== null && t.kind !== KIND_READ) for (const x of group) x.done = done;
    this.dieFree[die] = end;
    this.runKind[die] = t.kind;
    this.runRequest[die] = t.request;
    this.clock.dieBusy[die] += end - busyFrom;
    this.clock.noteCompletion(end);
    if (end > this.latest) this.latest = end;
    this.complete(t);
    if (group !== null) for (const x of group) this.complete(x);
    this.schedule(die);
  }


  /** A started transaction's consequences: its held transactions queue, its request counts it. */
  private complete(t: Transaction): void {
    const done = t.done;
    if (t.request >= 0 && t.counted) {
      // Turnaround (MQSim's transaction turnaround time: from its creation to its end).
      if (t.klass === CLASS_READ) {
        this.hostReadTransactions++;
        this.hostReadTurnaroundNs += done - t.created;
      } else if (t.kind === KIND_PROGRAM && t.klass === CLASS_WRITE) {
        this.hostProgramTransactions++;
        this.hostProgramTurnaroundNs += done - t.created;
      }
    }
    if (t.dependents !== null) {
      // Their turn comes when this one is done: into their dies' queues, issued then.
      for (const h of t.dependents) this.queue(h.die, h.kind, h.plane, h.page, h.copyback, h.channel, h.bytes, done, h.created, h.counted, h.request, h.operationClass);
      t.dependents = null;
    }
    const r = t.request;
    if (r >= 0) {
      if (done > this.completion[r]!) this.completion[r] = done;
      if (--this.pending[r]! === 0 && this.sealed[r] === true) this.finishAt(r);
    }
  }

  /**
   * What the kernel replay (simulator/replay-kernel.ts) takes over and hands back: the event
   * loop's scalars and per-die arrays, live (the arrays are this scheduler's own). `idle`: nothing
   * queued, held or waiting to complete; `kernelCovers`: no suspension and no preemptible GC (the
   * kernel's scheduler has neither).
   */
  kernelState(): SchedulerKernelState {
    return {
      idle: this.heapSize === 0 && this.finishTime.length === 0,
      kernelCovers: !this.suspendPrograms && !this.suspendErases && this.gcHardThreshold === 0,
      readFirst: this.readFirst,
      now: this.now,
      latest: this.latest,
      sequence: this.sequence,
      tR: this.tR,
      tPROG: this.tPROG,
      tBERS: this.tBERS,
      transferPerByte: this.transferPerByte,
      dieFree: this.dieFree,
      runKind: this.runKind,
      runRequest: this.runRequest,
    };
  }

  /** After a kernel replay: its scalars, and the hand-over state a replay leaves (nothing pending, nothing held). */
  adoptKernelState(now: number, latest: number, sequence: number, operationClass: number): void {
    this.now = now;
    this.latest = latest;
    this.sequence = sequence;
    this.operationClass = operationClass;
    this.request = -1;
    this.transferBytes = 0;
    this.holdAfter = null;
    this.lastTransaction = null;
    this.notBefore = 0;
  }

  /** Runs everything still waiting; returns the latest completion. */
  drain(): number {
    while (this.heapSize > 0 || this.finishTime.length > 0) this.step();
    return this.latest;
  }
}
