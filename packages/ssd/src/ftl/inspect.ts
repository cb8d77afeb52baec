// Inspection: the free-unit count, the per-block / per-page snapshot the dashboard draws, and the
// consistency check of the tables (L2P ↔ VPBM ↔ VPC) the tests run.
// MQSim counterpart: the FTL's statistics and Report_results_in_XML (Stats, Flash_Block_Manager's
// Get_min_max_erase_count); the consistency check has none.
import type { NandGeometry } from '@flashdiff/nand';
import { BLOCK_BAD, P2L_SUMMARY, PAGE_ERASED, PAGE_INVALID, PAGE_META, PAGE_VALID } from './abi.ts';
import { isValid, p2lAt, unitOfBlock as unitOf } from './state.ts';
import type { FtlState } from './state.ts';

/** Per-block view of the device for the dashboard. Arrays are indexed by block number. */
export interface BlockMapSnapshot {
  readonly geometry: NandGeometry;
  readonly gcUnit: 'block' | 'superblock';
  /** BLOCK_FREE / BLOCK_OPEN / BLOCK_FULL / BLOCK_VICTIM / BLOCK_BAD. */
  readonly blockState: Uint8Array;
  readonly validPages: Uint32Array;
  readonly invalidPages: Uint32Array;
  readonly freePages: Uint32Array;
  readonly eraseCount: Uint32Array;
  /** GC unit of each block (the block itself, or its superblock number). */
  readonly unitOfBlock: Int32Array;
  /** PAGE_ERASED / PAGE_VALID / PAGE_INVALID / PAGE_META per physical page. */
  readonly pageState: Uint8Array;
  /** The unit GC collected most recently (−1 before the first GC). */
  readonly lastVictimUnit: number;
  readonly gcRuns: number;
  readonly freeUnits: number;
}

/** Total free units over all pools. */
export function freeUnits(st: FtlState): number {
  let n = 0;
  for (let p = 0; p < st.poolCount; p++) n += st.freeCount[p]!;
  return n;
}

/** Per-block (and per-page) state for the dashboard. Costs O(total pages). */
export function snapshot(st: FtlState): BlockMapSnapshot {
  const B = st.totalBlocks;
  const ppb = st.pagesPerBlock;
  const validPages = new Uint32Array(B);
  const invalidPages = new Uint32Array(B);
  const freePages = new Uint32Array(B);
  const eraseCount = new Uint32Array(B);
  const unitOfBlock = new Int32Array(B);
  const pageState = new Uint8Array(st.totalPages);
  for (let b = 0; b < B; b++) {
    eraseCount[b] = st.device.eraseCount(b);
    unitOfBlock[b] = unitOf(st, b);
    if (st.blockState[b] === BLOCK_BAD) continue;
    const wp = st.writePointer[b]!;
    for (let i = 0; i < ppb; i++) {
      const ppa = b * ppb + i;
      if (i >= wp) {
        freePages[b]!++;
        pageState[ppa] = PAGE_ERASED;
      } else if (isValid(st, ppa)) {
        validPages[b]!++;
        pageState[ppa] = PAGE_VALID;
      } else {
        invalidPages[b]!++;
        pageState[ppa] = p2lAt(st, ppa) === P2L_SUMMARY ? PAGE_META : PAGE_INVALID;
      }
    }
  }
  return {
    geometry: st.geometry,
    gcUnit: st.options.gcUnit,
    blockState: st.blockState.slice(),
    validPages,
    invalidPages,
    freePages,
    eraseCount,
    unitOfBlock,
    pageState,
    lastVictimUnit: st.lastVictimUnit,
    gcRuns: st.counterValues.gcRuns,
    freeUnits: freeUnits(st),
  };
}

/**
 * Cross-checks the tables (L2P ↔ VPBM ↔ VPC) and throws on the first mismatch. O(pages); for tests.
 */
export function checkConsistency(st: FtlState): void {
  const count = new Uint32Array(st.totalBlocks);
  for (let x = 0; x < st.userPages; x++) {
    const ppa = ~st.l2p[x]!; // the tables hold ~entry (abi.ts)
    if (ppa < 0) continue;
    if (!isValid(st, ppa)) throw new Error(`L2P[${x}] = ${ppa} but its VPBM bit is clear`);
    if (p2lAt(st, ppa) !== x) throw new Error(`L2P[${x}] = ${ppa} but P2L[${ppa}] = ${p2lAt(st, ppa)}`);
  }
  for (let ppa = 0; ppa < st.totalPages; ppa++) {
    if (!isValid(st, ppa)) continue;
    const b = (ppa / st.pagesPerBlock) | 0;
    count[b]!++;
    const lba = p2lAt(st, ppa);
    if (lba >= 0 && ~st.l2p[lba]! !== ppa) throw new Error(`page ${ppa} valid but L2P[${lba}] = ${~st.l2p[lba]!}`);
  }
  const unit = new Int32Array(st.unitCount);
  for (let b = 0; b < st.totalBlocks; b++) {
    if (count[b] !== st.blockValid[b]) throw new Error(`block ${b}: VPC ${st.blockValid[b]} but ${count[b]} valid bits`);
    unit[unitOf(st, b)]! += count[b]!;
  }
  for (let u = 0; u < st.unitCount; u++) {
    if (unit[u] !== st.unitValid[u]) throw new Error(`unit ${u}: VPC ${st.unitValid[u]} but ${unit[u]} valid bits`);
  }
}
