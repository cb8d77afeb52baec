// The kernel's die queues (AssemblyScript, part of the FTL's WebAssembly module; see
// kernel/simulator/replay.ts): each die's queue per class (a doubly linked list of transaction
// records; with multi-plane commands each queue's records chained apart too by plane, kind and
// page slot, so that gathering a command looks at what could join it, not the whole queue) and the min-heap of dies by when each can start its next transaction (the later of its free
// time and its earliest queued issue), with each die's position in it.
// Counterpart of src/scheduler/die-queues.ts (MQSim: TSU_Base's chip queues and the chips' free times).
import { CLASSES, KINDS, T_ISSUE, T_KIND, T_NEXT, T_PAGE, T_PLANE, T_PLANE_NEXT, T_PLANE_PREV, T_PREV, setTi, tf, ti } from './transactions';

/** i32 per (die, class): the first and last transaction queued (−1: empty). */
export let heads: usize = 0;
export let tails: usize = 0;
/** f64 per die: when it is free (the scheduler's own, not the clock's). */
export let dieFree: usize = 0;
/** The heap: the die and its key at each slot; each die's slot (−1: not in it). */
export let heapDie: usize = 0;
export let heapKey: usize = 0;
export let heapIndex: usize = 0;
export let heapSize: i32 = 0;

export function bindDieQueues(headsAt: usize, tailsAt: usize, dieFreeAt: usize, heapDieAt: usize, heapKeyAt: usize, heapIndexAt: usize): void {
  heads = headsAt;
  tails = tailsAt;
  dieFree = dieFreeAt;
  heapDie = heapDieAt;
  heapKey = heapKeyAt;
  heapIndex = heapIndexAt;
  heapSize = 0;
}

/** i32 per chain (chainOf): the first and last transaction of each queue on each plane, of each kind, at each page slot (−1: none). */
export let planeHeads: usize = 0;
export let planeTails: usize = 0;
/** Planes per die whose chains are kept (0: none, no multi-plane commands), and page slots per plane and kind (pages in a block + 1 with one page address per command, else 1). */
export let chainPlanes: i32 = 0;
export let chainSlots: i32 = 1;

export function bindPlaneChains(headsAt: usize, tailsAt: usize, planes: i32, slots: i32): void {
  planeHeads = headsAt;
  planeTails = tailsAt;
  chainPlanes = planes;
  chainSlots = slots;
}

/** The chain of queue `q`'s transactions on `plane` of `kind` at `page` (in block; the last slot: −1 or beyond). */
// Mirrors: packages/ssd/src/scheduler/die-queues.ts#DieQueues.chainOf kernel:eb09a4ba source:68525768
@inline export function chainOf(q: i32, plane: i32, kind: i32, page: i32): i32 {
  const s = chainSlots;
  return ((q * chainPlanes + plane) * KINDS + kind) * s + (page >= 0 && page < s - 1 ? page : s - 1);
}

@inline export function planeHeadOf(c: i32): i32 {
  return load<i32>(planeHeads + (<usize>c << 2));
}

/** Appends `t` to queue `q` (and to its plane's chain). */
// Mirrors: packages/ssd/src/scheduler/die-queues.ts#DieQueues.append kernel:5f30a61b source:5d12476d
export function append(q: i32, t: i32): void {
  const tail = tailOf(q);
  setTi(t, T_PREV, tail);
  setTi(t, T_NEXT, -1);
  if (tail < 0) setHead(q, t);
  else setTi(tail, T_NEXT, t);
  setTail(q, t);
  const plane = ti(t, T_PLANE);
  if (chainPlanes > 0 && plane >= 0) {
    const c = <usize>chainOf(q, plane, ti(t, T_KIND), ti(t, T_PAGE)) << 2;
    const planeTail = load<i32>(planeTails + c);
    setTi(t, T_PLANE_PREV, planeTail);
    setTi(t, T_PLANE_NEXT, -1);
    if (planeTail < 0) store<i32>(planeHeads + c, t);
    else setTi(planeTail, T_PLANE_NEXT, t);
    store<i32>(planeTails + c, t);
  }
}

/** Takes `t` out of queue `q` (and its plane's chain), wherever it is. */
// Mirrors: packages/ssd/src/scheduler/die-queues.ts#DieQueues.unlink kernel:92cdb637 source:516c5b19
export function unlink(q: i32, t: i32): void {
  const next = ti(t, T_NEXT);
  const previous = ti(t, T_PREV);
  if (previous < 0) setHead(q, next);
  else setTi(previous, T_NEXT, next);
  if (next < 0) setTail(q, previous);
  else setTi(next, T_PREV, previous);
  setTi(t, T_NEXT, -1);
  setTi(t, T_PREV, -1);
  const plane = ti(t, T_PLANE);
  if (chainPlanes > 0 && plane >= 0) {
    const c = <usize>chainOf(q, plane, ti(t, T_KIND), ti(t, T_PAGE)) << 2;
    const planeNext = ti(t, T_PLANE_NEXT);
    const planePrevious = ti(t, T_PLANE_PREV);
    if (planePrevious < 0) store<i32>(planeHeads + c, planeNext);
    else setTi(planePrevious, T_PLANE_NEXT, planeNext);
    if (planeNext < 0) store<i32>(planeTails + c, planePrevious);
    else setTi(planeNext, T_PLANE_PREV, planePrevious);
    setTi(t, T_PLANE_NEXT, -1);
    setTi(t, T_PLANE_PREV, -1);
  }
}

@inline export function headOf(q: i32): i32 {
  return load<i32>(heads + (<usize>q << 2));
}
@inline export function setHead(q: i32, t: i32): void {
  store<i32>(heads + (<usize>q << 2), t);
}
@inline export function tailOf(q: i32): i32 {
  return load<i32>(tails + (<usize>q << 2));
}
@inline export function setTail(q: i32, t: i32): void {
  store<i32>(tails + (<usize>q << 2), t);
}
@inline export function keyAt(i: i32): f64 {
  return load<f64>(heapKey + (<usize>i << 3));
}
@inline export function dieAt(i: i32): i32 {
  return load<i32>(heapDie + (<usize>i << 2));
}
@inline function indexOf(die: i32): i32 {
  return load<i32>(heapIndex + (<usize>die << 2));
}
@inline function setIndex(die: i32, i: i32): void {
  store<i32>(heapIndex + (<usize>die << 2), i);
}

/** Puts `die` in the heap at the key its queues and free time give, or takes it out when its queues are empty. */
// Mirrors: packages/ssd/src/scheduler/die-queues.ts#DieQueues.schedule kernel:7934b895 source:9a90820b
export function schedule(die: i32): void {
  const at = indexOf(die);
  let first = Infinity;
  for (let q = CLASSES * die; q < CLASSES * die + CLASSES; q++) {
    const head = headOf(q);
    if (head >= 0 && tf(head, T_ISSUE) < first) first = tf(head, T_ISSUE);
  }
  if (first == Infinity) {
    if (at >= 0) heapRemove(at);
    return;
  }
  const free = load<f64>(dieFree + (<usize>die << 3));
  const key = free > first ? free : first;
  if (at >= 0) {
    if (keyAt(at) == key) return;
    heapRemove(at);
  }
  heapInsert(die, key);
}

// Mirrors: packages/ssd/src/scheduler/die-queues.ts#DieQueues.heapInsert kernel:7a4c9de7 source:cbda3703
function heapInsert(die: i32, key: f64): void {
  let i = heapSize++;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (keyAt(parent) <= key) break;
    heapMove(parent, i);
    i = parent;
  }
  store<i32>(heapDie + (<usize>i << 2), die);
  store<f64>(heapKey + (<usize>i << 3), key);
  setIndex(die, i);
}

// Mirrors: packages/ssd/src/scheduler/die-queues.ts#DieQueues.heapRemove kernel:96dd2ecb source:b8db974a
export function heapRemove(at: i32): void {
  const removed = dieAt(at);
  setIndex(removed, -1);
  const size = --heapSize;
  if (at == size) return;
  const die = dieAt(size);
  const key = keyAt(size);
  let i = at;
  while (i > 0 && keyAt((i - 1) >> 1) > key) {
    heapMove((i - 1) >> 1, i);
    i = (i - 1) >> 1;
  }
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && keyAt(child + 1) < keyAt(child)) child++;
    if (keyAt(child) >= key) break;
    heapMove(child, i);
    i = child;
  }
  store<i32>(heapDie + (<usize>i << 2), die);
  store<f64>(heapKey + (<usize>i << 3), key);
  setIndex(die, i);
}

// Mirrors: packages/ssd/src/scheduler/die-queues.ts#DieQueues.heapMove kernel:d025867b source:fa002110
@inline function heapMove(from: i32, to: i32): void {
  const die = dieAt(from);
  store<i32>(heapDie + (<usize>to << 2), die);
  store<f64>(heapKey + (<usize>to << 3), keyAt(from));
  setIndex(die, to);
}
