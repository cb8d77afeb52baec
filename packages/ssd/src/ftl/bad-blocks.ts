// Bad blocks: marking a block bad (on the device too), and retiring a block whose program failed:
// out of every stream, its valid pages moved, its unit's capacity lowered.
// MQSim counterpart: none (MQSim models no program or erase failures); the literature's bad-block
// management, as yaffs2's yaffs_bad_block handling does it for a file system.
import { BLOCK_BAD, BLOCK_FULL, BLOCK_VICTIM } from './abi.ts';
import { goodMembers, isValid, poolOfUnit, unitOfBlock } from './state.ts';
import type { FtlState } from './state.ts';
import { updatePoolCapacity } from './free-pool.ts';
import { bucketRemove } from './victim.ts';
import { resetBlock } from './block-manager.ts';
import { relocatePage } from './gc.ts';

export function markBlockBad(st: FtlState, b: number): void {
  if (st.blockState[b] === BLOCK_BAD) return;
  st.blockState[b] = BLOCK_BAD;
  st.counterValues.retiredBlocks++;
  st.relocations++;
  st.device.markBad(b);
}

/**
 * A program failed in block b: take it out of every stream, move its valid pages out, mark it
 * bad. The caller retries its own write elsewhere.
 */
export function retireBlock(st: FtlState, b: number): void {
  const die = Math.floor(b / st.blocksPerDie);
  const u = unitOfBlock(st, b);
  for (const s of [st.hostStream, st.gcStream, st.coldStream]) if (s.slot[die] === b) s.slot[die] = -1;
  const unitWasFull = st.unitState[u] === BLOCK_FULL;
  if (st.blockMode) {
    if (unitWasFull && st.greedy) bucketRemove(st, u, st.unitValid[u]!);
    st.unitState[u] = BLOCK_VICTIM;
  }
  st.blockState[b] = BLOCK_VICTIM;
  const first = b * st.pagesPerBlock;
  const pool = poolOfUnit(st, u);
  const written = Math.min(st.writePointer[b]!, st.dataPages);
  // Its own buffer: the caller's page (in pageBuffer) is still waiting to be retried.
  const buffer = new Uint8Array(st.withData ? st.geometry.pageSize : 0);
  for (let i = 0; i < written; i++) {
    if (isValid(st, first + i)) st.counterValues.retirementMovedPages += relocatePage(st, first + i, st.gcStream, pool, true, buffer);
  }
  markBlockBad(st, b);
  resetBlock(st, b);
  st.unitCapacity[u] = goodMembers(st, u) * st.dataPages;
  updatePoolCapacity(st, pool);
  if (st.blockMode || st.unitCapacity[u] === 0) {
    if (!st.blockMode && st.unitState[u] === BLOCK_FULL && st.greedy) bucketRemove(st, u, st.unitValid[u]!);
    st.unitState[u] = BLOCK_BAD;
    for (const s of [st.hostStream, st.gcStream, st.coldStream]) if (s.unit === u) s.unit = -1;
  }
}
