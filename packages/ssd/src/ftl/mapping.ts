// Address mapping and the host interface: the host's page write (the kernel's hand-over, the L2P
// update, the old copy's invalidation), read (with its metadata check), TRIM (TRIM records) and
// the host write's die choice (channel-first round robin, or a static scheme: CWDP, PCWD…), with the power and
// range checks every host command makes.
// MQSim counterpart: Address_Mapping_Unit_Page_Level (translate_lpa_to_ppa_and_dispatch,
// allocate_page_in_plane_for_user_write's plane choice by the allocation scheme) and the host
// side of FTL / Data_Cache_Manager that hands it transactions.
import { isNandError } from '@flashdiff/nand';
import { SsdError, rethrowKernelAbort } from '../errors.ts';
import { decodeSpare, KIND_DATA, KIND_TRIM, MAX_TRIM_RECORD_PAGES } from '../spare.ts';
import { KERNEL_WRITE_DIE_BASE } from './abi.ts';
import type { FtlState } from './state.ts';
import { leastValidUnit } from './victim.ts';
import { FRESH_SEQUENCE, place, placeHost, setInvalid, setValid } from './block-manager.ts';
import { foregroundGc } from './gc.ts';

/** What {@link Ftl.read} reports. */
export type FtlReadResult = 'mapped' | 'unmapped';

export function checkPower(st: FtlState): void {
  if (st.poweredOff) throw new SsdError('POWER_LOSS', 'the device lost power: call recover() first');
}

export function guard(st: FtlState, e: unknown): never {
  if (isNandError(e, 'POWER_LOSS') || isNandError(e, 'POWER_OFF')) {
    st.poweredOff = true;
    throw new SsdError('POWER_LOSS', 'power lost during a NAND operation; call recover()', { cause: e });
  }
  throw e;
}

export function checkLba(st: FtlState, lba: number, count = 1): void {
  if (!Number.isInteger(lba) || !Number.isInteger(count) || lba < 0 || count < 0 || lba + count > st.userPages) {
    throw new SsdError('OUT_OF_RANGE', `logical page ${lba} (+${count}) outside 0…${st.userPages - 1}`);
  }
}

/** Writes one logical page (data of pageSize bytes when the device stores data; zeros if omitted). */
export function write(st: FtlState, lba: number, data?: Uint8Array): void {
  if (st.poweredOff === true) checkPower(st);
  if (!(lba >= 0 && lba < st.userPages && (lba | 0) === lba)) checkLba(st, lba);
  let payload: Uint8Array | null = null;
  if (st.withData === true) {
    payload = data ?? st.zeroPage;
    if (payload.length !== st.geometry.pageSize) {
      throw new SsdError('BUFFER_SIZE', `data must be ${st.geometry.pageSize} bytes, got ${payload.length}`);
    }
  }
  // The kernel does the whole write, or hands it back before changing anything
  // (KERNEL_WRITE_DECLINED), or with the die it chose after whole GC units (KERNEL_WRITE_DIE_BASE −
  // die): the code below then goes on from there (a declined write gives kernelDie −1).
  let kernelDie = -1;
  if (st.kernel !== null) {
    let done = -1;
    try {
      done = st.kernel.write(lba);
    } catch (e) {
      rethrowKernelAbort(`the kernel FTL write of LBA ${lba}`, e);
    }
    if (done >= 0) return;
    kernelDie = KERNEL_WRITE_DIE_BASE - done;
  }
  writeAfterKernel(st, lba, kernelDie, payload);
}

/**
 * Finishes host write `lba` whose kernel write(lba), called through {@link directKernel},
 * returned `code` < 0: what write() does after that call. Internal.
 */
export function finishKernelWrite(st: FtlState, lba: number, code: number): void {
  if (st.poweredOff === true) checkPower(st);
  writeAfterKernel(st, lba, KERNEL_WRITE_DIE_BASE - code, null);
}

/** write() from where the kernel handed it back (kernelDie ≥ 0: with that die; −1: the whole write). */
export function writeAfterKernel(st: FtlState, lba: number, kernelDie: number, payload: Uint8Array | null): void {
  try {
    // Read the old mapping first: the random L2P access misses the cache, and issued here it
    // overlaps the program below. Only GC (foreground or in place) and a block retirement can
    // move the page in between; then it is read again (the counters tell whether they ran).
    const early = ~st.l2p[lba]!; // the tables hold ~entry (abi.ts)
    const die = kernelDie >= 0 ? kernelDie : st.blockMode === true ? (st.staticAllocation === true ? staticHostDie(st, lba) : nextHostDie(st)) : 0;
    const collected = st.freeCount[die]! < st.gcThreshold;
    if (collected) foregroundGc(st, die);
    const moves = st.relocations;
    const ppa = st.fastMeta === true ? placeHost(st, die, lba) : place(st, st.hostStream, die, KIND_DATA, lba, FRESH_SEQUENCE, 1, payload);
    const old = collected || moves !== st.relocations ? ~st.l2p[lba]! : early;
    if (old >= 0) setInvalid(st, old);
    st.l2p[lba] = ~ppa;
    setValid(st, ppa);
    st.counterValues.hostPageWrites++;
  } catch (e) {
    guard(st, e);
  }
}

/**
 * Reads one logical page into `out` (pageSize bytes, optional). Unmapped or trimmed pages read
 * as zeros. Throws READ_FAILED when the ECC gives up or the page fails its CRC.
 */
export function read(st: FtlState, lba: number, out?: Uint8Array): FtlReadResult {
  checkPower(st);
  checkLba(st, lba);
  st.counterValues.hostPageReads++;
  const ppa = ~st.l2p[lba]!;
  if (ppa < 0) {
    out?.fill(0);
    return 'unmapped';
  }
  try {
    const buffer = st.withData ? (out ?? st.pageBuffer) : undefined;
    const r = st.device.readPage(ppa, buffer, st.readSpare);
    if (r.ecc === 'uncorrectable') throw new SsdError('READ_FAILED', `logical page ${lba}: uncorrectable at page ${ppa}`);
    const m = decodeSpare(st.readSpare, st.metaOffset, st.withData ? buffer! : null, st.meta);
    if (!m.valid || m.lba !== lba) {
      throw new SsdError('READ_FAILED', `logical page ${lba}: page ${ppa} fails its metadata check`);
    }
    return 'mapped';
  } catch (e) {
    return guard(st, e);
  }
}

/**
 * TRIM (the seed's steps): for each mapped page in [lba, lba+count) unmap it in L2P, clear its
 * VPBM bit and decrement its block's VPC. To survive power loss a TRIM record (one page) is
 * programmed first in the host stream; recovery replays it by sequence number. Never runs GC.
 */
export function trim(st: FtlState, lba: number, count = 1): void {
  checkPower(st);
  checkLba(st, lba, count);
  st.counterValues.hostTrimCommands++;
  try {
    for (let start = lba; start < lba + count; start += MAX_TRIM_RECORD_PAGES) {
      trimRange(st, start, Math.min(MAX_TRIM_RECORD_PAGES, lba + count - start));
    }
  } catch (e) {
    guard(st, e);
  }
}

export function trimRange(st: FtlState, lba: number, count: number): void {
  let mapped = false;
  for (let i = lba; i < lba + count; i++) if (~st.l2p[i]! >= 0) mapped = true;
  if (!mapped) return;
  const die = st.blockMode ? nextHostDie(st) : 0;
  if (st.freeCount[die]! < st.options.gcThreshold) foregroundGc(st, die);
  const data = st.withData ? st.zeroPage : null;
  const ppa = place(st, st.hostStream, die, KIND_TRIM, lba, FRESH_SEQUENCE, count, data);
  setValid(st, ppa);
  st.counterValues.metadataPagePrograms++;
  for (let i = lba; i < lba + count; i++) {
    const old = ~st.l2p[i]!;
    if (old < 0) continue;
    st.l2p[i] = ~-1;
    setInvalid(st, old);
    st.counterValues.hostTrimmedPages++;
  }
}

/**
 * A static hostAllocation (config.ts HostAllocation): the die (the plane, planes.ts) of `lba` by
 * the scheme's order of channel, way (die in the channel), die in the way (one) and plane; when
 * that die has no room left (more than a block's pages not valid, and an open block, a free one
 * or one to collect), the next die in round robin. The room asked is less than nextHostDie's
 * reserve: a static scheme fills every die to the user share of its capacity.
 */
export function staticHostDie(st: FtlState, lba: number): number {
  const g = st.geometry;
  const planes = st.planesPerDie;
  const ways = g.diesPerChannel / planes;
  let rest = lba;
  let channel = 0;
  let way = 0;
  let plane = 0;
  for (let k = 0; k < 4; k++) {
    const letter = st.allocationOrder.charCodeAt(k);
    if (letter === 99 /* c */) {
      channel = rest % g.channels;
      rest = Math.floor(rest / g.channels);
    } else if (letter === 119 /* w */) {
      way = rest % ways;
      rest = Math.floor(rest / ways);
    } else if (letter === 112 /* p */) {
      plane = rest % planes;
      rest = Math.floor(rest / planes);
    }
  }
  const die = channel * g.diesPerChannel + way * planes + plane;
  if (st.poolCapacity[die]! - st.poolValid[die]! > st.dataPages && (st.hostStream.slot[die]! >= 0 || st.freeCount[die]! > 0 || leastValidUnit(st, die) >= 0)) {
    return die;
  }
  return nextHostDie(st);
}

/**
 * Block mode: the next die in channel-first round robin. A die that has no open block, no free
 * block and nothing to collect (its invalid pages all went to other dies) is skipped.
 */
export function nextHostDie(st: FtlState): number {
  // A die whose good pages are nearly all valid (it lost blocks to failures) is skipped while
  // another die has room, so data drifts towards the dies with spare capacity.
  const reserve = st.hostReserve;
  for (let tries = 0; tries < st.dies; tries++) {
    const die = st.dieOrder[st.hostCursor]!;
    if (++st.hostCursor === st.dies) st.hostCursor = 0;
    if (st.poolCapacity[die]! - st.poolValid[die]! < reserve) continue;
    if (st.hostStream.slot[die]! >= 0 || st.freeCount[die]! > 0) return die;
    if (leastValidUnit(st, die) >= 0) return die;
  }
  for (let tries = 0; tries < st.dies; tries++) {
    const die = st.dieOrder[st.hostCursor]!;
    if (++st.hostCursor === st.dies) st.hostCursor = 0;
    if (st.hostStream.slot[die]! >= 0 || st.freeCount[die]! > 0) return die;
    if (leastValidUnit(st, die) >= 0) return die;
  }
  throw new SsdError('NO_SPACE', 'no die has a free block or a block with invalid pages');
}

/** Physical page of a logical page (−1 when unmapped). */
export function physicalPage(st: FtlState, lba: number): number {
  checkLba(st, lba);
  return ~st.l2p[lba]!;
}
