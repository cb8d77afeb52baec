// The kernel replay's ABI: the layout of the descriptor and cells through which
// src/simulator/replay-kernel.ts hands a scheduled trace replay to the FTL's WebAssembly module
// (kernel/simulator/replay.ts replayScheduled) and reads its results back, defined once here and
// imported by both sides (the kernel imports this file as AssemblyScript: plain integer constants
// only). No upstream counterpart (MQSim runs its replay in C++).

// The descriptor (i32 table): table addresses, then parameters.
/** Transaction records: i32 and f64 fields (kernel/scheduler/transactions.ts), and their count. */
export const D_TX_INTS = 0;
export const D_TX_FLOATS = 1;
export const D_TX_CAPACITY = 2;
/** Request records: i32 and f64 fields. */
export const D_REQ_INTS = 3;
export const D_REQ_FLOATS = 4;
/** The requests: arrival (f64), first sector (f64), sectors (f64), 1 for a read (i32). */
export const D_IN_ARRIVAL = 5;
export const D_IN_SECTOR = 6;
export const D_IN_SECTORS = 7;
export const D_IN_READ = 8;
export const D_REQUESTS = 9;
/** Die queues: heads, tails (i32 per die and class), the scheduler's dieFree (f64 per die), the die heap (die, key, index). */
export const D_HEADS = 10;
export const D_TAILS = 11;
export const D_DIE_FREE = 12;
export const D_HEAP_DIE = 13;
export const D_HEAP_KEY = 14;
export const D_HEAP_INDEX = 15;
/** Per die: kind and request of the operation run last (i32). */
export const D_RUN_KIND = 16;
export const D_RUN_REQUEST = 17;
/** The request-completion heap: times (f64), requests (i32); the host's done-times heap (f64, queueDepth). */
export const D_FINISH_TIME = 18;
export const D_FINISH_REQUEST = 19;
export const D_DONE_TIMES = 20;
/** Multi-plane gathering's scratch (i32 per plane). */
export const D_GROUP = 21;
/** The histograms block: latency, interval, read, TRIM (each HISTOGRAM_BUCKETS buckets then count, sum, max), then the 8 octave edges. */
export const D_HISTOGRAMS = 22;
/** The f64 cells (C_*). */
export const D_CELLS = 23;
// Parameters.
export const D_DIES = 24;
export const D_READ_FIRST = 25;
export const D_QUEUE_DEPTH = 26;
export const D_CLOSED = 27;
export const D_FLASH_READ_UNMAPPED = 28;
export const D_PARTIAL = 29;
export const D_RMW = 30;
export const D_USER_PAGES = 31;
export const D_PAGE_SIZE = 32;
export const D_SPARE_SIZE = 33;
export const D_CHANNELS = 34;
/** The device's dies per channel and blocks per die, and the FTL's (view) blocks per die. */
export const D_DIES_PER_CHANNEL = 35;
export const D_REAL_BLOCKS_PER_DIE = 36;
export const D_VIEW_BLOCKS_PER_DIE = 37;
export const D_PAGES_PER_BLOCK = 38;
export const D_PLANES = 39;
/** The grouping: 1 when multi-plane commands are on; planeSets; samePage. */
export const D_GROUPING = 40;
export const D_PLANE_SETS = 41;
export const D_SAME_PAGE = 42;
/** The grouping's next read and program plane and page in block (in and out). */
export const D_READ_PLANE = 43;
export const D_PROGRAM_PLANE = 44;
export const D_READ_PAGE = 45;
export const D_PROGRAM_PAGE = 46;
/** The allocation scheme's letters (a byte each, from the lowest). */
export const D_ALLOCATION = 47;
/** The device's page + spare bytes. */
export const D_RECORD_BYTES = 48;
/** Out: the operation class the scheduler was left with. */
export const D_OPERATION_CLASS = 49;
/** Every request's kind and latency (f64 pairs, in completion order), or 0 for none (SsdSimulator.requestLog). */
export const D_LOG = 50;
/** Time-series points: a point every this many host page writes (0: none), and the writes until the next one. */
export const D_SNAPSHOT_EVERY = 51;
export const D_UNTIL_POINT = 52;
/** Out: the requests done (at a point: the one in progress). */
export const D_PROGRESS = 53;
/** Foreground GC (kernel/ftl/replay-gc.ts): planes collected together (1: one pool at a time), static wear leveling (1 on) and its threshold, the units. */
export const D_GC_GROUP = 54;
export const D_STATIC_WEAR_LEVELING = 55;
export const D_WEAR_THRESHOLD = 56;
export const D_UNITS = 57;
/** Tables: the cold stream's open block per pool (i32), the FTL's P2L table (0: derived from the heads), GC's scratch (i32). */
export const D_COLD_SLOT = 58;
export const D_P2L = 59;
export const D_GC_SCRATCH = 60;
/** Per-plane chains of the die queues (with multi-plane commands): heads, tails (i32 per die, class and plane). */
export const D_PLANE_HEADS = 61;
export const D_PLANE_TAILS = 62;
export const DESCRIPTOR_SLOTS = 63;

// The f64 cells.
/** In: the replay's base time (max of the clock's elapsed and now) and the trace's first arrival. */
export const C_BASE = 0;
export const C_ORIGIN = 1;
/** Scheduler scalars (in and out): now, latest, the next sequence number. */
export const C_NOW = 2;
export const C_LATEST = 3;
export const C_SEQUENCE = 4;
/** Timing: tR, tPROG, tBERS, ns per byte. */
export const C_TR = 5;
export const C_TPROG = 6;
export const C_TBERS = 7;
export const C_PER_BYTE = 8;
/** Scheduler counts (in and out): host read transactions and their turnaround, host programs and theirs. */
export const C_COUNTS = 9;
/** Grouping counts (in and out): multi-plane commands and operations. */
export const C_MP_COMMANDS = 13;
export const C_MP_OPERATIONS = 14;
/** Out: requests issued, read-modify-write reads, unmapped flash reads, host page reads. */
export const C_HOST_OPS = 15;
export const C_RMW_READS = 16;
export const C_UNMAPPED_READS = 17;
export const C_HOST_PAGE_READS = 18;
/** In and out: the largest write latency. */
export const C_WRITE_MAX = 19;
/** In and out: the FTL's erases since its last wear check. Out (at points too): static wear leveling's runs and moved pages. */
export const C_WEAR_CHECK = 20;
export const C_WEAR_RUNS = 21;
export const C_WEAR_MOVED = 22;
export const CELL_SLOTS = 23;

/** Histograms in the block, and buckets in each (metrics.ts LatencyHistogram.BUCKETS). */
export const HISTOGRAM_BUCKETS = 512;
export const H_LATENCY = 0;
export const H_INTERVAL = 1;
export const H_READ = 2;
export const H_TRIM = 3;
export const HISTOGRAMS = 4;
