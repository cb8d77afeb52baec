// The kernel's transaction records (AssemblyScript, part of the FTL's WebAssembly module; see
// kernel/simulator/replay.ts): the classes and kinds of src/scheduler/transactions.ts, and the
// tables the kernel's scheduler keeps its transactions and requests in — struct-of-records in the
// shared memory instead of src/scheduler's objects, a transaction named by its index (−1: none).
// Counterpart of src/scheduler/transactions.ts (MQSim: NVM_Transaction_Flash).

// Classes (the die's queues) and kinds, as src/scheduler/transactions.ts.
export const CLASS_READ: i32 = 0;
export const CLASS_WRITE: i32 = 1;
export const CLASS_GC: i32 = 2;
export const CLASSES: i32 = 3;
export const KIND_READ: i32 = 0;
export const KIND_PROGRAM: i32 = 1;
export const KIND_ERASE: i32 = 2;
export const KINDS: i32 = 3;

// A transaction's i32 fields (Transaction, and HeldTransaction's die and operation class), I_STRIDE a record.
export const T_KIND: i32 = 0;
export const T_PLANE: i32 = 1;
export const T_PAGE: i32 = 2;
export const T_CHANNEL: i32 = 3;
export const T_BYTES: i32 = 4;
export const T_KLASS: i32 = 5;
export const T_REQUEST: i32 = 6;
export const T_COUNTED: i32 = 7;
/** The next transaction in its die's queue. */
export const T_NEXT: i32 = 8;
/** The transactions held until this one has run (its dependents), first and last, in hand-over order. */
export const T_DEP_HEAD: i32 = 9;
export const T_DEP_TAIL: i32 = 10;
/** The next held transaction of the same holder. */
export const T_DEP_NEXT: i32 = 11;
/** A held transaction's die and operation class (queued when its holder has run). */
export const T_DIE: i32 = 12;
export const T_OPCLASS: i32 = 13;
/** The previous transaction in its die's queue (the queues are doubly linked: a gather takes from the middle). */
export const T_PREV: i32 = 14;
/** Its neighbours among its queue's transactions on its plane, of its kind, at its page slot (with multi-plane commands; scheduler/die-queues.ts). */
export const T_PLANE_NEXT: i32 = 15;
export const T_PLANE_PREV: i32 = 16;
export const I_STRIDE: i32 = 17;
// Its f64 fields, F_STRIDE a record.
export const T_ISSUE: i32 = 0;
export const T_CREATED: i32 = 1;
export const T_DONE: i32 = 2;
export const T_SEQUENCE: i32 = 3;
export const F_STRIDE: i32 = 4;

// A request's fields (the scheduler's pending, completion, sealed, finished; the replay's arrival and kind).
export const R_PENDING: i32 = 0;
export const R_SEALED: i32 = 1;
export const R_FINISHED: i32 = 2;
export const R_KIND: i32 = 3;
export const RI_STRIDE: i32 = 4;
export const R_COMPLETION: i32 = 0;
export const R_ARRIVAL: i32 = 1;
export const RF_STRIDE: i32 = 2;

/** Transaction records: i32 and f64 fields. */
export let txInts: usize = 0;
export let txFloats: usize = 0;
/** Transactions made so far (the next record), and the records there is room for. */
export let txCount: i32 = 0;
export let txCapacity: i32 = 0;
/** Request records. */
export let reqInts: usize = 0;
export let reqFloats: usize = 0;

/** Binds the record tables (kernel/simulator/replay.ts replayScheduled). */
export function bindRecords(ints: usize, floats: usize, capacity: i32, requestInts: usize, requestFloats: usize): void {
  txInts = ints;
  txFloats = floats;
  txCount = 0;
  txCapacity = capacity;
  freeHead = -1;
  reqInts = requestInts;
  reqFloats = requestFloats;
}

@inline export function ti(t: i32, field: i32): i32 {
  return load<i32>(txInts + (<usize>(t * I_STRIDE + field) << 2));
}
@inline export function setTi(t: i32, field: i32, value: i32): void {
  store<i32>(txInts + (<usize>(t * I_STRIDE + field) << 2), value);
}
@inline export function tf(t: i32, field: i32): f64 {
  return load<f64>(txFloats + (<usize>(t * F_STRIDE + field) << 3));
}
@inline export function setTf(t: i32, field: i32, value: f64): void {
  store<f64>(txFloats + (<usize>(t * F_STRIDE + field) << 3), value);
}
@inline export function ri(r: i32, field: i32): i32 {
  return load<i32>(reqInts + (<usize>(r * RI_STRIDE + field) << 2));
}
@inline export function setRi(r: i32, field: i32, value: i32): void {
  store<i32>(reqInts + (<usize>(r * RI_STRIDE + field) << 2), value);
}
@inline export function rf(r: i32, field: i32): f64 {
  return load<f64>(reqFloats + (<usize>(r * RF_STRIDE + field) << 3));
}
@inline export function setRf(r: i32, field: i32, value: f64): void {
  store<f64>(reqFloats + (<usize>(r * RF_STRIDE + field) << 3), value);
}

/** Records given back (a transaction that has run, a held one queued anew), linked by T_NEXT (−1: none). */
let freeHead: i32 = -1;

/** A record no longer needed (nothing refers to it any more): reused by newTransaction. */
@inline export function freeTransaction(t: i32): void {
  setTi(t, T_NEXT, freeHead);
  freeHead = t;
}

/**
 * A new transaction record (its fields all to be set by the caller): one given back, else the
 * next; when the tables are full they move to twice the room at the end of the memory, grown for
 * them (traps only where the memory cannot grow).
 */
@inline export function newTransaction(): i32 {
  const t = freeHead;
  if (t >= 0) {
    freeHead = ti(t, T_NEXT);
    return t;
  }
  if (txCount >= txCapacity) growRecords();
  txCount++;
  return txCount - 1;
}

function growRecords(): void {
  const capacity = txCapacity * 2;
  const floatBytes = <u64>capacity * <u64>(F_STRIDE << 3);
  const intBytes = <u64>capacity * <u64>(I_STRIDE << 2);
  const pages = <i32>((floatBytes + intBytes + 0xffff) >> 16);
  const size = memory.size();
  if (<i64>size + <i64>pages > 65536 || memory.grow(pages) < 0) unreachable();
  const floats = <usize>size << 16;
  const ints = floats + <usize>floatBytes;
  memory.copy(floats, txFloats, <usize>txCount * <usize>(F_STRIDE << 3));
  memory.copy(ints, txInts, <usize>txCount * <usize>(I_STRIDE << 2));
  txFloats = floats;
  txInts = ints;
  txCapacity = capacity;
}
