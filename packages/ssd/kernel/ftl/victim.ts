// The FTL kernel's greedy victim selection (AssemblyScript, part of the FTL kernel; see
// kernel/ftl/mapping.ts): the per-pool lists of FULL blocks by valid count.
// Counterpart of src/ftl/victim.ts (MQSim: GC_and_WL_Unit_Page_Level's GREEDY victim selection).

import { blockValid, bucketHead, bucketMin, bucketNext, bucketPrev, bucketWidth, i32At, setI32, unitCapacity } from './state';

// ------------------------------------------------------------------ greedy buckets (src/ftl/victim.ts bucketMove / bucketInsert / bucketRemove)

// Mirrors: packages/ssd/src/ftl/victim.ts#bucketMove kernel:e0b3ea7a source:84eadf34
export function bucketMove(u: i32, pool: i32, from: i32, to: i32): void {
  const base = pool * bucketWidth;
  const after = i32At(bucketNext, u);
  const before = i32At(bucketPrev, u);
  if (before >= 0) setI32(bucketNext, before, after);
  else setI32(bucketHead, base + from, after);
  if (after >= 0) setI32(bucketPrev, after, before);
  const head = i32At(bucketHead, base + to);
  setI32(bucketNext, u, head);
  setI32(bucketPrev, u, -1);
  if (head >= 0) setI32(bucketPrev, head, u);
  setI32(bucketHead, base + to, u);
  if (to < i32At(bucketMin, pool)) setI32(bucketMin, pool, to);
}

// Mirrors: packages/ssd/src/ftl/victim.ts#bucketInsert kernel:2bf94a4c source:57d98909
export function bucketInsert(u: i32, pool: i32): void {
  const v = i32At(blockValid, u);
  const h = pool * bucketWidth + v;
  const head = i32At(bucketHead, h);
  setI32(bucketNext, u, head);
  setI32(bucketPrev, u, -1);
  if (head >= 0) setI32(bucketPrev, head, u);
  setI32(bucketHead, h, u);
  if (v < i32At(bucketMin, pool)) setI32(bucketMin, pool, v);
}

// Mirrors: packages/ssd/src/ftl/victim.ts#bucketRemove kernel:195fec36 source:fa675e7c
export function bucketRemove(u: i32, pool: i32, v: i32): void {
  const next = i32At(bucketNext, u);
  const prev = i32At(bucketPrev, u);
  if (prev >= 0) setI32(bucketNext, prev, next);
  else setI32(bucketHead, pool * bucketWidth + v, next);
  if (next >= 0) setI32(bucketPrev, next, prev);
}

// ------------------------------------------------------------------ victims (src/ftl/victim.ts selectVictim, leastValidUnit)

/** Greedy: the head of the lowest non-empty valid-count list (bucketMin moves up to it). */
// Mirrors: packages/ssd/src/ftl/victim.ts#selectVictim kernel:b8bc141d source:d9e8a8e2
export function selectVictim(pool: i32): i32 {
  const base = pool * bucketWidth;
  for (let v = i32At(bucketMin, pool); v < bucketWidth; v++) {
    const u = i32At(bucketHead, base + v);
    if (u >= 0) {
      setI32(bucketMin, pool, v);
      return u;
    }
  }
  setI32(bucketMin, pool, bucketWidth);
  return -1;
}

// Mirrors: packages/ssd/src/ftl/victim.ts#leastValidUnit kernel:067065da source:15a5c780
export function leastValidUnit(pool: i32): i32 {
  const u = selectVictim(pool);
  return u >= 0 && i32At(blockValid, u) < i32At(unitCapacity, u) ? u : -1;
}
