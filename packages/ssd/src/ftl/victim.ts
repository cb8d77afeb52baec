// GC victim policies: greedy in O(1) through per-pool lists of FULL units by valid count
// (bucketInsert / bucketMove / bucketRemove keep them as pages change), FIFO, random (xorshift32)
// and cost-benefit, plus the emptiest-unit fallback when the policy's pick does not fit.
// MQSim counterpart: GC_and_WL_Unit_Page_Level::Check_gc_required's victim selection
// (GC_Block_Selection_Policy_Type GREEDY, RGA, RANDOM, RANDOM_P, RANDOM_PP, FIFO).
import { BLOCK_FULL } from './abi.ts';
import { poolOfUnit } from './state.ts';
import type { FtlState } from './state.ts';

export function bucketInsert(st: FtlState, u: number): void {
  const pool = poolOfUnit(st, u);
  const v = st.unitValid[u]!;
  const h = pool * st.bucketWidth + v;
  const head = st.bucketHead[h]!;
  st.bucketNext[u] = head;
  st.bucketPrev[u] = -1;
  if (head >= 0) st.bucketPrev[head] = u;
  st.bucketHead[h] = u;
  if (v < st.bucketMin[pool]!) st.bucketMin[pool] = v;
}

export function bucketRemove(st: FtlState, u: number, v: number): void {
  const next = st.bucketNext[u]!;
  const prev = st.bucketPrev[u]!;
  if (prev >= 0) st.bucketNext[prev] = next;
  else st.bucketHead[poolOfUnit(st, u) * st.bucketWidth + v] = next;
  if (next >= 0) st.bucketPrev[next] = prev;
}

/**
 * O(1) greedy: moves FULL unit `u` of `pool` from the head-inserted list of valid count `from`
 * to the head of the list of count `to` (the same as bucketRemove then bucketInsert).
 */
export function bucketMove(st: FtlState, u: number, pool: number, from: number, to: number): void {
  const next = st.bucketNext;
  const prev = st.bucketPrev;
  const heads = st.bucketHead;
  const base = pool * st.bucketWidth;
  const after = next[u]!;
  const before = prev[u]!;
  if (before >= 0) next[before] = after;
  else heads[base + from] = after;
  if (after >= 0) prev[after] = before;
  const head = heads[base + to]!;
  next[u] = head;
  prev[u] = -1;
  if (head >= 0) prev[head] = u;
  heads[base + to] = u;
  if (to < st.bucketMin[pool]!) st.bucketMin[pool] = to;
}

export function random(st: FtlState): number {
  // xorshift32: only for the `random` victim policy.
  let x = st.rngState;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  st.rngState = x;
  return (x >>> 0) / 4294967296;
}

/** Picks a FULL unit of the pool per the policy, or −1. */
export function selectVictim(st: FtlState, pool: number): number {
  const policy = st.options.gcPolicy;
  if (policy === 'greedy') {
    const base = pool * st.bucketWidth;
    for (let v = st.bucketMin[pool]!; v < st.bucketWidth; v++) {
      const u = st.bucketHead[base + v]!;
      if (u >= 0) {
        st.bucketMin[pool] = v;
        return u;
      }
    }
    st.bucketMin[pool] = st.bucketWidth;
    return -1;
  }
  const first = st.blockMode ? pool * st.blocksPerDie : 0;
  const end = first + st.unitsPerPool;
  if (policy === 'fifo') {
    const queue = st.fifo[pool]!;
    let h = st.fifoHead[pool]!;
    while (h < queue.length) {
      const u = queue[h]!;
      const stamp = queue[h + 1]!;
      if (st.unitState[u] === BLOCK_FULL && st.unitStamp[u] === stamp) {
        st.fifoHead[pool] = h;
        if (h > 4096) {
          queue.splice(0, h);
          st.fifoHead[pool] = 0;
        }
        return u;
      }
      h += 2;
    }
    st.fifoHead[pool] = h;
    return -1;
  }
  if (policy === 'random') {
    for (let tries = 0; tries < 64; tries++) {
      const u = first + Math.floor(random(st) * st.unitsPerPool);
      if (st.unitState[u] === BLOCK_FULL && st.unitValid[u]! < st.unitCapacity[u]!) return u;
    }
    const start = first + Math.floor(random(st) * st.unitsPerPool);
    for (let i = 0; i < st.unitsPerPool; i++) {
      const u = first + ((start - first + i) % st.unitsPerPool);
      if (st.unitState[u] === BLOCK_FULL && st.unitValid[u]! < st.unitCapacity[u]!) return u;
    }
    return -1;
  }
  // cost-benefit (Rosenblum & Ousterhout; Kawaguchi et al.): maximise (1 − u)·age / 2u, where u is
  // the valid fraction and age the time (in sequence numbers) since the unit was closed. O(units).
  let best = -1;
  let bestScore = -1;
  const now = st.nextSequence;
  for (let u = first; u < end; u++) {
    if (st.unitState[u] !== BLOCK_FULL) continue;
    const cap = st.unitCapacity[u]!;
    const utilisation = st.unitValid[u]! / cap;
    if (utilisation >= 1) continue;
    const age = now - st.unitStamp[u]! + 1;
    const score = utilisation === 0 ? Infinity : ((1 - utilisation) * age) / (2 * utilisation);
    if (score > bestScore) {
      bestScore = score;
      best = u;
    }
  }
  return best;
}

/** The FULL unit of a pool with the fewest valid pages, if it has any garbage (else −1). O(units). */
export function leastValidUnit(st: FtlState, pool: number): number {
  if (st.greedy) {
    const u = selectVictim(st, pool);
    return u >= 0 && st.unitValid[u]! < st.unitCapacity[u]! ? u : -1;
  }
  const first = st.blockMode ? pool * st.blocksPerDie : 0;
  let best = -1;
  let bestSpare = 0;
  for (let u = first; u < first + st.unitsPerPool; u++) {
    if (st.unitState[u] !== BLOCK_FULL) continue;
    const spare = st.unitCapacity[u]! - st.unitValid[u]!;
    if (spare > bestSpare) {
      bestSpare = spare;
      best = u;
    }
  }
  return best;
}
