// Recovery: the mount / power-loss scan that rebuilds L2P, P2L, VPBM, VPC, the free pools and the
// victim structures from the pages' spares (highest sequence number wins, TRIM records replayed
// in sequence order).
// MQSim counterpart: none (MQSim never loses power; its preconditioning builds the mapping
// directly); the scan of yaffs2's yaffs2_scan_backwards, which orders by sequence number too.
import { decodeSpare, KIND_DATA, KIND_TRANSLATION, KIND_TRIM } from '../spare.ts';
import { BLOCK_BAD, BLOCK_FREE, BLOCK_FULL, P2L_NONE, P2L_SUMMARY, P2L_TRANSLATION_BASE, P2L_TRIM } from './abi.ts';
import { goodMembers, memberBlock, memberCount, poolOfUnit, unitOfBlock } from './state.ts';
import type { FtlState } from './state.ts';
import { freeUnit, updatePoolCapacity } from './free-pool.ts';
import { bucketInsert } from './victim.ts';

/**
 * Rebuilds L2P, VPC and VPBM from the spares after a power cut (or to mount a used device):
 * reboots the device, reads every page of every good block, keeps for each LBA the copy with
 * the highest sequence number whose CRC checks, then replays TRIM records newer than it.
 * Partly written blocks are closed (their erased tail is reclaimed by GC).
 */
export function recover(st: FtlState): void {
  st.device.reboot();
  st.poweredOff = false;
  st.counterValues.recoveries++;
  const bestSeq = new Float64Array(st.userPages).fill(-1);
  // The tables hold ~entry (abi.ts): 0 is an unmapped L2P entry and a P2L_NONE one.
  st.l2p.fill(~-1);
  st.p2l.fill(~P2L_NONE);
  st.validBits.fill(0);
  st.blockValid.fill(0);
  st.unitValid.fill(0);
  st.poolValid.fill(0);
  st.writePointer.fill(0);
  st.blockMinSeq.fill(Infinity);
  st.heapSize.fill(0);
  st.freeCount.fill(0);
  st.bucketHead.fill(-1);
  st.bucketMin.fill(0);
  for (const q of st.fifo) q.length = 0;
  st.fifoHead.fill(0);
  for (const s of [st.hostStream, st.gcStream, st.coldStream]) {
    s.slot.fill(-1);
    s.unit = -1;
    s.cursor = 0;
  }
  const trimRecords: number[] = [];
  // The cached mapping table (RAM) is gone; the newest copy of each translation page is found below.
  const cmt = st.cmt;
  cmt?.clear();
  const translationSeq = cmt !== null ? new Float64Array(cmt.translationPages).fill(-1) : null;
  let maxSeq = 0;
  const data = st.withData ? st.pageBuffer : undefined;
  for (let b = 0; b < st.totalBlocks; b++) {
    if (st.device.isBad(b)) {
      st.blockState[b] = BLOCK_BAD;
      continue;
    }
    const first = b * st.pagesPerBlock;
    let lastProgrammed = -1;
    for (let i = 0; i < st.pagesPerBlock; i++) {
      const ppa = first + i;
      const r = st.device.readPage(ppa, data, st.readSpare);
      if (r.erased) continue;
      lastProgrammed = i;
      const meta = decodeSpare(st.readSpare, st.metaOffset, data ?? null, st.meta);
      if (!meta.valid || r.ecc === 'uncorrectable') continue;
      if (meta.sequence > maxSeq) maxSeq = meta.sequence;
      if (meta.kind === KIND_DATA) {
        if (meta.lba >= st.userPages) continue;
        st.p2l[ppa] = ~meta.lba;
        if (meta.sequence < st.blockMinSeq[b]!) st.blockMinSeq[b] = meta.sequence;
        if (meta.sequence > bestSeq[meta.lba]!) {
          bestSeq[meta.lba] = meta.sequence;
          st.l2p[meta.lba] = ~ppa;
        }
      } else if (meta.kind === KIND_TRANSLATION) {
        st.p2l[ppa] = ~(P2L_TRANSLATION_BASE - meta.lba);
        if (cmt !== null && meta.lba < cmt.translationPages && meta.sequence > translationSeq![meta.lba]!) {
          translationSeq![meta.lba] = meta.sequence;
          cmt.gtd[meta.lba] = ppa;
        }
      } else if (meta.kind === KIND_TRIM) {
        st.p2l[ppa] = ~P2L_TRIM;
        trimRecords.push(ppa, meta.lba, meta.count, meta.sequence);
      } else {
        st.p2l[ppa] = ~P2L_SUMMARY;
      }
    }
    st.writePointer[b] = lastProgrammed + 1;
    st.blockState[b] = lastProgrammed < 0 ? BLOCK_FREE : BLOCK_FULL;
  }
  // TRIM records, oldest first: a record unmaps every LBA whose best copy is older than it.
  const order: number[] = [];
  for (let i = 0; i < trimRecords.length; i += 4) order.push(i);
  order.sort((a, b) => trimRecords[a + 3]! - trimRecords[b + 3]!);
  for (const i of order) {
    const lba = trimRecords[i + 1]!;
    const count = trimRecords[i + 2]!;
    const seq = trimRecords[i + 3]!;
    const end = Math.min(st.userPages, lba + count);
    for (let x = lba; x < end; x++) {
      if (bestSeq[x]! < seq) {
        bestSeq[x] = seq;
        st.l2p[x] = ~-1;
      }
    }
  }
  st.nextSequence = maxSeq + 1;
  for (let x = 0; x < st.userPages; x++) {
    const ppa = ~st.l2p[x]!;
    if (ppa < 0) continue;
    st.validBits[ppa >>> 5]! |= 1 << (ppa & 31);
    const b = (ppa / st.pagesPerBlock) | 0;
    st.blockValid[b]!++;
    st.poolValid[(b / st.blocksPerDie) | 0]!++;
    if (!st.blockMode) st.unitValid[unitOfBlock(st, b)]!++;
  }
  // The newest copy of each translation page is valid (the older ones are garbage).
  for (let t = 0; cmt !== null && t < cmt.translationPages; t++) {
    const ppa = cmt.gtd[t]!;
    if (ppa < 0) continue;
    st.validBits[ppa >>> 5]! |= 1 << (ppa & 31);
    const b = (ppa / st.pagesPerBlock) | 0;
    st.blockValid[b]!++;
    st.poolValid[(b / st.blocksPerDie) | 0]!++;
    if (!st.blockMode) st.unitValid[unitOfBlock(st, b)]!++;
  }
  // Keep every TRIM record (GC drops those no longer needed).
  for (let i = 0; i < trimRecords.length; i += 4) {
    const ppa = trimRecords[i]!;
    st.validBits[ppa >>> 5]! |= 1 << (ppa & 31);
    const b = (ppa / st.pagesPerBlock) | 0;
    st.blockValid[b]!++;
    st.poolValid[(b / st.blocksPerDie) | 0]!++;
    if (!st.blockMode) st.unitValid[unitOfBlock(st, b)]!++;
  }
  for (let u = 0; u < st.unitCount; u++) {
    st.unitCapacity[u] = goodMembers(st, u) * st.dataPages;
    if (st.unitCapacity[u] === 0) {
      st.unitState[u] = BLOCK_BAD;
      continue;
    }
    let used = false;
    let stamp = 0;
    const m = memberCount(st);
    for (let k = 0; k < m; k++) {
      const b = memberBlock(st, u, k);
      if (st.blockState[b] === BLOCK_FULL) used = true;
    }
    if (!used) {
      freeUnit(st, u);
      continue;
    }
    for (let k = 0; k < m; k++) {
      const b = memberBlock(st, u, k);
      if (st.blockState[b] === BLOCK_BAD) continue;
      // Erased members of a used superblock are closed too; GC reclaims them with the rest.
      st.blockState[b] = BLOCK_FULL;
      if (st.writePointer[b] === 0) st.writePointer[b] = st.pagesPerBlock;
      if (st.blockMinSeq[b]! !== Infinity) stamp = Math.max(stamp, st.blockMinSeq[b]!);
    }
    st.unitState[u] = BLOCK_FULL;
    st.unitStamp[u] = stamp;
  }
  for (let pool = 0; pool < st.poolCount; pool++) updatePoolCapacity(st, pool);
  // Closed units enter the victim structures in age order.
  const closed: number[] = [];
  for (let u = 0; u < st.unitCount; u++) if (st.unitState[u] === BLOCK_FULL) closed.push(u);
  closed.sort((a, b) => st.unitStamp[a]! - st.unitStamp[b]!);
  for (const u of closed) {
    if (st.greedy) bucketInsert(st, u);
    else if (st.options.gcPolicy === 'fifo') st.fifo[poolOfUnit(st, u)]!.push(u, st.unitStamp[u]!);
  }
}
