// A lazily materialised sequential fill: what the kernel's fill (kernel/ftl/lazy-fill.ts,
// kernel/ftl/marked-fill.ts markedFillLazy) leaves implied, and the TypeScript side's rule for it.
// After a sequential marked fill in the FTL's WebAssembly module, the L2P entries of the filled
// LBAs and the compact heads (LBA, sequence number) of their pages are not written: write i of the
// fill (LBA first + i, sequence seq0 + i) went to the die and slot this file's impliedPage gives,
// and the kernel writes one when a read, write, GC move or erase first needs it. The
// TypeScript FTL does not read implied entries: every entry point that may touch the L2P, the P2L
// or the heads (Ftl's methods, its l2pTable, p2lAt) first has the kernel write all of them
// (FtlState.settleFill), so it sees exactly the eager fill's tables; the one exception is the
// kernel replay's pre-check (simulator/replay-kernel.ts gcBlocker), which reads an implied entry
// (0 in the L2P table) through impliedPage instead of having it written. A kernel replay right
// after the fill writes only the entries its requests and collections reach.
// Upstream counterpart: MQSim's preconditioning (FTL::Perform_precondition) assigns the mapping
// directly; it does not defer it.

/** The tables the kernel's fill keeps for what it left implied (views onto the FTL's table memory). */
export interface ImpliedFill {
  readonly first: number;
  readonly count: number;
  readonly sequence: number;
  /** The writes' die cycle: the static scheme's period, or the dies (round robin). */
  readonly period: number;
  /** Per position in the period: its die, and the writes to that die before it in the period. */
  readonly dieOfPos: Int32Array;
  readonly rankOfPos: Int32Array;
  /** Per die: its writes per period, its open block's write pointer when the fill began, its first entry. */
  readonly perPeriod: Int32Array;
  readonly wp0: Int32Array;
  readonly listStart: Int32Array;
  /** Two entries a block the fill wrote, die by die in the order it wrote them: the view block, its first real page. */
  readonly blockList: Int32Array;
}

/**
 * The view page write `i` of the fill went to: the die's k-th write (k = ⌊i / period⌋ · its
 * writes per period + the rank of i's position) lands at slot k + wp0 of the die's blocks in the
 * order the fill opened them (the first one the block open when it began, from its write pointer).
 */
export function impliedPage(fill: ImpliedFill, pagesPerBlock: number, dataPages: number, i: number): number {
  const q = Math.floor(i / fill.period);
  const p = i - q * fill.period;
  const die = fill.dieOfPos[p]!;
  const slot = q * fill.perPeriod[die]! + fill.rankOfPos[p]! + fill.wp0[die]!;
  const n = Math.floor(slot / dataPages);
  return fill.blockList[2 * (fill.listStart[die]! + n)]! * pagesPerBlock + slot - n * dataPages;
}
