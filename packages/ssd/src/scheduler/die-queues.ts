/**
 * The transaction queues of every die and which die starts next: per die one FIFO queue per
 * transaction class (doubly linked, head and tail), with multi-plane commands each queue's
 * transactions chained apart too by plane, kind and (when commands need one page address) page in
 * block (so that gathering a command looks at what could join it, not the whole queue), when each
 * die is free, and a binary min-heap of the dies with transactions waiting, keyed by when the
 * next one can start (the discrete-event loop in ../scheduler.ts takes its earliest). Upstream counterparts: MQSim's Flash_Transaction_Queue
 * (src/ssd/Flash_Transaction_Queue.cpp; TSU_Base keeps one per chip and class) and the chip
 * bookkeeping of TSU_Base (src/ssd/TSU_Base.cpp: a chip idle with transactions ready is served),
 * here kept as the heap of waiting dies instead of MQSim's event per chip.
 */
import { CLASSES, KINDS } from './transactions.ts';
import type { Transaction } from './transactions.ts';

export class DieQueues {
  /** Queue heads and tails, die·CLASSES + class. */
  protected readonly heads: (Transaction | null)[];
  protected readonly tails: (Transaction | null)[];
  protected readonly dieFree: Float64Array;
  // A binary min-heap of the dies with transactions waiting, keyed by when the next one can start.
  protected readonly heapDie: Int32Array;
  protected readonly heapKey: Float64Array;
  private readonly heapIndex: Int32Array;
  protected heapSize = 0;
  /**
   * Planes per die whose chains are kept (0: none, no multi-plane commands), page slots per plane
   * and kind (pages in a block + 1 when commands need one page address — the last slot for a page
   * of −1 or beyond —, else 1), and the chains' heads and tails, chain {@link chainOf}: each
   * queue's transactions on one plane, of one kind, at one page slot, in queue order. Allocated
   * at the first transaction queued.
   */
  protected planes = 0;
  protected slots = 1;
  protected planeHeads: (Transaction | null)[] = [];
  protected planeTails: (Transaction | null)[] = [];

  constructor(dies: number) {
    this.heads = new Array<Transaction | null>(CLASSES * dies).fill(null);
    this.tails = new Array<Transaction | null>(CLASSES * dies).fill(null);
    this.dieFree = new Float64Array(dies);
    this.heapDie = new Int32Array(dies);
    this.heapKey = new Float64Array(dies);
    this.heapIndex = new Int32Array(dies).fill(-1);
  }

  /** Keeps the chains for `planes` planes per die and `slots` page slots from now on (before anything is queued). */
  protected chainPlanes(planes: number, slots: number): void {
    this.planes = planes;
    this.slots = slots;
    this.planeHeads = [];
    this.planeTails = [];
  }

  /** The chain of queue `q`'s transactions on `plane` of `kind` at `page` (in block). */
  protected chainOf(q: number, plane: number, kind: number, page: number): number {
    const s = this.slots;
    return ((q * this.planes + plane) * KINDS + kind) * s + (page >= 0 && page < s - 1 ? page : s - 1);
  }

  /** Appends `t` to queue `q` (and to its plane's chain). */
  protected append(q: number, t: Transaction): void {
    const tail = this.tails[q]!;
    t.previous = tail;
    if (tail === null) this.heads[q] = t;
    else tail.next = t;
    this.tails[q] = t;
    if (this.planes > 0 && t.plane >= 0) {
      if (this.planeHeads.length === 0) {
        const chains = this.heads.length * this.planes * KINDS * this.slots;
        this.planeHeads = new Array<Transaction | null>(chains).fill(null);
        this.planeTails = new Array<Transaction | null>(chains).fill(null);
      }
      const c = this.chainOf(q, t.plane, t.kind, t.page);
      const planeTail = this.planeTails[c]!;
      t.planePrevious = planeTail;
      if (planeTail === null) this.planeHeads[c] = t;
      else planeTail.planeNext = t;
      this.planeTails[c] = t;
    }
  }

  /** Takes `t` out of queue `q` (and its plane's chain), wherever it is. */
  protected unlink(q: number, t: Transaction): void {
    const { next, previous } = t;
    if (previous === null) this.heads[q] = next;
    else previous.next = next;
    if (next === null) this.tails[q] = previous;
    else next.previous = previous;
    t.next = null;
    t.previous = null;
    if (this.planes > 0 && t.plane >= 0) {
      const c = this.chainOf(q, t.plane, t.kind, t.page);
      const planeNext = t.planeNext;
      const planePrevious = t.planePrevious;
      if (planePrevious === null) this.planeHeads[c] = planeNext;
      else planePrevious.planeNext = planeNext;
      if (planeNext === null) this.planeTails[c] = planePrevious;
      else planeNext.planePrevious = planePrevious;
      t.planeNext = null;
      t.planePrevious = null;
    }
  }

  /** (Re)keys a die in the heap: when its next transaction can start, or out when it has none. */
  protected schedule(die: number): void {
    const at = this.heapIndex[die]!;
    let first = Infinity;
    for (let q = CLASSES * die; q < CLASSES * die + CLASSES; q++) {
      const head = this.heads[q]!;
      if (head !== null && head.issue < first) first = head.issue;
    }
    if (first === Infinity) {
      if (at >= 0) this.heapRemove(at);
      return;
    }
    const free = this.dieFree[die]!;
    const key = free > first ? free : first;
    if (at >= 0) {
      if (this.heapKey[at] === key) return;
      this.heapRemove(at);
    }
    this.heapInsert(die, key);
  }

  private heapInsert(die: number, key: number): void {
    let i = this.heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.heapKey[parent]! <= key) break;
      this.heapMove(parent, i);
      i = parent;
    }
    this.heapDie[i] = die;
    this.heapKey[i] = key;
    this.heapIndex[die] = i;
  }

  protected heapRemove(at: number): void {
    const removed = this.heapDie[at]!;
    this.heapIndex[removed] = -1;
    const size = --this.heapSize;
    if (at === size) return;
    const die = this.heapDie[size]!;
    const key = this.heapKey[size]!;
    // Sift the last item into the hole: up while smaller than its parent, else down.
    let i = at;
    while (i > 0 && this.heapKey[(i - 1) >> 1]! > key) {
      this.heapMove((i - 1) >> 1, i);
      i = (i - 1) >> 1;
    }
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && this.heapKey[child + 1]! < this.heapKey[child]!) child++;
      if (this.heapKey[child]! >= key) break;
      this.heapMove(child, i);
      i = child;
    }
    this.heapDie[i] = die;
    this.heapKey[i] = key;
    this.heapIndex[die] = i;
  }

  private heapMove(from: number, to: number): void {
    const die = this.heapDie[from]!;
    this.heapDie[to] = die;
    this.heapKey[to] = this.heapKey[from]!;
    this.heapIndex[die] = to;
  }
}
