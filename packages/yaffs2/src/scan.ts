/**
 * The mount scan (upstream: yaffs_yaffs2.c yaffs2_scan_backwards, yaffs_guts.c
 * yaffs_fix_hanging_objs) and spare-layout detection from an image alone.
 */
import type { NandDevice } from '@flashdiff/nand';
import { decodeHeader, decodeName, encodeName } from './header.ts';
import type { ObjectHeader } from './header.ts';
import { emptyTags, isYaffs1Layout, ObjectType, spareLayout } from './tags.ts';
import type { SpareLayout, SpareLayoutName } from './tags.ts';
import { BlockState, setBlockState, HIGHEST_SEQUENCE_NUMBER, OBJECT_ID_SUMMARY, LOWEST_SEQUENCE_NUMBER, markLive, OBJECT_ID_DELETED, OBJECT_ID_LIMIT, OBJECT_ID_LOST_AND_FOUND, OBJECT_ID_ROOT, OBJECT_ID_UNLINKED, SEQUENCE_CHECKPOINT_DATA } from './block-info.ts';
import type { Yaffs2Dev, YObject } from './block-info.ts';
import { deleteChunk, readChunk, readPageTags, readTagsFromSpare, strike } from './nand-io.ts';
import { getObject } from './objects.ts';

/**
 * Finds the spare layout of an image: the first written chunks are read under both layouts and
 * the one whose tags pass their ECC with plausible fields wins (like unyaffs's detection).
 * Returns 'blank' when no page is written, null when neither layout fits.
 */
export function detectLayout(device: NandDevice): SpareLayoutName | 'blank' | null {
  const g = device.geometry;
  const total = g.blocksPerDie * g.diesPerChannel * g.channels * g.pagesPerBlock;
  const spare = new Uint8Array(g.spareSize);
  const tags = emptyTags();
  const score: Record<SpareLayoutName, number> = { mkyaffs2: 0, mtd: 0, yaffs1: 0, 'yaffs1-mtd': 0 };
  let seen = 0;
  const names: SpareLayoutName[] = ['mkyaffs2', 'mtd', 'yaffs1', 'yaffs1-mtd'];
  for (let page = 0; page < total && seen < 8; page++) {
    const block = Math.floor(page / g.pagesPerBlock);
    if (page % g.pagesPerBlock === 0 && device.isBad(block)) {
      page += g.pagesPerBlock - 1;
      continue;
    }
    device.readPage(page, undefined, spare);
    let allErased = true;
    for (let i = 0; i < spare.length; i++) {
      if (spare[i] !== 0xff) {
        allErased = false;
        break;
      }
    }
    if (allErased) continue;
    seen++;
    for (const name of names) {
      let layout: SpareLayout;
      try {
        layout = spareLayout(name, g.pageSize, g.spareSize);
      } catch {
        continue;
      }
      const copy = spare.slice();
      readTagsFromSpare(copy, layout, tags);
      if (tags.erased || tags.eccResult === 'unfixed') continue;
      if (tags.sequenceNumber === SEQUENCE_CHECKPOINT_DATA) score[name]++;
      else if (
        tags.sequenceNumber >= LOWEST_SEQUENCE_NUMBER &&
        tags.sequenceNumber <= HIGHEST_SEQUENCE_NUMBER &&
        tags.objectId > 0 &&
        tags.objectId < OBJECT_ID_LIMIT
      ) {
        score[name]++;
      }
    }
  }
  if (seen === 0) return 'blank';
  const best = names.reduce((a, b) => (score[b] > score[a] ? b : a));
  return score[best] === 0 ? null : best;
}

/** What {@link takeNewestHeader} reads and sets of an object being scanned (the mount's scan and stream-extract.ts's). */
export interface HeaderScanState {
  header: ObjectHeader | null;
  headerType: number;
  deleted: boolean;
  shrinkSize: number;
}

/**
 * The newest header of an object (yaffs2_scan_chunk's object-header case), for an object other
 * than the root and lost+found: a shrink mark caps the older chunks; a header shadowing another
 * object deletes it unless that object already has a header; a header in the deleted or unlinked
 * directory deletes this object (false); otherwise it becomes the object's header (true), and a
 * file's size caps every older chunk, shrink mark or not — current upstream sets shrink_size from
 * it, and never sets is_shrink on a truncate or O_TRUNC. Chunks newer than this header (seen before
 * it) were already taken.
 */
export function takeNewestHeader<S extends HeaderScanState>(s: S, h: ObjectHeader, type: number, shrinkFromTags: boolean, getScan: (id: number) => S): boolean {
  if (shrinkFromTags || h.isShrink) s.shrinkSize = Math.min(s.shrinkSize, h.fileSize);
  if (h.shadows > 0) {
    const shadowed = getScan(h.shadows);
    if (!shadowed.header) shadowed.deleted = true;
  }
  if (h.parentId === OBJECT_ID_DELETED || h.parentId === OBJECT_ID_UNLINKED) {
    s.deleted = true;
    s.shrinkSize = 0;
    return false;
  }
  s.header = h;
  s.headerType = type;
  if (type === ObjectType.file && h.fileSize !== 0xffffffff) s.shrinkSize = Math.min(s.shrinkSize, h.fileSize);
  return true;
}

interface ScanObject {
  id: number;
  header: ObjectHeader | null;
  headerType: number;
  headerPage: number;
  deleted: boolean;
  /** Older chunks starting at or past this are stale (upstream's shrink_size). */
  shrinkSize: number;
  /** End of the data chunks newer than the newest header (upstream's stored_size before a header). */
  scannedSize: number;
  chunks: ScanChunks;
  /** Scan ordinal of the live header: lower is newer. */
  headerAge: number;
}

/** Chunk ids up to this are kept in a dense array (4 GiB of 2 KiB chunks); larger ones (damaged tags) in a Map. */
const DENSE_CHUNK_IDS = 1 << 21;

/**
 * Chunk id (≥ 1) → page of one object during the scan: a growing array instead of a Map entry
 * per chunk (a mount of a 50 MiB image makes 25,000 of them, and the garbage collector copies
 * every one while the scan runs). Ids past DENSE_CHUNK_IDS go to a Map.
 */
class ScanChunks {
  private dense = new Int32Array(0);
  private sparse: Map<number, number> | null = null;
  size = 0;

  /** The page of chunk k, or −1. */
  get(k: number): number {
    if (k <= DENSE_CHUNK_IDS) return k <= this.dense.length ? this.dense[k - 1]! : -1;
    return this.sparse?.get(k) ?? -1;
  }

  has(k: number): boolean {
    return this.get(k) >= 0;
  }

  set(k: number, page: number): void {
    if (k <= DENSE_CHUNK_IDS) {
      if (k > this.dense.length) {
        let length = Math.max(16, this.dense.length * 2);
        while (length < k) length *= 2;
        const grown = new Int32Array(Math.min(length, DENSE_CHUNK_IDS)).fill(-1);
        grown.set(this.dense);
        this.dense = grown;
      }
      if (this.dense[k - 1]! < 0) this.size++;
      this.dense[k - 1] = page;
      return;
    }
    this.sparse ??= new Map();
    if (!this.sparse.has(k)) this.size++;
    this.sparse.set(k, page);
  }

  delete(k: number): void {
    if (k <= DENSE_CHUNK_IDS) {
      if (k <= this.dense.length && this.dense[k - 1]! >= 0) {
        this.dense[k - 1] = -1;
        this.size--;
      }
    } else if (this.sparse?.delete(k)) {
      this.size--;
    }
  }

  /** Every (chunk id, page), dense ids ascending first. */
  forEach(f: (k: number, page: number) => void): void {
    const dense = this.dense;
    for (let i = 0; i < dense.length; i++) if (dense[i]! >= 0) f(i + 1, dense[i]!);
    this.sparse?.forEach((page, k) => f(k, page));
  }
}

/**
 * The yaffs2 backward scan: blocks sorted by sequence number, newest first, pages last to
 * first; the first copy seen of (object, chunk) wins. A file's newest header sets its size
 * (or the chunks written after it, when they reach further) and drops older chunks past it;
 * older shrink headers drop older chunks past theirs; shadowing headers delete the object they
 * replace; tombstones (parent deleted or unlinked) delete the object. Objects without any
 * header are dropped. `onProgress` counts blocks examined: every block once in the first pass,
 * then each block in use again in the second (its total is twice the blocks until the first
 * pass knows how many are in use).
 */
export function scan(dev: Yaffs2Dev, onProgress?: (done: number, total: number) => void): void {
  dev.allocEpoch++; // block states are set anew (findAllocBlock's heap is rebuilt)
  const ppb = dev.pagesPerBlock;
  const spare = new Uint8Array(dev.device.geometry.spareSize);
  const tags = emptyTags();
  const order: number[] = [];
  dev.scanProblems = [];
  const problem = (line: string): void => {
    dev.scanProblems.push(line);
  };
  let badTags = 0;
  let foreignSequence = 0;
  let badIds = 0;
  let maxSequence = LOWEST_SEQUENCE_NUMBER - 1;
  const yaffs1 = isYaffs1Layout(dev.layout.name);
  const otherTags = emptyTags();
  // YAFFS1 has no sequence numbers: of two live copies of a header or data chunk (a power cut
  // between writing the new one and marking the old one deleted), the later one wins only when
  // its 2-bit serial number is the earlier one's + 1 (yaffs1_scan, yaffs_put_chunk_in_file).
  // The scan meets the later copy first, so the earlier one takes over when that does not hold.
  const earlierWins = (earlierSerial: number, laterPage: number): boolean => {
    readPageTags(dev, laterPage, spare, otherTags);
    return ((earlierSerial + 1) & 3) !== otherTags.serialNumber;
  };
  for (let b = 0; b < dev.blockCount; b++) {
    onProgress?.(b, 2 * dev.blockCount);
    if (dev.device.isBad(b)) {
      setBlockState(dev, b, BlockState.dead);
      dev.deadEpoch++;
      continue;
    }
    // Classify by the first page that is not fully erased.
    let sequence = -1;
    let anyProgrammed = false;
    for (let i = 0; i < ppb; i++) {
      if (dev.layout.inbandTags) {
        // Tags in the page: programmed when they are (the spare may be all 0xFF either way).
        readPageTags(dev, b * ppb + i, spare, tags);
        let erased = tags.erased;
        for (let j = 0; erased && j < spare.length; j++) if (spare[j] !== 0xff) erased = false;
        if (erased) continue;
        anyProgrammed = true;
        if (sequence < 0 && !tags.erased && tags.eccResult !== 'unfixed') sequence = tags.sequenceNumber;
        continue;
      }
      dev.device.readPage(b * ppb + i, undefined, spare);
      let erased = true;
      for (let j = 0; j < spare.length; j++) {
        if (spare[j] !== 0xff) {
          erased = false;
          break;
        }
      }
      if (erased) continue;
      anyProgrammed = true;
      if (sequence < 0) {
        readTagsFromSpare(spare, dev.layout, tags);
        if (!tags.erased && tags.eccResult !== 'unfixed') sequence = tags.sequenceNumber;
      }
    }
    if (!anyProgrammed) {
      setBlockState(dev, b, BlockState.empty);
      // Safe to program only if a torn erase left no zero bits in the data area: we cannot
      // tell from the spare alone, so the first use erases it again.
      dev.blockEraseBeforeUse[b] = 1;
      continue;
    }
    dev.blockWritten[b] = ppb;
    if (sequence === SEQUENCE_CHECKPOINT_DATA) {
      setBlockState(dev, b, BlockState.checkpoint);
      dev.checkpointBlocksPresent = true;
      continue;
    }
    setBlockState(dev, b, BlockState.full);
    if (sequence >= LOWEST_SEQUENCE_NUMBER && sequence <= HIGHEST_SEQUENCE_NUMBER) {
      dev.blockSequence[b] = sequence;
      if (sequence > maxSequence) maxSequence = sequence;
      order.push(b);
    } else {
      dev.blockSequence[b] = 0; // garbage only: reclaimed by GC
      problem(sequence < 0 ? `block ${b}: programmed, but no page has readable tags; its contents are ignored` : `block ${b}: sequence number ${sequence} is outside YAFFS2's range; its contents are ignored`);
    }
  }
  // Newest first; equal numbers (every block of a mkyaffs2image image has 0x1000): the later
  // block is newer.
  order.sort((a, b) => dev.blockSequence[b]! - dev.blockSequence[a]! || b - a);
  dev.sequenceNumber = maxSequence;

  const scanObjects = new Map<number, ScanObject>();
  const getScan = (id: number): ScanObject => {
    let s = scanObjects.get(id);
    if (!s) {
      s = { id, header: null, headerType: 0, headerPage: -1, deleted: false, shrinkSize: Infinity, scannedSize: 0, chunks: new ScanChunks(), headerAge: Infinity };
      scanObjects.set(id, s);
    }
    return s;
  };
  const data = new Uint8Array(dev.chunkSize);
  const cs = dev.chunkSize;
  let ordinal = 0;
  let examined = dev.blockCount;
  for (const b of order) {
    onProgress?.(examined++, dev.blockCount + order.length);
    for (let i = ppb - 1; i >= 0; i--) {
      const page = b * ppb + i;
      readPageTags(dev, page, spare, tags);
      if (tags.erased) continue;
      if (tags.eccResult === 'unfixed') {
        dev.stats.tagEccUncorrectable++;
        badTags++;
        continue;
      }
      if (tags.eccResult === 'fixed') {
        dev.stats.tagEccCorrected++;
        dev.tagEccCorrectedPages.add(page);
        strike(dev, b);
      }
      if (tags.deleted) {
        // YAFFS1: marked dead by its page status; yaffs1_scan skips these (free once GC erases them).
        continue;
      }
      if (tags.sequenceNumber !== dev.blockSequence[b]) {
        foreignSequence++; // not from this block's life (upstream ignores these too)
        continue;
      }
      const id = tags.objectId;
      if (id === OBJECT_ID_SUMMARY) continue; // upstream's block summary: an index of the tags we read anyway
      if (id < 1 || id >= OBJECT_ID_LIMIT || id === OBJECT_ID_UNLINKED || id === OBJECT_ID_DELETED) {
        badIds++;
        continue;
      }
      if (tags.chunkId === 0) {
        const s = getScan(id);
        const shrinkFromTags = tags.extraAvailable && tags.extraIsShrink;
        if (yaffs1 && s.header && earlierWins(tags.serialNumber, s.headerPage)) {
          s.header = null;
          s.shrinkSize = Infinity;
          // (the spare buffer was reused: read this page's tags again)
          readPageTags(dev, page, spare, tags);
        }
        if (s.header || s.deleted) {
          // An older header: only its shrink mark matters (older chunks past its size are gone).
          if (shrinkFromTags || tags.extraAvailable) {
            if (shrinkFromTags) s.shrinkSize = Math.min(s.shrinkSize, tags.extraFileSizeOrEquiv);
          } else {
            if (!readChunk(dev, page, data, dev.tagsScratch)) continue;
            const h = decodeHeader(data, dev.layout.bigEndian, dev.layout.inbandTags);
            if (h.isShrink) s.shrinkSize = Math.min(s.shrinkSize, h.fileSize);
          }
          continue;
        }
        if (!readChunk(dev, page, data, dev.tagsScratch)) {
          problem(`object ${id}: header at page ${page} is unreadable (ECC); an older one is used if there is one`);
          continue;
        }
        const h = decodeHeader(data, dev.layout.bigEndian, dev.layout.inbandTags);
        const type = tags.extraAvailable ? tags.extraObjectType : h.type;
        if (type < ObjectType.file || type > ObjectType.special || h.type !== type) {
          problem(`object ${id}: header at page ${page} has object type ${h.type}${tags.extraAvailable ? ` (tags say ${type})` : ''}; skipped`);
          continue;
        }
        if (id === OBJECT_ID_ROOT || id === OBJECT_ID_LOST_AND_FOUND) {
          // A written root/lost+found header (Linux writes one after chmod): take its attributes.
          s.header = h;
          s.headerType = type;
          s.headerPage = page;
          s.headerAge = ordinal++;
          continue;
        }
        // A block holding a shrink or shadowing header is erased only when no older block holds stale chunks.
        if (shrinkFromTags || h.isShrink || h.shadows > 0) dev.blockProtected[b] = 1;
        if (!takeNewestHeader(s, h, type, shrinkFromTags, getScan)) continue;
        s.headerPage = page;
        s.headerAge = ordinal++;
      } else {
        const s = getScan(id);
        if (s.deleted) continue;
        const k = tags.chunkId;
        if (k > 0x7fffffff) continue;
        if (s.chunks.has(k)) {
          if (!yaffs1 || !earlierWins(tags.serialNumber, s.chunks.get(k))) continue;
          readPageTags(dev, page, spare, tags);
          s.chunks.delete(k);
        }
        const start = (k - 1) * cs;
        if (start >= s.shrinkSize) continue;
        const endPos = Math.min(start + Math.min(tags.byteCount, cs), s.shrinkSize);
        s.chunks.set(k, page);
        // Only chunks newer than the newest header extend the file (written after its last
        // header, before a power cut); older ones lie within that header's size.
        if (!s.header && endPos > s.scannedSize) s.scannedSize = endPos;
      }
    }
  }
  onProgress?.(examined, dev.blockCount + order.length);

  if (badTags > 0) problem(`${badTags} chunk(s) with uncorrectable tags skipped`);
  if (foreignSequence > 0) problem(`${foreignSequence} chunk(s) with a sequence number other than their block's skipped`);
  if (badIds > 0) problem(`${badIds} chunk(s) naming no valid object id skipped`);
  for (const s of scanObjects.values()) {
    if (!s.header && !s.deleted && s.chunks.size > 0 && s.id !== OBJECT_ID_ROOT && s.id !== OBJECT_ID_LOST_AND_FOUND) {
      problem(`object ${s.id}: ${s.chunks.size} data chunk(s) but no readable header; dropped`);
    }
  }
  // Build objects.
  const t0 = 0;
  for (const s of scanObjects.values()) {
    if (s.deleted || !s.header) continue;
    const h = s.header;
    if (s.id === OBJECT_ID_ROOT || s.id === OBJECT_ID_LOST_AND_FOUND) {
      const fake = dev.objects.get(s.id)!;
      fake.mode = h.mode;
      fake.uid = h.uid;
      fake.gid = h.gid;
      fake.atime = h.atime;
      fake.mtime = h.mtime;
      fake.ctime = h.ctime;
      fake.headerPage = s.headerPage;
      markLive(dev, s.headerPage);
      continue;
    }
    const nameString = decodeName(h.name);
    const o: YObject = {
      id: s.id,
      type: s.headerType,
      parentId: h.parentId,
      name: h.name,
      nameString,
      mode: h.mode === 0xffffffff ? t0 : h.mode,
      uid: h.uid === 0xffffffff ? 0 : h.uid,
      gid: h.gid === 0xffffffff ? 0 : h.gid,
      atime: h.atime === 0xffffffff ? 0 : h.atime,
      mtime: h.mtime === 0xffffffff ? 0 : h.mtime,
      ctime: h.ctime === 0xffffffff ? 0 : h.ctime,
      rdev: h.rdev === 0xffffffff ? 0 : h.rdev,
      size: 0,
      equivId: h.equivId,
      alias: h.alias,
      headerPage: s.headerPage,
      chunks: new Int32Array(0),
      children: s.headerType === ObjectType.directory ? new Map() : null,
      links: s.headerType === ObjectType.file ? new Set() : null,
      headerDirty: false,
      fake: false,
    };
    if (o.type === ObjectType.file) {
      o.size = Math.max(h.fileSize === 0xffffffff ? 0 : h.fileSize, s.scannedSize);
      let maxK = 0;
      s.chunks.forEach((k) => {
        if (k > maxK) maxK = k;
      });
      const keep = Math.ceil(o.size / cs);
      const chunks = new Int32Array(Math.min(maxK, keep)).fill(-1);
      s.chunks.forEach((k, page) => {
        if (k <= chunks.length) {
          chunks[k - 1] = page;
          markLive(dev, page);
        }
      });
      o.chunks = chunks;
    } else if (o.type === ObjectType.hardlink) {
      o.mode = 0;
    }
    if (o.name.length === 0 || nameString.includes('/') || nameString === '.' || nameString === '..') {
      dev.scanProblems.push(`object ${o.id}: unusable name ${JSON.stringify(nameString)}; moved to lost+found as obj${o.id}`);
      o.name = encodeName(`obj${o.id}`);
      o.nameString = `obj${o.id}`;
      o.parentId = OBJECT_ID_LOST_AND_FOUND;
    }
    dev.objects.set(o.id, o);
    markLive(dev, s.headerPage);
  }
  // Never hand out an id seen on flash, deleted ones included (their tombstones may remain).
  for (const id of scanObjects.keys()) {
    if (id >= dev.nextObjectId && id + 1 < OBJECT_ID_LIMIT) dev.nextObjectId = id + 1;
  }
  const age = new Map<number, number>();
  for (const s of scanObjects.values()) age.set(s.id, s.headerAge);
  linkTree(dev, age);
  dev.allocBlock = -1; // the newest block may end in a torn page: never program into it again
}

/**
 * Hooks every object into its parent directory (yaffs_fix_hanging_objs), newest header first
 * (`age`: scan ordinal, lower is newer): a missing or non-directory parent or a parent loop
 * sends the object to lost+found. Of two objects with one name, the newer keeps it; the older,
 * if a file with hard links, takes one link's name (a rename over a hard-linked file cut before
 * that step: see {@link Yaffs2Dev.pendingPromotions}), otherwise goes to lost+found.
 * Hard links without a file to point at are dropped.
 */
export function linkTree(dev: Yaffs2Dev, age: Map<number, number>): void {
  const lostAndFound = getObject(dev, OBJECT_ID_LOST_AND_FOUND);
  const limit = dev.objects.size + 2;
  const toLost = (o: YObject, why: string): void => {
    dev.scanProblems.push(`object ${o.id} (${JSON.stringify(o.nameString)}): ${why}; moved to lost+found`);
    o.parentId = OBJECT_ID_LOST_AND_FOUND;
    let name = `obj${o.id}`;
    if (lostAndFound.children!.has(name)) name = `obj${o.id}-${lostAndFound.children!.size}`;
    o.name = encodeName(name);
    o.nameString = name;
    lostAndFound.children!.set(name, o.id);
  };
  const ageOf = (id: number): number => age.get(id) ?? Infinity;
  const ids = [...dev.objects.keys()].sort((a, b) => ageOf(a) - ageOf(b) || a - b);
  for (const id of ids) {
    const o = dev.objects.get(id)!;
    if (o.type !== ObjectType.hardlink) continue;
    const t = dev.objects.get(o.equivId);
    if (!t || t.type !== ObjectType.file) {
      dev.scanProblems.push(`hard link ${o.id} (${JSON.stringify(o.nameString)}): its file, object ${o.equivId}, is ${t ? 'not a regular file' : 'missing'}; dropped`);
      deleteChunk(dev, o.headerPage);
      dev.objects.delete(id);
      continue;
    }
    t.links!.add(o.id);
  }
  const place = (o: YObject): void => {
    const parent = dev.objects.get(o.parentId);
    let ok = parent !== undefined && parent.type === ObjectType.directory && o.parentId !== o.id;
    if (ok) {
      // Bounded walk up the parent chain: a loop never reaches the root.
      let cur: YObject | undefined = parent;
      let steps = 0;
      while (cur && cur.id !== OBJECT_ID_ROOT && steps <= limit) {
        cur = dev.objects.get(cur.parentId);
        steps++;
        if (cur && cur.id === o.id) {
          cur = undefined;
          break;
        }
      }
      ok = cur !== undefined && cur.id === OBJECT_ID_ROOT;
    }
    if (!ok) {
      toLost(o, parent === undefined ? `parent ${o.parentId} is missing` : parent.type !== ObjectType.directory ? `parent ${o.parentId} is not a directory` : `parent ${o.parentId} is in a loop`);
      return;
    }
    if (!parent!.children!.has(o.nameString)) {
      parent!.children!.set(o.nameString, o.id);
      return;
    }
    if (o.type === ObjectType.file && o.links!.size > 0) {
      // Displaced by a newer header: take the place of one of its hard links.
      const link = dev.objects.get(o.links!.values().next().value as number)!;
      const linkParent = dev.objects.get(link.parentId);
      if (linkParent?.children?.get(link.nameString) === link.id) linkParent.children.delete(link.nameString);
      o.links!.delete(link.id);
      dev.objects.delete(link.id);
      o.parentId = link.parentId;
      o.name = link.name;
      o.nameString = link.nameString;
      dev.pendingPromotions.push({ file: o, link });
      place(o);
      return;
    }
    toLost(o, `another object holds its name in directory ${o.parentId}`);
  };
  for (const id of ids) {
    const o = dev.objects.get(id);
    if (!o || o.fake) continue;
    place(o);
  }
}
