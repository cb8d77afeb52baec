// Wear leveling: the erase-count spread, and static wear leveling (the coldest FULL unit collected
// into the most worn free unit when the spread passes its threshold). Dynamic wear leveling is the
// free pool's erase-count key (free-pool.ts freeUnit).
// MQSim counterpart: GC_and_WL_Unit_Page_Level's static wear leveling (Check_static_wl_required,
// run_static_wearleveling) and Flash_Block_Manager's erase-count-ordered free pool.
import { BLOCK_BAD, BLOCK_FULL } from './abi.ts';
import { goodMembers, poolOfUnit } from './state.ts';
import type { FtlState } from './state.ts';
import { unitEraseKey } from './free-pool.ts';
import { collect } from './gc.ts';

/** Erase-count spread over good blocks. */
export function eraseSpread(st: FtlState): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let b = 0; b < st.totalBlocks; b++) {
    if (st.blockState[b] === BLOCK_BAD) continue;
    const c = st.device.eraseCount(b);
    if (c < min) min = c;
    if (c > max) max = c;
  }
  return { min, max };
}

/**
 * Static wear leveling: when max − min erase count exceeds the threshold, the FULL unit with the
 * fewest erases (it holds cold data) is collected into the most-worn free unit (cold stream),
 * so the young unit returns to the pool for hot data.
 */
export function staticWearLevel(st: FtlState): void {
  const { min, max } = eraseSpread(st);
  if (max - min <= st.options.staticWearLevelingThreshold) return;
  let victim = -1;
  let victimKey = Infinity;
  for (let u = 0; u < st.unitCount; u++) {
    if (st.unitState[u] !== BLOCK_FULL) continue;
    const key = unitEraseKey(st, u) / Math.max(1, goodMembers(st, u));
    if (key < victimKey) {
      victimKey = key;
      victim = u;
    }
  }
  if (victim < 0 || victimKey > min) return;
  const pool = poolOfUnit(st, victim);
  if (st.freeCount[pool]! < 2) return;
  collect(st, pool, victim, st.coldStream);
}
