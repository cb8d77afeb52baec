// The DRAM write-back data cache between the host interface and the FTL: which logical pages
// the controller's DRAM holds (an LRU list of page slots), which of them are dirty (a second list,
// oldest write first, the order a flush writes them back), their payloads when the device stores
// data, the DRAM's own timing (one memory channel, accesses one after another) and the counts the
// report gives (hits, misses, evictions, write-backs, flushes, dirty pages lost to a power cut).
// The simulator (../simulator.ts, ../simulator/replay.ts) decides when to evict, write back and
// flush; this file only keeps the state.
// MQSim counterpart: Data_Cache_Manager_Flash_Advanced with its Data_Cache_Flash (the LRU slots,
// write-back on eviction) and Data_Cache_Manager_Base's estimate_dram_access_time (tRCD + tCL +
// bytes / burst / 2 × the burst time 1000 / data rate ns, one access at a time on the DRAM
// channel, as its memory_channel_is_busy queue serves them).
import { NO_SLOT, SlotList } from '../slot-list.ts';
import { SsdError } from '../errors.ts';

/** The data cache's options (SimulatorConfig.dataCache). Give the size in pages or in bytes. */
export interface DataCacheOptions {
  /** Capacity in pages (one of capacityPages, capacityBytes). */
  readonly capacityPages?: number;
  /** Capacity in bytes (rounded down to whole pages; MQSim's Data_Cache_Capacity). */
  readonly capacityBytes?: number;
  /**
   * Fixed part of one DRAM access, ns (default 26: MQSim's default tRCD 13 + tCL 13).
   */
  readonly dramLatencyNs?: number;
  /**
   * Transfer time per byte, ns (default 5). MQSim's estimate_dram_access_time charges
   * bytes / burst size / 2 bursts of 1000 / data rate (MT/s) ns each; its default ssdconfig.xml
   * (Data_Cache_DRAM_Data_Rate 100, Data_Cache_DRAM_Data_Busrt_Size 1) gives 10 / 2 = 5 ns per
   * byte: an 8 KiB page takes 26 + 40,960 ns. A page is taken to fit one DRAM row (8 KiB there).
   */
  readonly dramNsPerByte?: number;
  /**
   * Trace replay: an idle gap between requests longer than this (µs) writes dirty pages back,
   * oldest first, while the device keeps within the gap (0: never; default 1000). Synthetic
   * closed-loop runs have no idle time.
   */
  readonly flushIdleUs?: number;
  /** A read miss also brings the page into the cache, clean (default false: writes only). */
  readonly readAllocate?: boolean;
}

/** The options with every default filled in. */
export interface ResolvedDataCacheOptions {
  readonly capacityPages: number;
  readonly dramLatencyNs: number;
  readonly dramNsPerByte: number;
  readonly flushIdleUs: number;
  readonly readAllocate: boolean;
}

/** What the report says about the data cache (counts over the measured window). */
export interface DataCacheReport {
  capacityPages: number;
  readHits: number;
  readMisses: number;
  /** readHits / (readHits + readMisses); 0 without reads. */
  readHitRatio: number;
  /** Host page writes to a page already in the cache (absorbed: no flash program for the older copy). */
  writeHits: number;
  writeMisses: number;
  /** Pages pushed out to make room (clean ones cost nothing, dirty ones a write-back). */
  evictions: number;
  /** Dirty pages written to flash: on eviction, by flushes (counted in nandPageWrites, not in hostPageWrites). */
  writeBacks: number;
  /** Idle-time flushes (and explicit flush calls) that wrote at least one page, and the pages they wrote. */
  flushes: number;
  flushedPages: number;
  /** Dirty pages in the cache now (not yet on flash). */
  dirtyPages: number;
  /** Dirty pages lost to power cuts (the cache is volatile DRAM; see docs/DESIGN.md). */
  lostDirtyPages: number;
}

/** Fills the defaults and checks the options; INVALID_CONFIG names the bad field. */
export function resolveDataCacheOptions(o: DataCacheOptions, pageSize: number): ResolvedDataCacheOptions {
  const bad = (field: string, why: string): never => {
    throw new SsdError('INVALID_CONFIG', `dataCache.${field}: ${why}`);
  };
  if ((o.capacityPages === undefined) === (o.capacityBytes === undefined)) {
    bad('capacityPages', 'give the size as capacityPages or capacityBytes (one of them)');
  }
  let capacityPages = 0;
  if (o.capacityPages !== undefined) {
    if (!Number.isInteger(o.capacityPages) || o.capacityPages < 1) bad('capacityPages', `must be a positive integer, got ${o.capacityPages}`);
    capacityPages = o.capacityPages;
  } else {
    const bytes = o.capacityBytes!;
    if (!Number.isSafeInteger(bytes) || bytes < pageSize) bad('capacityBytes', `must be an integer of at least one page (${pageSize} bytes), got ${bytes}`);
    capacityPages = Math.floor(bytes / pageSize);
  }
  if (capacityPages > 1 << 28) bad('capacityPages', `at most ${1 << 28} pages, got ${capacityPages}`);
  const dramLatencyNs = o.dramLatencyNs ?? 26;
  const dramNsPerByte = o.dramNsPerByte ?? 5;
  const flushIdleUs = o.flushIdleUs ?? 1000;
  for (const [field, v] of [['dramLatencyNs', dramLatencyNs], ['dramNsPerByte', dramNsPerByte], ['flushIdleUs', flushIdleUs]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(field, `must be a non-negative number, got ${String(v)}`);
  }
  const readAllocate = o.readAllocate ?? false;
  if (typeof readAllocate !== 'boolean') bad('readAllocate', `must be true or false, got ${String(readAllocate)}`);
  return { capacityPages, dramLatencyNs, dramNsPerByte, flushIdleUs, readAllocate };
}

const NONE = NO_SLOT;

/**
 * The cache's state: `capacityPages` slots, each holding one logical page, on two doubly linked
 * lists kept in typed arrays — every slot in use on the recency list (most recent at the head),
 * the dirty ones also on the dirty list (most recently written at the head) — and a Map from
 * logical page to slot. Every operation is O(1).
 */
export class DataCache {
  readonly options: ResolvedDataCacheOptions;
  readonly capacityPages: number;
  private readonly slotLba: Int32Array;
  /** Every slot in use, most recently used at the head. */
  private readonly recency: SlotList;
  /** The dirty slots, most recently written at the head. */
  private readonly dirtyList: SlotList;
  private readonly dirty: Uint8Array;
  private readonly payloads: (Uint8Array | null)[];
  private readonly slotOf = new Map<number, number>();
  private used = 0;
  private dirtyCount = 0;
  /** When the DRAM channel is free again (ns of simulated time). */
  private dramFreeAt = 0;
  readonly stats = { readHits: 0, readMisses: 0, writeHits: 0, writeMisses: 0, evictions: 0, writeBacks: 0, flushes: 0, flushedPages: 0, lostDirtyPages: 0 };
  private baseline = { ...this.stats };

  constructor(options: ResolvedDataCacheOptions) {
    this.options = options;
    this.capacityPages = options.capacityPages;
    const n = options.capacityPages;
    this.slotLba = new Int32Array(n).fill(NONE);
    this.recency = new SlotList(n);
    this.dirtyList = new SlotList(n);
    this.dirty = new Uint8Array(n);
    this.payloads = [];
  }

  /** Pages held, and how many of them are dirty. */
  get size(): number {
    return this.used;
  }
  get dirtyPages(): number {
    return this.dirtyCount;
  }

  has(lba: number): boolean {
    return this.slotOf.has(lba);
  }
  isDirty(lba: number): boolean {
    const s = this.slotOf.get(lba);
    return s !== undefined && this.dirty[s] === 1;
  }

  /**
   * One DRAM access of `bytes` asked at time t: it starts when the channel is free and takes
   * dramLatencyNs + bytes × dramNsPerByte. Returns its end.
   */
  dramAccess(t: number, bytes: number): number {
    const start = t > this.dramFreeAt ? t : this.dramFreeAt;
    const end = start + this.options.dramLatencyNs + bytes * this.options.dramNsPerByte;
    this.dramFreeAt = end;
    return end;
  }

  /** A host read: counts a hit (and makes the page most recent) or a miss. */
  lookupRead(lba: number): boolean {
    const s = this.slotOf.get(lba);
    if (s === undefined) {
      this.stats.readMisses++;
      return false;
    }
    this.stats.readHits++;
    this.recency.moveToHead(s);
    return true;
  }

  /** The cached payload of `lba` (null on a metadata-only device or when it is not cached). */
  payload(lba: number): Uint8Array | null {
    const s = this.slotOf.get(lba);
    return s === undefined ? null : (this.payloads[s] ?? null);
  }

  /** Whether putting `lba` needs a slot freed first (it is not cached and every slot is taken). */
  mustEvict(lba: number): boolean {
    return this.used === this.capacityPages && !this.slotOf.has(lba);
  }

  /**
   * Frees the least recently used slot. Returns its page with whether it was dirty (the caller
   * writes a dirty one back) and its payload: { lba, dirty, data }.
   */
  evict(): { lba: number; dirty: boolean; data: Uint8Array | null } {
    const s = this.recency.tail;
    if (s === NONE) throw new Error('evict from an empty cache');
    const lba = this.slotLba[s]!;
    const wasDirty = this.dirty[s] === 1;
    const data = this.payloads[s] ?? null;
    this.remove(s);
    this.stats.evictions++;
    if (wasDirty) this.stats.writeBacks++;
    return { lba, dirty: wasDirty, data };
  }

  /**
   * Puts `lba` in the cache as the most recent page (a slot must be free or the page cached:
   * see {@link mustEvict}). `dirty`: a host write (counted as a write hit or miss); otherwise a
   * clean page read in (readAllocate). `data` is copied when given.
   */
  put(lba: number, dirty: boolean, data: Uint8Array | null): void {
    let s = this.slotOf.get(lba);
    if (dirty) {
      if (s !== undefined) this.stats.writeHits++;
      else this.stats.writeMisses++;
    }
    if (s === undefined) {
      if (this.used === this.capacityPages) throw new Error('put into a full cache');
      s = this.used++;
      // Slots are used densely: a removed slot is refilled by moving the last one into it.
      this.slotLba[s] = lba;
      this.slotOf.set(lba, s);
      this.recency.pushHead(s);
    } else {
      this.recency.moveToHead(s);
    }
    if (data !== null) {
      const copy = this.payloads[s] ?? new Uint8Array(data.length);
      copy.set(data);
      this.payloads[s] = copy;
    }
    if (dirty) {
      if (this.dirty[s] === 1) this.dirtyList.remove(s);
      else {
        this.dirty[s] = 1;
        this.dirtyCount++;
      }
      this.dirtyList.pushHead(s);
    }
  }

  /**
   * The dirty page written longest ago (a flush writes it back first), or −1 when none is dirty.
   */
  oldestDirty(): number {
    return this.dirtyList.tail === NONE ? NONE : this.slotLba[this.dirtyList.tail]!;
  }

  /** Marks a dirty page clean after it was written back by a flush; counts the write-back. */
  markFlushed(lba: number): void {
    const s = this.slotOf.get(lba);
    if (s === undefined || this.dirty[s] === 0) return;
    this.dirtyList.remove(s);
    this.dirty[s] = 0;
    this.dirtyCount--;
    this.stats.writeBacks++;
    this.stats.flushedPages++;
  }

  /** Drops [lba, lba + count) from the cache (TRIM: the dirty data is superseded, not written). */
  invalidate(lba: number, count: number): void {
    if (this.used === 0) return;
    if (count > this.used) {
      // A long range: walk the cached pages instead of the range.
      for (let s = this.used - 1; s >= 0; s--) {
        const x = this.slotLba[s]!;
        if (x >= lba && x < lba + count) this.remove(s);
      }
      return;
    }
    for (let x = lba; x < lba + count; x++) {
      const s = this.slotOf.get(x);
      if (s !== undefined) this.remove(s);
    }
  }

  /** A power cut: the DRAM's contents are gone; dirty pages are counted as lost. */
  powerLoss(): void {
    this.stats.lostDirtyPages += this.dirtyCount;
    this.slotOf.clear();
    this.slotLba.fill(NONE);
    this.dirty.fill(0);
    this.payloads.length = 0;
    this.recency.clear();
    this.dirtyList.clear();
    this.used = 0;
    this.dirtyCount = 0;
  }

  /** Starts the measured window: the report counts from here. */
  startMeasurement(): void {
    this.baseline = { ...this.stats };
  }

  report(): DataCacheReport {
    const d = (k: keyof DataCache['stats']) => this.stats[k] - this.baseline[k];
    const hits = d('readHits');
    const misses = d('readMisses');
    return {
      capacityPages: this.capacityPages,
      readHits: hits,
      readMisses: misses,
      readHitRatio: hits + misses > 0 ? hits / (hits + misses) : 0,
      writeHits: d('writeHits'),
      writeMisses: d('writeMisses'),
      evictions: d('evictions'),
      writeBacks: d('writeBacks'),
      flushes: d('flushes'),
      flushedPages: d('flushedPages'),
      dirtyPages: this.dirtyCount,
      lostDirtyPages: d('lostDirtyPages'),
    };
  }

  // ------------------------------------------------------------------ lists

  /** Removes slot s and moves the last used slot into it, so slots 0 … used − 1 stay in use. */
  private remove(s: number): void {
    this.recency.remove(s);
    if (this.dirty[s] === 1) {
      this.dirtyList.remove(s);
      this.dirty[s] = 0;
      this.dirtyCount--;
    }
    this.slotOf.delete(this.slotLba[s]!);
    const last = --this.used;
    if (last !== s) this.moveSlot(last, s);
    this.slotLba[last] = NONE;
    this.payloads[last] = null;
  }

  /** Moves slot `from` (in use) to the free slot `to`, relinking its neighbours. */
  private moveSlot(from: number, to: number): void {
    const lba = this.slotLba[from]!;
    this.slotLba[to] = lba;
    this.slotOf.set(lba, to);
    this.payloads[to] = this.payloads[from] ?? null;
    this.recency.relocate(from, to);
    this.dirty[to] = this.dirty[from]!;
    if (this.dirty[from] === 1) {
      this.dirtyList.relocate(from, to);
      this.dirty[from] = 0;
    }
  }
}
