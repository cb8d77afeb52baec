/**
 * The transaction scheduler's vocabulary: the policies and suspend options a caller picks, the
 * transaction classes (one queue per class on every die) and the order 'read-first' serves them
 * in, the operation kinds, and the transaction records the queues hold (a queued one, and one held
 * until another has run). The scheduler itself is ../scheduler.ts, which re-exports the public
 * names here. Upstream counterparts: MQSim's NVM_Transaction_Flash (its Transaction_Type read /
 * write / erase and Transaction_Source_Type user / GC / mapping, src/ssd/NVM_Transaction_Flash.h)
 * and the queue priorities of TSU_Priority_OutOfOrder (src/ssd/TSU_Priority_OutOfOrder.cpp).
 */
/** How a die picks its next transaction (see the file comment). */
export type TransactionScheduling = 'fifo' | 'read-first';
export const TRANSACTION_SCHEDULINGS: readonly TransactionScheduling[] = ['fifo', 'read-first'];

/** Program/erase suspend for host reads (see the file comment). */
export interface SuspendOptions {
  /** Which operations a host read may suspend. */
  readonly operations: 'program' | 'erase' | 'program-erase';
  /** Time from the suspend command until the die senses the read (ns; default 20 µs). */
  readonly latencyNs?: number;
  /** Suspend only an operation with at least this much left (ns; default 100 µs). */
  readonly minimumRemainingNs?: number;
}

/**
 * Transaction classes: host reads, host writes (and TRIM records, translation pages, the data
 * cache's write-backs), and garbage collection (foreground GC inside an FTL call, background GC,
 * wear leveling): each die has a queue per class.
 */
export const CLASS_READ = 0;
export const CLASS_WRITE = 1;
export const CLASS_GC = 2;
export const CLASSES = 3;

/** The order 'read-first' serves a die's queues in; with preemptible GC while its die is not urgent. */
export const PRIORITY = [CLASS_GC, CLASS_READ, CLASS_WRITE] as const;
export const PREEMPTIBLE = [CLASS_READ, CLASS_WRITE, CLASS_GC] as const;

export const KIND_READ = 0;
export const KIND_PROGRAM = 1;
export const KIND_ERASE = 2;
export const KINDS = 3;

/** What a flash operation handed to the scheduler carries, queued or held. */
export interface TransactionOperation {
  readonly kind: number;
  /** Its plane when multi-plane commands are on (−1: unknown, never joined), its page within the block, and whether it is a copyback half. */
  readonly plane: number;
  readonly page: number;
  readonly copyback: boolean;
  readonly channel: number;
  readonly bytes: number;
  /** When it was handed over (a held one: before its wait). */
  readonly created: number;
  /** Whether its turnaround counts (a host request's, not a mapping read: see {@link TransactionScheduler.mappingOperations}). */
  readonly counted: boolean;
  /** The host request it belongs to (−1: none, background work). */
  readonly request: number;
}

export interface Transaction extends TransactionOperation {
  readonly issue: number;
  /** Its queue class. */
  readonly klass: number;
  /** Hand-over order (FIFO across a die's queues). */
  readonly sequence: number;
  /** Its neighbours in its die's queue of its class (doubly linked: a multi-plane gather takes from the middle). */
  next: Transaction | null;
  previous: Transaction | null;
  /** Its neighbours among that queue's transactions on its plane, of its kind, at its page (multi-plane commands only; see die-queues.ts). */
  planeNext: Transaction | null;
  planePrevious: Transaction | null;
  /** Transactions held until this one has run (a read-modify-write's program after its read). */
  dependents: HeldTransaction[] | null;
  /** When it completes, once started (−1 before). */
  done: number;
}

export interface HeldTransaction extends TransactionOperation {
  readonly die: number;
  /** Its class when handed over (a held host read keeps its priority). */
  readonly operationClass: number;
}

/** Host transactions and their mean turnaround (see {@link TransactionScheduler.transactionTurnaround}). */
export interface TransactionTurnaround {
  readonly reads: number;
  readonly readMeanUs: number;
  readonly programs: number;
  readonly programMeanUs: number;
}

/** A transaction handed over, for {@link TransactionScheduler.holdAfter}. */
export type TransactionHandle = object;
