// The demand-paged cached mapping table (DFTL): a cache of L2P entries in the controller's RAM
// (the CMT, LRU, each entry clean or dirty), the global translation directory (GTD: where each
// translation page — a page of consecutive L2P entries — lies on flash), and the flash work it
// causes: a translation-page read on a miss, a translation-page write-back (read of the old page,
// program of the new one) when a dirty entry is evicted, and DFTL's batch update of the translation
// pages whose entries GC or TRIM changed while they were not cached. Translation pages are real
// pages (spare kind KIND_TRANSLATION, P2L marker P2L_TRANSLATION_BASE − page number) in the host
// stream, with valid bits and VPC: GC moves them like data (gc.ts relocatePage), recovery finds
// the newest copy of each (recovery.ts), and every read and program is the device's, so WAF and
// latency count them. The FTL's full L2P stays the ground truth of where data is (as MQSim keeps
// its GlobalMappingTable): this table decides what the mapping costs, not what it maps.
// MQSim counterpart: Address_Mapping_Unit_Page_Level's Cached_Mapping_Table and GTD
// (request_mapping_entry, generate_flash_read_request_for_mapping_data,
// generate_flash_writeback_request_for_mapping_data, CMT_entry_size / GTD_entry_size /
// no_of_translation_entries_per_page), after Gupta et al., "DFTL", ASPLOS 2009.
import { SlotList } from '../slot-list.ts';
import { SsdError } from '../errors.ts';
import type { NandGeometry } from '@flashdiff/nand';
import { KIND_TRANSLATION } from '../spare.ts';
import type { FtlState } from './state.ts';
import { FRESH_SEQUENCE, place, setInvalid, setValid } from './block-manager.ts';
import { foregroundGc } from './gc.ts';
import { nextHostDie } from './mapping.ts';

/** What the report says about the cached mapping table (counts over the measured window). */
export interface MappingCacheReport {
  capacityEntries: number;
  /** L2P entries per translation page, and translation pages for the user capacity. */
  entriesPerTranslationPage: number;
  translationPages: number;
  /** Bytes of one CMT entry and one GTD entry (MQSim's formulas). */
  entryBytes: number;
  hits: number;
  misses: number;
  /** hits / (hits + misses); 0 without accesses. */
  hitRatio: number;
  /** Translation pages read (misses, and the old page before each write-back). */
  translationReads: number;
  /** Translation pages programmed (evictions of dirty entries and batch updates; GC moves not included). */
  translationWrites: number;
  /** Entries evicted, and those of them that were dirty (each cost a translation write-back). */
  evictions: number;
  dirtyEvictions: number;
  /** Translation writes for entries GC or TRIM changed while not cached (DFTL's batch update). */
  batchUpdates: number;
  /** Misses on a translation page whose read was still in flight: they wait for it instead of reading it again. */
  coalescedMisses: number;
}

/**
 * How a transaction scheduler times the translation-page reads of host accesses (the simulator's
 * replay sets it on the FTL; without it the eager clock's issue time moves to each read's end).
 */
export interface TranslationReadTiming {
  /** Just before a translation-page read for a host access. */
  beforeRead(): void;
  /** Right after it: what follows for this access waits for it; it is remembered as tvpn's read in flight. */
  afterRead(tvpn: number): void;
  /** A miss on tvpn: when its read is still in flight, makes what follows wait for it and returns true. */
  join(tvpn: number): boolean;
}

/**
 * MQSim's entry sizes (Address_Mapping_Unit_Page_Level's constructor): a CMT entry holds an LPA,
 * a PPA and a bit per sector of the page, ⌈(2·log2(physical pages) + sectors per page) / 8⌉ bytes;
 * a GTD (translation page) entry the PPA and the sector bits, ⌈(log2(physical pages) + sectors per
 * page) / 8⌉ bytes; a translation page holds ⌊page size / GTD entry size⌋ entries.
 */
export function mappingEntrySizes(geometry: NandGeometry): { cmtEntryBytes: number; gtdEntryBytes: number; entriesPerPage: number } {
  const pages = geometry.channels * geometry.diesPerChannel * geometry.blocksPerDie * geometry.pagesPerBlock;
  const sectors = geometry.pageSize / 512;
  const bits = Math.log2(pages);
  const cmtEntryBytes = Math.ceil((2 * bits + sectors) / 8);
  const gtdEntryBytes = Math.ceil((bits + sectors) / 8);
  return { cmtEntryBytes, gtdEntryBytes, entriesPerPage: Math.max(1, Math.floor(geometry.pageSize / gtdEntryBytes)) };
}

const NONE = -1;

/**
 * The CMT (an LRU of entries in typed arrays with a Map from LPA to slot, as the data cache), the
 * GTD, and the counts. An entry is dirty while its slot's epoch equals its translation page's:
 * writing a translation page back bumps the page's epoch, which cleans every cached entry of that
 * page at once (they were all written with it).
 */
export class MappingCache {
  readonly capacity: number;
  readonly entriesPerPage: number;
  readonly translationPages: number;
  readonly entryBytes: number;
  /** Physical page of each translation page (−1: never written: all its entries unmapped). */
  readonly gtd: Int32Array;
  private readonly epoch: Int32Array;
  private readonly slotLpa: Int32Array;
  /** The translation page's epoch when the entry became dirty; −1: clean. */
  private readonly slotEpoch: Int32Array;
  /** The cached entries' slots, most recently used at the head. */
  private readonly recency: SlotList;
  private readonly slotOf = new Map<number, number>();
  private used = 0;
  /** Translation pages with entries that GC or TRIM changed while not cached: written after the operation. */
  readonly pending = new Set<number>();
  readonly stats = { hits: 0, misses: 0, translationReads: 0, translationWrites: 0, evictions: 0, dirtyEvictions: 0, batchUpdates: 0, coalescedMisses: 0 };
  /** Eager clock: when the last read of each translation page for a host access completes. */
  readonly readDone: Float64Array;
  private baseline = { ...this.stats };

  constructor(capacity: number, entriesPerPage: number, userPages: number, entryBytes: number) {
    this.capacity = capacity;
    this.entriesPerPage = entriesPerPage;
    this.translationPages = Math.ceil(userPages / entriesPerPage);
    this.entryBytes = entryBytes;
    this.gtd = new Int32Array(this.translationPages).fill(NONE);
    this.readDone = new Float64Array(this.translationPages);
    this.epoch = new Int32Array(this.translationPages);
    this.slotLpa = new Int32Array(capacity).fill(NONE);
    this.slotEpoch = new Int32Array(capacity).fill(NONE);
    this.recency = new SlotList(capacity);
  }

  get size(): number {
    return this.used;
  }

  has(lpa: number): boolean {
    return this.slotOf.has(lpa);
  }

  isDirty(lpa: number): boolean {
    const s = this.slotOf.get(lpa);
    return s !== undefined && this.dirtySlot(s);
  }

  private dirtySlot(s: number): boolean {
    const e = this.slotEpoch[s]!;
    return e >= 0 && e === this.epoch[(this.slotLpa[s]! / this.entriesPerPage) | 0];
  }

  /** GC or TRIM changed lpa's mapping: a cached entry turns dirty, otherwise its page waits for a batch update. */
  mappingChanged(lpa: number): void {
    const s = this.slotOf.get(lpa);
    if (s !== undefined) this.slotEpoch[s] = this.epoch[(lpa / this.entriesPerPage) | 0]!;
    else this.pending.add((lpa / this.entriesPerPage) | 0);
  }

  /** A translation page was written: every cached entry of it is clean now, and it is no longer pending. */
  written(tvpn: number): void {
    this.epoch[tvpn]!++;
    this.pending.delete(tvpn);
  }

  /** Looks lpa up (a hit makes it most recent; `dirty` marks it changed). Returns whether it hit. */
  lookup(lpa: number, dirty: boolean): boolean {
    const s = this.slotOf.get(lpa);
    if (s === undefined) {
      this.stats.misses++;
      return false;
    }
    this.stats.hits++;
    this.recency.moveToHead(s);
    if (dirty) this.slotEpoch[s] = this.epoch[(lpa / this.entriesPerPage) | 0]!;
    return true;
  }

  /** Whether inserting needs an entry evicted first. */
  get full(): boolean {
    return this.used === this.capacity;
  }

  /** Removes the least recently used entry; returns its translation page when it was dirty, else −1. */
  evict(): number {
    const s = this.recency.tail;
    const lpa = this.slotLpa[s]!;
    const dirty = this.dirtySlot(s);
    this.recency.remove(s);
    this.slotOf.delete(lpa);
    const last = --this.used;
    if (last !== s) {
      // Keep slots dense: move the last one into the hole.
      const moved = this.slotLpa[last]!;
      this.slotLpa[s] = moved;
      this.slotEpoch[s] = this.slotEpoch[last]!;
      this.slotOf.set(moved, s);
      this.recency.relocate(last, s);
    }
    this.slotLpa[last] = NONE;
    this.slotEpoch[last] = NONE;
    this.stats.evictions++;
    if (!dirty) return NONE;
    this.stats.dirtyEvictions++;
    return (lpa / this.entriesPerPage) | 0;
  }

  /** Inserts lpa as the most recent entry (a slot must be free). */
  insert(lpa: number, dirty: boolean): void {
    const s = this.used++;
    this.slotLpa[s] = lpa;
    this.slotEpoch[s] = dirty ? this.epoch[(lpa / this.entriesPerPage) | 0]! : NONE;
    this.slotOf.set(lpa, s);
    this.recency.pushHead(s);
  }

  /** After a power cut or a mount: the RAM table is empty (the GTD is rebuilt by recovery). */
  clear(): void {
    this.slotOf.clear();
    this.slotLpa.fill(NONE);
    this.slotEpoch.fill(NONE);
    this.recency.clear();
    this.used = 0;
    this.pending.clear();
    this.gtd.fill(NONE);
  }

  startMeasurement(): void {
    this.baseline = { ...this.stats };
  }

  report(): MappingCacheReport {
    const d = (k: keyof MappingCache['stats']) => this.stats[k] - this.baseline[k];
    const hits = d('hits');
    const misses = d('misses');
    return {
      capacityEntries: this.capacity,
      entriesPerTranslationPage: this.entriesPerPage,
      translationPages: this.translationPages,
      entryBytes: this.entryBytes,
      hits,
      misses,
      hitRatio: hits + misses > 0 ? hits / (hits + misses) : 0,
      translationReads: d('translationReads'),
      translationWrites: d('translationWrites'),
      evictions: d('evictions'),
      dirtyEvictions: d('dirtyEvictions'),
      batchUpdates: d('batchUpdates'),
      coalescedMisses: d('coalescedMisses'),
    };
  }
}

/** The CMT for the FTL's options (null: mappingCacheEntries and mappingCacheBytes both 0, the full table in RAM). */
export function createMappingCache(geometry: NandGeometry, userPages: number, entries: number, bytes: number): MappingCache | null {
  if (entries === 0 && bytes === 0) return null;
  const sizes = mappingEntrySizes(geometry);
  const capacity = entries > 0 ? entries : Math.floor(bytes / sizes.cmtEntryBytes);
  if (capacity < 1) throw new SsdError('INVALID_CONFIG', `mappingCacheBytes: ${bytes} bytes hold no entry of ${sizes.cmtEntryBytes} bytes`);
  return new MappingCache(Math.min(capacity, userPages), sizes.entriesPerPage, userPages, sizes.cmtEntryBytes);
}

/**
 * A host access to lpa's mapping (before the host read or write of lpa): a hit costs nothing; a
 * miss evicts the least recently used entry (a dirty one writes its translation page back) and
 * reads lpa's translation page — after which the data operation is issued, since it needs the
 * address (the clock's issue time moves to the read's completion).
 */
export function accessMapping(st: FtlState, lpa: number, write: boolean): void {
  const cmt = st.cmt!;
  if (cmt.lookup(lpa, write)) return;
  if (cmt.full) {
    const tvpn = cmt.evict();
    if (tvpn >= 0) writeTranslationPage(st, tvpn);
  }
  const tvpn = (lpa / cmt.entriesPerPage) | 0;
  const hooks = st.translationTiming;
  const timing = st.device.timing;
  // A read of this translation page already in flight (MQSim's ArrivingMappingEntries): wait for it.
  const inFlight = hooks !== null ? hooks.join(tvpn) : cmt.readDone[tvpn]! > timing.now;
  if (inFlight) {
    if (hooks === null) timing.issueAt(cmt.readDone[tvpn]!);
    cmt.stats.coalescedMisses++;
  } else if (cmt.gtd[tvpn]! >= 0 || st.presumeTranslationPages) {
    hooks?.beforeRead();
    readTranslationPage(st, tvpn);
    if (hooks !== null) hooks.afterRead(tvpn);
    else {
      cmt.readDone[tvpn] = timing.lastCompletion;
      timing.issueAt(timing.lastCompletion);
    }
  }
  cmt.insert(lpa, write);
}

/**
 * Reads translation page tvpn: its page, or (never written, presumeTranslationPages) a read charged
 * on the die channel-first striping of the page number gives it.
 */
function readTranslationPage(st: FtlState, tvpn: number): void {
  const cmt = st.cmt!;
  const at = cmt.gtd[tvpn]!;
  if (at >= 0) {
    st.device.readPage(at);
  } else {
    // The clock counts real dies: over a PlaneView (one FTL die per plane) stripe over the real ones.
    const g = (st.device as { readonly physicalGeometry?: NandGeometry }).physicalGeometry ?? st.geometry;
    const channel = tvpn % g.channels;
    const die = channel * g.diesPerChannel + (Math.floor(tvpn / g.channels) % g.diesPerChannel);
    st.device.timing.read(die, channel, g.pageSize + g.spareSize);
  }
  cmt.stats.translationReads++;
  st.counterValues.translationPageReads++;
}

/**
 * Writes translation page tvpn back: reads the old copy (its entries that are not cached) when
 * there is one, programs the new copy in the host stream (foreground GC first when the die is
 * short of free blocks, as for a TRIM record), invalidates the old copy.
 */
export function writeTranslationPage(st: FtlState, tvpn: number): void {
  const cmt = st.cmt!;
  if (cmt.gtd[tvpn]! >= 0 || st.presumeTranslationPages) readTranslationPage(st, tvpn);
  const die = st.blockMode ? nextHostDie(st) : 0;
  if (st.freeCount[die]! < st.options.gcThreshold) foregroundGc(st, die);
  const to = place(st, st.hostStream, die, KIND_TRANSLATION, tvpn, FRESH_SEQUENCE, 1, st.withData ? st.zeroPage : null);
  // GC above may have moved the old copy: invalidate wherever it is now.
  const current = cmt.gtd[tvpn]!;
  if (current >= 0) setInvalid(st, current);
  setValid(st, to);
  cmt.gtd[tvpn] = to;
  cmt.written(tvpn);
  cmt.stats.translationWrites++;
  st.counterValues.translationPagePrograms++;
}

/**
 * DFTL's batch update after an operation: every translation page with entries that GC or TRIM
 * changed while they were not cached is written back once (its own GC may add more).
 */
export function flushPendingTranslations(st: FtlState): void {
  const cmt = st.cmt!;
  let guard = 4 * cmt.translationPages + 64;
  while (cmt.pending.size > 0) {
    if (guard-- === 0) throw new SsdError('NO_SPACE', 'translation-page updates keep causing GC that needs more of them: the device is too full for this mapping cache');
    const tvpn = cmt.pending.values().next().value!;
    cmt.pending.delete(tvpn);
    cmt.stats.batchUpdates++;
    writeTranslationPage(st, tvpn);
  }
}
