// Garbage collection across the planes of a die, for multi-plane commands: when one plane's pool
// needs GC, the planes of the same die that are within one block of their own trigger give up a
// victim too; the victims' valid pages move in lockstep (one page read per plane, then one program
// per plane, so a die's reads and programs are issued together on distinct planes and the device's
// MultiPlaneGrouping makes each round one multi-plane read and one multi-plane program), and the
// victims are erased back to back (one multi-plane erase). With gcCopyback the moves are
// copybacks: no channel transfer, a multi-plane copyback read then program per round. Runs only when the device says so
// (PlaneView.multiPlaneGc > 1: the FTL's pools are planes, that many per die) and in block mode.
// MQSim counterpart: GC_and_WL_Unit_Page_Level::Check_gc_required per plane, whose erase
// transactions TSU_Base::issue_command_to_chip gathers into one multi-plane erase when the planes
// of a die have them ready together (MQSim does not move GC pages in lockstep: its GC reads and
// writes group only when they happen to wait together, see docs/DESIGN.md).
import { P2L_TRIM } from './abi.ts';
import { isValid, p2lAt } from './state.ts';
import type { FtlState } from './state.ts';
import { beginVictim, chooseVictim, eraseUnit, relocatePage, relocateUnit, wearCheckDue } from './gc.ts';
import { staticWearLevel } from './wear-leveling.ts';

/** Planes per die whose GC runs together (the device's multiPlaneGc; 1: each pool alone). */
export function gcPlaneGroup(st: FtlState): number {
  if (st.blockMode !== true) return 1;
  const group = (st.device as { readonly multiPlaneGc?: number }).multiPlaneGc;
  return group !== undefined && group > 1 && st.poolCount % group === 0 ? group : 1;
}

/** Per-state scratch: the victims of one collection, their pools, valid-page lists and buffers. */
interface PlaneScratch {
  readonly victims: Int32Array;
  readonly pools: Int32Array;
  readonly pages: Int32Array[];
  readonly counts: Int32Array;
  readonly buffers: Uint8Array[];
}
const scratchOf = new WeakMap<FtlState, PlaneScratch>();

function scratch(st: FtlState, group: number): PlaneScratch {
  let s = scratchOf.get(st);
  if (s === undefined || s.victims.length < group) {
    s = {
      victims: new Int32Array(group),
      pools: new Int32Array(group),
      pages: Array.from({ length: group }, () => new Int32Array(st.pagesPerBlock)),
      counts: new Int32Array(group),
      buffers: Array.from({ length: group }, () => new Uint8Array(st.withData ? st.geometry.pageSize : 0)),
    };
    scratchOf.set(st, s);
  }
  return s;
}

/** Foreground GC of `pool` with its die's other planes (see the file comment). */
export function foregroundGcPlanes(st: FtlState, pool: number, group: number): void {
  let guard = st.unitsPerPool + 4;
  const first = pool - (pool % group);
  while (st.freeCount[pool]! < st.gcThreshold && guard-- > 0) {
    // A sibling joins when it is at most one block from its own trigger (free ≤ threshold).
    if (collectPlanes(st, first, group, pool, st.gcThreshold) === 0) break;
  }
}

/**
 * Background GC over dies: in each die, while some plane has fewer than backgroundGcTarget free
 * units, collects it together with every other plane of the die below that target. Returns the
 * units collected.
 */
export function backgroundGcPlanes(st: FtlState, group: number, maxUnits: number): number {
  let done = 0;
  const target = st.options.backgroundGcTarget;
  for (let first = 0; first < st.poolCount && done < maxUnits; first += group) {
    for (let pool = first; pool < first + group && done < maxUnits; pool++) {
      while (st.freeCount[pool]! < target && done < maxUnits) {
        const n = collectPlanes(st, first, group, pool, target - 1);
        if (n === 0) break;
        done += n;
        st.counterValues.backgroundGcRuns += n;
      }
    }
  }
  return done;
}

/**
 * Collects one victim in plane pool `trigger` and one in each other plane pool q of the die
 * (pools first … first + group − 1) with freeCount[q] ≤ `limit` that has one; returns how many
 * units were collected (0: the trigger has no victim, nothing done).
 */
export function collectPlanes(st: FtlState, first: number, group: number, trigger: number, limit: number): number {
  const s = st.gcStream;
  const { victims, pools, pages, counts, buffers } = scratch(st, group);
  let n = 0;
  for (let q = first; q < first + group; q++) {
    if (q !== trigger && st.freeCount[q]! > limit) continue;
    const victim = chooseVictim(st, q, s);
    if (victim < 0) {
      if (q === trigger) return 0;
      continue;
    }
    victims[n] = victim;
    pools[n] = q;
    n++;
  }
  for (let k = 0; k < n; k++) beginVictim(st, victims[k]!);
  if (st.options.validityMethod === 'bitmap') {
    // List each victim's valid pages, then move them a round at a time: every plane's read, then
    // every plane's program (a TRIM record is read where it is moved: its spare decides).
    let rounds = 0;
    for (let k = 0; k < n; k++) {
      const b = victims[k]!;
      const base = b * st.pagesPerBlock;
      const written = Math.min(st.writePointer[b]!, st.dataPages);
      const list = pages[k]!;
      let c = 0;
      for (let i = 0; i < written; i++) if (isValid(st, base + i)) list[c++] = base + i;
      counts[k] = c;
      if (c > rounds) rounds = c;
    }
    const moved = new Int32Array(n);
    // Copyback: the reads and programs of data and translation pages stay inside the die (a TRIM
    // record's spare decides whether it moves, so it is read out over the channel).
    const copyback = st.options.gcCopyback ? (st.device as { setCopyback?: (on: boolean) => void }).setCopyback : undefined;
    try {
      for (let r = 0; r < rounds; r++) {
        for (let k = 0; k < n; k++) {
          if (r >= counts[k]!) continue;
          const ppa = pages[k]![r]!;
          if (p2lAt(st, ppa) === P2L_TRIM) continue;
          copyback?.call(st.device, true);
          if (st.withData) st.device.readPage(ppa, buffers[k], st.readSpare);
          else st.device.readPage(ppa);
          st.counterValues.gcPageReads++;
        }
        for (let k = 0; k < n; k++) {
          if (r >= counts[k]!) continue;
          const ppa = pages[k]![r]!;
          const trim = p2lAt(st, ppa) === P2L_TRIM;
          copyback?.call(st.device, !trim);
          moved[k] += relocatePage(st, ppa, s, pools[k]!, trim, buffers[k]);
        }
      }
    } finally {
      copyback?.call(st.device, false);
    }
    for (let k = 0; k < n; k++) countRun(st, moved[k]!);
  } else {
    // The p2l and scan methods read to find the valid pages: one victim after the other.
    for (let k = 0; k < n; k++) countRun(st, relocateUnit(st, victims[k]!, s, pools[k]!));
  }
  // The erases back to back (one multi-plane erase), then the wear-leveling checks eraseUnit
  // would have made after each (a wear-leveling move in between would split the command).
  for (let k = 0; k < n; k++) eraseUnit(st, victims[k]!, false);
  if (st.options.staticWearLeveling) {
    let check = false;
    for (let k = 0; k < n; k++) if (wearCheckDue(st)) check = true;
    if (check) staticWearLevel(st);
  }
  return n;
}

function countRun(st: FtlState, moved: number): void {
  st.counterValues.gcRuns++;
  st.counterValues.gcMovedPages += moved;
}
