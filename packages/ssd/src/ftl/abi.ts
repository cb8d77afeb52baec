// The FTL's ABI: the numbers the TypeScript FTL (src/ftl/) and its WebAssembly kernel (kernel/ftl/,
// AssemblyScript) must agree on, defined once here and imported by both sides (the kernel imports
// this file as AssemblyScript: plain integer constants only, no types, nothing else). The tables
// themselves and the parameters are named in state.ts's KERNEL_TABLES / KERNEL_PARAMETERS and the
// kernel's @external("ftl", …) declarations; test/ftl-abi.test.ts checks that the compiled kernel
// imports exactly those names and that no kernel file redefines a constant of this one.
// MQSim counterpart: none (MQSim is one C++ program); the way its Flash_Block_Manager and
// Address_Mapping_Unit share NVM_Transaction_Flash and Block_Pool_Slot_Type definitions.

/** Block / unit states (BlockMapSnapshot.blockState, the blockState and unitState tables). */
export const BLOCK_FREE = 0;
export const BLOCK_OPEN = 1;
export const BLOCK_FULL = 2;
export const BLOCK_VICTIM = 3;
export const BLOCK_BAD = 4;

/** Page states in BlockMapSnapshot.pageState (TypeScript only: the kernel draws no snapshot). */
export const PAGE_ERASED = 0;
export const PAGE_VALID = 1;
export const PAGE_INVALID = 2;
export const PAGE_META = 3;

/**
 * The L2P and P2L tables hold each entry bitwise inverted (~entry; read ~table[i], store ~value):
 * an unmapped L2P entry (−1) and a P2L_NONE one are then 0, so a new table is the zero pages of
 * fresh memory (a grown WebAssembly memory, a new ArrayBuffer) with no fill to write: building a
 * device of 64 M pages touches none of its 512 MiB of maps until pages are written.
 */

/** Reverse-map (p2l table) markers for pages that hold no host LBA. */
export const P2L_NONE = -1;
export const P2L_TRIM = -2;
export const P2L_SUMMARY = -3;
/** Translation page t of the cached mapping table: P2L_TRANSLATION_BASE − t (TypeScript only; the kernel never runs with that table). */
export const P2L_TRANSLATION_BASE = -4;

/** Cells of the f64 table scalarCells: the next page's sequence number, the free-pool insertion stamp. */
export const SCALAR_NEXT_SEQUENCE = 0;
export const SCALAR_INSERTION_STAMP = 1;
export const SCALAR_CELLS = 2;

/** Cells of the i32 table stateCells: the host die cursor, the unit GC collected last (−1: none). */
export const STATE_HOST_CURSOR = 0;
export const STATE_LAST_VICTIM = 1;
export const STATE_CELLS = 2;

/** Cells of the f64 table counterCells: the kernel's counts, folded into Ftl.counters on reading. */
export const COUNTER_HOST_PAGE_WRITES = 0;
export const COUNTER_GC_RUNS = 1;
export const COUNTER_GC_MOVED_PAGES = 2;
export const COUNTER_GC_PAGE_READS = 3;
export const COUNTER_ERASES = 4;
export const COUNTER_CELLS = 5;

/**
 * The kernel's write(lba) returns the page written (≥ 0); KERNEL_WRITE_DECLINED when TypeScript
 * must do the whole write (nothing changed); KERNEL_WRITE_DIE_BASE − die when TypeScript must go on
 * with that die (chosen, and whole GC units may have run).
 */
export const KERNEL_WRITE_DECLINED = -1;
export const KERNEL_WRITE_DIE_BASE = -2;
