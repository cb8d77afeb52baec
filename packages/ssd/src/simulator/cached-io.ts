/**
 * The DRAM write-back data cache (../cache/data-cache.ts) wired into the simulator's host
 * operations: timed host writes land in DRAM, reads hit there or go to flash (and, with
 * readAllocate, come back into the cache), evictions and idle flushes write dirty pages back
 * through the FTL. The same object is trace replay's {@link ReplayCache}. The cache itself (slots,
 * recency, dirty list, DRAM timing) stays in cache/data-cache.ts; this file owns only how the
 * simulator's clock and FTL meet it. Upstream counterpart: MQSim's Data_Cache_Manager_Flash_Advanced
 * (its write-back of evicted dirty slots and its idle flush), seen from SSD_Device.
 */
import type { SimulatedNand } from '@flashdiff/nand';
import { isSsdError } from '../errors.ts';
import type { Ftl } from '../ftl.ts';
import type { DataCache } from '../cache/data-cache.ts';
import type { ReplayCache } from './replay.ts';

/** What the cache's host path reads from the simulator. */
export interface CachedIoHost {
  readonly ftl: Ftl;
  readonly device: SimulatedNand;
  readonly pageSize: number;
  /**
   * With the transaction scheduler a write-back is a transaction of the current request, which
   * completes with it; without it (the eager clock) the write-back's end is known at once.
   */
  readonly scheduled: boolean;
  /** unmappedReads 'flash-read': a never-written LBA still costs a page read. */
  readonly unmappedFlashRead: boolean;
  /** Charges that read; returns its completion time. */
  chargeUnmappedRead(lba: number): number;
}

/** The data cache between the simulator's host operations (and replay) and the FTL. */
export class CachedHostIo implements ReplayCache {
  readonly flushIdleNs: number;
  readonly readAllocate: boolean;

  constructor(
    readonly cache: DataCache,
    private readonly host: CachedIoHost,
  ) {
    this.flushIdleNs = cache.options.flushIdleUs * 1000;
    this.readAllocate = cache.options.readAllocate;
  }

  /**
   * A host page write with the data cache at time t: the page goes to DRAM and the write completes
   * when it is there; when every slot is taken the least recently used page leaves first, and a
   * dirty one is written back to flash before the host write completes (the write waits for the
   * room). Returns the completion. Also replay's write (data null, `bytes` the sectors touched).
   */
  hostWrite(lba: number, t: number, data: Uint8Array | null, bytes = this.host.pageSize): number {
    this.host.ftl.assertPowered();
    const done = this.put(lba, t, true, data, bytes);
    this.host.ftl.countCachedHostWrite();
    return done;
  }

  /**
   * A timed host page read issued at t: on a hit the page comes from DRAM (the flash is not
   * touched); on a miss with readAllocate it is read from flash, then cached clean. Returns the
   * completion, or −1 on a miss without readAllocate (the caller reads the flash as without a cache).
   */
  hostRead(lba: number, t: number, out?: Uint8Array): number {
    const cache = this.cache;
    if (cache.lookupRead(lba)) {
      this.host.ftl.countCachedHostRead();
      const cached = cache.payload(lba);
      if (out !== undefined && cached !== null) out.set(cached);
      return cache.dramAccess(t, this.host.pageSize);
    }
    if (cache.options.readAllocate) return this.readAllocateAt(lba, t, out);
    return -1;
  }

  /**
   * Puts a page in the cache at time t (evicting first when full) and returns when it is there:
   * the DRAM access, or the eviction's write-back when that ends later.
   */
  put(lba: number, t: number, dirty: boolean, data: Uint8Array | null, bytes = this.host.pageSize): number {
    const cache = this.cache;
    const { ftl, device, scheduled } = this.host;
    let done = t;
    if (cache.mustEvict(lba)) {
      const victim = cache.evict();
      if (victim.dirty) {
        if (!scheduled) device.timing.issueAt(t);
        try {
          ftl.writeBack(victim.lba, victim.data ?? undefined);
        } catch (e) {
          // Power went during the write-back: the evicted page never reached flash.
          if (isSsdError(e, 'POWER_LOSS')) cache.stats.lostDirtyPages++;
          throw e;
        }
        if (!scheduled) done = Math.max(done, device.timing.lastCompletion);
      }
    }
    cache.put(lba, dirty, data);
    return Math.max(done, cache.dramAccess(t, bytes));
  }

  /** readAllocate: a read miss goes to flash (as without a cache), then the page is cached clean. Returns its completion. */
  private readAllocateAt(lba: number, t: number, out?: Uint8Array): number {
    const { ftl, device } = this.host;
    const buffer = out ?? (device.metadataOnly ? undefined : new Uint8Array(this.host.pageSize));
    let done = t;
    if (ftl.read(lba, buffer) === 'mapped') done = Math.max(done, device.timing.lastCompletion);
    else if (this.host.unmappedFlashRead) done = Math.max(done, this.host.chargeUnmappedRead(lba));
    return Math.max(done, this.put(lba, done, false, buffer ?? null));
  }

  /** Writes dirty pages back, oldest first, while keepGoing() (asked before each); one flush when it wrote any. */
  writeBackWhile(keepGoing: () => boolean): number {
    const cache = this.cache;
    let written = 0;
    while (cache.dirtyPages > 0 && keepGoing()) {
      const lba = cache.oldestDirty();
      this.host.ftl.writeBack(lba, cache.payload(lba) ?? undefined);
      cache.markFlushed(lba);
      written++;
    }
    if (written > 0) cache.stats.flushes++;
    return written;
  }

  // ------------------------------------------------------------------ ReplayCache (replay.ts)

  write(lba: number, t: number, bytes: number): number {
    return this.hostWrite(lba, t, null, bytes);
  }

  read(lba: number, t: number, bytes: number): number {
    const cache = this.cache;
    if (!cache.lookupRead(lba)) return -1;
    this.host.ftl.countCachedHostRead();
    return cache.dramAccess(t, bytes);
  }

  allocate(lba: number, t: number, bytes: number): number {
    return this.put(lba, t, false, null, bytes);
  }

  has(lba: number): boolean {
    return this.cache.has(lba);
  }

  invalidate(lba: number, count: number): void {
    this.cache.invalidate(lba, count);
  }

  flush(keepGoing: () => boolean): number {
    return this.writeBackWhile(keepGoing);
  }
}
