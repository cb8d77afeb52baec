/**
 * `yaffs2 extract` without the file-system model: the image is read once, front to back, through
 * small windows (no buffer of its size: its page faults cost more than the reading), keeping
 * every spare, a copy of each header page and whether each page's data ECC checks clean, and
 * (the single pass, extract-ahead.ts) making directories and writing files as their headers
 * and chunks are met, checked against the table and corrected before the walk; one pass
 * over the tags classifies the blocks and one over the blocks in scan order (newest sequence number
 * first, pages last to first) builds the object table by the rules of scan.ts — the newest
 * header of an object wins, tombstones (parent deleted or unlinked) and shadowing headers delete,
 * the newest header's size (and older shrink headers') caps older chunks, chunks newer than the
 * newest header extend the file, hard links point at their file, special files keep their
 * device numbers — keeping for each chunk only its page and byte count (no per-chunk objects,
 * no NAND device). extract.ts's walk then completes the tree: modes, owners, times, links,
 * symlinks and special files, and the files the single pass did not write (or, with
 * `singlePass: false`, every file), each file's chunks read again (runs of consecutive pages in
 * one read) into a reused window and written with writev. A read that finds the image shorter
 * than before fails with EIO. Upstream counterparts: Debian's unyaffs
 * (one read of the image, through a small buffer) over
 * yaffs_yaffs2.c's yaffs2_scan_backwards (as scan.ts implements it).
 *
 * It handles the images `import`, mkyaffs2image and a clean Linux YAFFS2 write: YAFFS2 tags in
 * the spare (mkyaffs2 and mtd layouts), either byte order, with or without tag ECC and data ECC,
 * up to WHOLE_IMAGE_LIMIT, no sidecar. Everything else is handed back
 * before anything is written (streamExtract returns null) and the CLI mounts the image as
 * before: YAFFS1 layouts, inband tags, torn or larger images, bad blocks, a checkpoint (a mount
 * may use it), and anything the mount would report as a problem or repair — tags or data that
 * need ECC (the mount counts the corrections, which the CLI reports), foreign sequence numbers,
 * bad object ids, unreadable or mistyped headers, chunks without a header, unusable names,
 * objects the mount would move to lost+found (missing parents, loops, two objects with one name)
 * or drop (hard links without their file), objects in lost+found. So what it extracts, and its
 * warnings and exit status (none: a clean image), are the general path's.
 */
import * as fs from 'node:fs';
import { hammingEcc, sidecarPath } from '@flashdiff/nand';
import { WHOLE_IMAGE_LIMIT } from './image-bytes.ts';
import { DETECT_SAMPLE_BYTES, detectFormatFromHead, pagesPerBlockFromSpares } from './detect.ts';
import { Yaffs2Error } from './errors.ts';
import type { ImageFormat } from './detect.ts';
import { decodeHeader, decodeName } from './header.ts';
import { takeNewestHeader } from './scan.ts';
import type { ObjectHeader } from './header.ts';
import { EXTRA_HEADER_INFO_FLAG, EXTRA_OBJECT_TYPE_SHIFT, EXTRA_SHRINK_FLAG, ObjectType, spareLayout, TAGS_ONLY_SIZE } from './tags.ts';
import { calcTagEcc, tagEccScratch } from './tag-ecc.ts';
import type { SpareLayout } from './tags.ts';
import {
  HIGHEST_SEQUENCE_NUMBER,
  LOWEST_SEQUENCE_NUMBER,
  OBJECT_ID_DELETED,
  OBJECT_ID_LIMIT,
  OBJECT_ID_LOST_AND_FOUND,
  OBJECT_ID_ROOT,
  OBJECT_ID_SUMMARY,
  OBJECT_ID_UNLINKED,
  SEQUENCE_CHECKPOINT_DATA,
} from './block-info.ts';
import type { FileType, Stat } from './block-info.ts';
import { ExtractAhead } from './extract-ahead.ts';
import { extractFrom } from './extract.ts';
import type { ExtractEntry, ExtractResult, ExtractSource } from './extract.ts';
import type { SettledObject, SettleSummary } from './extract-ahead.ts';
import { viewsAfter } from './stream-import.ts';

export interface StreamExtractOptions {
  /** Format properties to force (the CLI's --layout, --page-size …); the rest are detected. */
  format?: Partial<ImageFormat>;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** Told as the image is read, in pages, then as the table is built, in blocks examined as scan.ts counts them, after the pages (the CLI's scan bar). */
  onScanProgress?: (done: number, total: number) => void;
  /**
   * Write the tree while the image is read (extract-ahead.ts; the default), or false: build the
   * table first, then write each file from its chunks, read again (the two ways write the same tree).
   */
  singlePass?: boolean;
  /** Told what the single pass's settle kept, rewrote and removed (tests). */
  onSettle?: (summary: SettleSummary) => void;
}

/**
 * `yaffs2 extract` of a clean YAFFS2 image (see the file comment): the result, or null when the
 * image is left to the general path (openImage + extractTree); then nothing has been written.
 */
export function streamExtract(imagePath: string, hostDir: string, options: StreamExtractOptions = {}): ExtractResult | null {
  const ahead = options.singlePass === false ? null : ExtractAhead.begin(hostDir);
  let table: TableSource | null = null;
  try {
    table = readObjectTable(imagePath, options.format ?? {}, options.onScanProgress, ahead);
  } finally {
    // Handed back (or failed): nothing of the single pass remains.
    if (table === null) ahead?.abandon();
  }
  if (table === null) return null;
  try {
    if (ahead !== null) {
      const source = table;
      const summary = ahead.settle(
        (id) => source.settledObject(id),
        (id, fd) => source.rewrite(id, fd),
      );
      options.onSettle?.(summary);
      source.ahead = ahead;
    }
    return extractFrom(table, hostDir, { onProgress: options.onProgress, hostDirChecked: ahead !== null });
  } finally {
    ahead?.closeAll();
    table.close();
  }
}

/** Chunk ids up to this are kept (a 4 GiB file of 2 KiB chunks); a larger one goes to the general path. */
const MAX_CHUNK_ID = 1 << 21;

/** An object as the scan sees it (scan.ts ScanObject), chunks as pages and byte counts. */
interface ScanObject {
  id: number;
  header: ObjectHeader | null;
  headerType: number;
  deleted: boolean;
  shrinkSize: number;
  scannedSize: number;
  /** Page of chunk k at [k − 1], −1 for none; byte counts beside. */
  pages: Int32Array;
  byteCounts: Int32Array;
  chunkCount: number;
  maxChunk: number;
}

/** A built object: what extract needs of it. */
interface TableObject {
  id: number;
  type: number;
  parentId: number;
  name: Uint8Array;
  nameString: string;
  stat: Stat;
  /** Hard links: their file. */
  equivId: number;
  alias: Uint8Array;
  size: number;
  pages: Int32Array;
  byteCounts: Int32Array;
  /** Directories: name → id. */
  children: Map<string, number> | null;
}

function typeName(type: number): FileType {
  return type === ObjectType.file ? 'file' : type === ObjectType.directory ? 'directory' : type === ObjectType.symlink ? 'symlink' : 'special';
}

function setChunk(s: ScanObject, k: number, page: number, byteCount: number): void {
  if (k > s.pages.length) {
    let length = Math.max(16, s.pages.length * 2);
    while (length < k) length *= 2;
    const pages = new Int32Array(length).fill(-1);
    pages.set(s.pages);
    const counts = new Int32Array(length);
    counts.set(s.byteCounts);
    s.pages = pages;
    s.byteCounts = counts;
  }
  if (s.pages[k - 1]! < 0) s.chunkCount++;
  s.pages[k - 1] = page;
  s.byteCounts[k - 1] = byteCount;
  if (k > s.maxChunk) s.maxChunk = k;
}

/** Every byte of `bytes[at … at + length)` is 0xFF. */
function erased(bytes: Uint8Array, at: number, length: number): boolean {
  for (let i = at; i < at + length; i++) if (bytes[i] !== 0xff) return false;
  return true;
}

/**
 * Bytes read per system call, in the read of the image and in the walk's reads of files'
 * chunks (rounded down to whole records, at least one): buffers reused, small enough to stay in
 * the CPU's caches — a 62 MiB image read
 * this way costs about a third of one read into a fresh buffer of its size (page faults on every
 * page of it, then copies out of memory rather than the cache).
 */
const WINDOW_BYTES = 256 << 10;

/**
 * Bytes read first, for the format detection (detectFormatFromHead): enough for 64 records of
 * every geometry it tries (16384 + 1280-byte records: 1.1 MiB); when they do not suffice (an
 * image whose first pages are mostly erased), its first 16 MiB are read, as detection does.
 */
const HEAD_BYTES = 2 << 20;

/** Records per readv at most: two views each, within Linux's IOV_MAX (1024). */
const MAX_RECORDS_PER_READ = 510;

/** Reads `length` bytes at `position` into `views` in turn (readv); false when the file ends first. */
function readScattered(fd: number, views: Uint8Array[], length: number, position: number): boolean {
  for (let done = 0; done < length; ) {
    const n = fs.readvSync(fd, done === 0 ? views : viewsAfter(views, done), position + done);
    if (n === 0) return false;
    done += n;
  }
  return true;
}

/** Reads `length` bytes at `position` into `into` at `offset`; false when the file ends first. */
function readFully(fd: number, into: Uint8Array, offset: number, length: number, position: number): boolean {
  for (let done = 0; done < length; ) {
    const n = fs.readSync(fd, into, offset + done, length - done, position + done);
    if (n === 0) return false;
    done += n;
  }
  return true;
}

/**
 * The object table of a clean image, as the mount scan would build it, or null (see the file
 * comment for what is left to the general path). The image is read here, front to back: its
 * head for the format detection (2 MiB, or 16 MiB when that does not suffice), then all of it in
 * small windows; what the scan needs is kept — every spare, a copy of each object header's page,
 * whether each page's data ECC checks clean — and `ahead` (the single pass) is shown every
 * header and data chunk as it is read. The walk reads again only the contents of files the
 * single pass did not write ({@link TableSource.copyFile}).
 */
function readObjectTable(path: string, force: Partial<ImageFormat>, onProgress: ((done: number, total: number) => void) | undefined, ahead: ExtractAhead | null): TableSource | null {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch {
    return null; // the general path says why
  }
  let table: TableSource | null = null;
  try {
    table = buildTable(fd, path, force, onProgress, ahead);
    return table;
  } finally {
    if (table === null) fs.closeSync(fd);
  }
}

function buildTable(fd: number, path: string, force: Partial<ImageFormat>, onProgress: ((done: number, total: number) => void) | undefined, ahead: ExtractAhead | null): TableSource | null {
  let size: number;
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return null;
    size = st.size;
  } catch {
    return null;
  }
  if (size === 0 || size > WHOLE_IMAGE_LIMIT || fs.existsSync(sidecarPath(path))) return null;
  // The format, as detectImageFormatOnly finds it, from the image's first HEAD_BYTES (or, when
  // they do not suffice, its first 16 MiB); pages per block once the spares are read. Every
  // tag's ECC is checked below (any that is not clean: the general path), so the detection need
  // not check the ones it reads for pages per block.
  let head: Uint8Array;
  let format: ImageFormat;
  let layout: SpareLayout;
  try {
    head = new Uint8Array(Math.min(size, HEAD_BYTES));
    if (!readFully(fd, head, 0, head.length, 0)) return null; // shrank since the fstat
    let found = detectFormatFromHead(path, force, head, size);
    if (found === null) {
      head = new Uint8Array(Math.min(size, DETECT_SAMPLE_BYTES));
      if (!readFully(fd, head, 0, head.length, 0)) return null;
      found = detectFormatFromHead(path, force, head, size)!;
    }
    format = found;
    if ((format.layout !== 'mkyaffs2' && format.layout !== 'mtd') || format.inbandTags) return null;
    layout = spareLayout(format.layout, format.pageSize, format.spareSize, format);
  } catch {
    return null; // the general path says why
  }
  const { pageSize, spareSize } = format;
  const record = pageSize + spareSize;
  if (size % record !== 0 || pageSize < 512) return null;
  const pages = size / record;
  const tagsOffset = layout.tagsOffset;
  const bigEndian = layout.bigEndian;
  ahead?.start(pageSize);

  // The one read of the image (see above): spares, header pages, data ECC.
  const spares = new Uint8Array(pages * spareSize);
  const headerPages = new Map<number, Uint8Array>();
  // Each header page decoded once: by the single pass as it is read, by the scan below.
  const decoded = new Map<number, ObjectHeader>();
  const headerAt = (page: number, data: Uint8Array): ObjectHeader => {
    let h = decoded.get(page);
    if (h === undefined) {
      h = decodeHeader(data, bigEndian, false);
      decoded.set(page, h);
    }
    return h;
  };
  const dataEcc = new DataEccCheck(layout);
  const eccClean = dataEcc.none ? null : new Uint8Array(pages);
  // Each read scatters its records (readv): the data areas side by side in dataWindow (a run of
  // a file's chunks is then one write for the single pass), the spares side by side in
  // spareWindow (copied into `spares` at once). The views are made once, here.
  const perRead = Math.max(1, Math.min(Math.floor(WINDOW_BYTES / record), MAX_RECORDS_PER_READ));
  const dataWindow = new Uint8Array(perRead * pageSize);
  const spareWindow = new Uint8Array(perRead * spareSize);
  const scatter: Uint8Array[] = [];
  for (let i = 0; i < perRead; i++) scatter.push(dataWindow.subarray(i * pageSize, (i + 1) * pageSize), spareWindow.subarray(i * spareSize, (i + 1) * spareSize));
  const keep = (first: number, count: number): void => {
    spares.set(count === perRead ? spareWindow : spareWindow.subarray(0, count * spareSize), first * spareSize);
    for (let i = 0, at = 0, t = tagsOffset; i < count; i++, at += pageSize, t += spareSize) {
      const page = first + i;
      const w = spareWindow;
      // Erased tags (CleanTags.read's test): neither a header nor data.
      if ((w[t]! & w[t + 1]! & w[t + 2]! & w[t + 3]!) === 0xff) continue;
      // A header, as CleanTags.read tells it (tags that are not clean send the image back anyway).
      const chunkId = u32(w, t + 8, bigEndian);
      if (chunkId === 0 || (chunkId & EXTRA_HEADER_INFO_FLAG) !== 0) {
        const data = dataWindow.slice(at, at + pageSize);
        headerPages.set(page, data);
        if (ahead !== null) {
          // The single pass: its guess from unchecked tags (the table below decides).
          let h: ObjectHeader | null = null;
          try {
            h = headerAt(page, data);
          } catch {
            // not a header the scan can read: it hands the image back
          }
          if (h !== null) ahead.header((u32(w, t + 4, bigEndian) & 0x0fffffff) >>> 0, h);
        }
      } else if (ahead !== null) {
        ahead.chunk(u32(w, t + 4, bigEndian), chunkId, u32(w, t + 12, bigEndian), dataWindow, at, page);
      }
      if (eccClean !== null && dataEcc.clean(dataWindow, at, w, i * spareSize)) eccClean[page] = 1;
    }
    ahead?.flush(); // the windows are reused by the next read
  };
  // The head read for the detection is read again here (2 MiB: less than a second code path).
  for (let page = 0; page < pages; ) {
    const count = Math.min(perRead, pages - page);
    if (!readScattered(fd, count === perRead ? scatter : scatter.slice(0, 2 * count), count * record, page * record)) return null; // shrank while read
    keep(page, count);
    page += count;
    // The read (and the single pass's writes) is most of the time: the scan bar counts its
    // pages first, then the blocks examined (their number, known after the read, estimated
    // here at 64 pages a block).
    onProgress?.(page, pages + 2 * Math.ceil(pages / 64));
  }
  const eccCleanAt = (page: number): boolean => eccClean === null || eccClean[page] === 1;
  const ppb = pagesPerBlockFromSpares(spares, Math.floor(Math.min(size, DETECT_SAMPLE_BYTES) / record), format, size);
  if (ppb > 0xffff) return null;
  const blocks = Math.ceil(pages / ppb);
  const tags = new CleanTags(layout);

  // Blocks: bad-block markers, then each block's sequence number from its first readable tags.
  const marker = layout.badBlockMarkerOffset;
  const blockSequence = new Uint32Array(blocks);
  const order: number[] = [];
  for (let b = 0; b < blocks; b++) {
    onProgress?.(pages + b, pages + 2 * blocks);
    const first = b * ppb;
    if (marker !== null) {
      for (let i = 0; i < Math.min(2, ppb) && first + i < pages; i++) if (spares[(first + i) * spareSize + marker] !== 0xff) return null;
    }
    let sequence = -1;
    let programmed = false;
    // The first page whose spare is not erased and whose tags read gives the block's number.
    for (let i = 0; i < ppb && first + i < pages && sequence < 0; i++) {
      const spareAt = (first + i) * spareSize;
      if (erased(spares, spareAt, spareSize)) continue;
      programmed = true;
      // Any tag ECC correction or failure: the mount counts or reports it.
      if (!tags.read(spares, spareAt + tagsOffset)) return null;
      if (!tags.erased) sequence = tags.sequenceNumber;
    }
    if (!programmed) continue;
    if (sequence === SEQUENCE_CHECKPOINT_DATA || sequence < LOWEST_SEQUENCE_NUMBER || sequence > HIGHEST_SEQUENCE_NUMBER) return null;
    blockSequence[b] = sequence;
    order.push(b);
  }
  order.sort((a, b) => blockSequence[b]! - blockSequence[a]! || b - a);

  // The backward scan (scan.ts scan(), second pass).
  const scanObjects = new Map<number, ScanObject>();
  let last: ScanObject | null = null; // runs of chunks of one object: one Map lookup per run
  const getScan = (id: number): ScanObject => {
    if (last !== null && last.id === id) return last;
    let s = scanObjects.get(id);
    if (!s) {
      s = { id, header: null, headerType: 0, deleted: false, shrinkSize: Infinity, scannedSize: 0, pages: new Int32Array(0), byteCounts: new Int32Array(0), chunkCount: 0, maxChunk: 0 };
      scanObjects.set(id, s);
    }
    last = s;
    return s;
  };
  const cs = pageSize;
  // One block, pages last to first: a function of its own, small enough for V8 to optimise
  // after a few blocks (the same loop inline in this long function ran unoptimised far longer).
  const scanBlock = (b: number): boolean => {
    for (let i = ppb - 1; i >= 0; i--) {
      const page = b * ppb + i;
      if (page >= pages) continue;
      if (!tags.read(spares, page * spareSize + tagsOffset)) return false;
      if (tags.erased) continue;
      if (tags.sequenceNumber !== blockSequence[b]) return false;
      const id = tags.objectId;
      if (id === OBJECT_ID_SUMMARY) continue;
      if (id < 1 || id >= OBJECT_ID_LIMIT || id === OBJECT_ID_UNLINKED || id === OBJECT_ID_DELETED) return false;
      if (tags.chunkId === 0) {
        const s = getScan(id);
        const shrinkFromTags = tags.extraAvailable && tags.extraIsShrink;
        if (s.header || s.deleted) {
          // An older header: only its shrink mark matters.
          if (tags.extraAvailable) {
            if (shrinkFromTags) s.shrinkSize = Math.min(s.shrinkSize, tags.extraFileSizeOrEquiv);
          } else {
            const data = headerPages.get(page);
            if (data === undefined || !eccCleanAt(page)) return false;
            const h = headerAt(page, data);
            if (h.isShrink) s.shrinkSize = Math.min(s.shrinkSize, h.fileSize);
          }
          continue;
        }
        const data = headerPages.get(page);
        if (data === undefined || !eccCleanAt(page)) return false;
        const h = headerAt(page, data);
        const type = tags.extraAvailable ? tags.extraObjectType : h.type;
        if (type < ObjectType.file || type > ObjectType.special || h.type !== type) return false;
        if (id === OBJECT_ID_ROOT || id === OBJECT_ID_LOST_AND_FOUND) {
          // Their attributes: nothing extract writes (lost+found, always empty here, is not extracted).
          s.header = h;
          s.headerType = type;
          continue;
        }
        takeNewestHeader(s, h, type, shrinkFromTags, getScan);
      } else {
        const s = getScan(id);
        if (s.deleted) continue;
        const k = tags.chunkId;
        if (k > 0x7fffffff) continue;
        if (k > MAX_CHUNK_ID) return false;
        if (k <= s.pages.length && s.pages[k - 1]! >= 0) continue;
        const start = (k - 1) * cs;
        if (start >= s.shrinkSize) continue;
        const endPos = Math.min(start + Math.min(tags.byteCount, cs), s.shrinkSize);
        setChunk(s, k, page, tags.byteCount);
        if (!s.header && endPos > s.scannedSize) s.scannedSize = endPos;
      }
    }
    return true;
  };
  let examined = blocks;
  for (const b of order) {
    onProgress?.(pages + examined++, pages + blocks + order.length);
    if (!scanBlock(b)) return null;
  }

  onProgress?.(pages + examined, pages + blocks + order.length);

  // Build the objects (scan.ts, "Build objects"); what the mount would report goes back.
  const objects = new Map<number, TableObject>();
  const root: TableObject = {
    id: OBJECT_ID_ROOT,
    type: ObjectType.directory,
    parentId: 0,
    name: new Uint8Array(0),
    nameString: '',
    stat: { id: OBJECT_ID_ROOT, type: 'directory', mode: 0o040755, uid: 0, gid: 0, size: 0, atime: 0, mtime: 0, ctime: 0, rdev: 0, nlink: 1 },
    equivId: 0,
    alias: new Uint8Array(0),
    size: 0,
    pages: new Int32Array(0),
    byteCounts: new Int32Array(0),
    children: new Map([['lost+found', OBJECT_ID_LOST_AND_FOUND]]),
  };
  const orZero = (v: number): number => (v === 0xffffffff ? 0 : v);
  for (const s of scanObjects.values()) {
    if (s.id === OBJECT_ID_ROOT || s.id === OBJECT_ID_LOST_AND_FOUND) continue;
    if (!s.header) {
      if (!s.deleted && s.chunkCount > 0) return null; // chunks without a header: dropped, reported
      continue;
    }
    if (s.deleted) continue;
    const h = s.header;
    const nameString = decodeName(h.name);
    if (h.name.length === 0 || nameString.includes('/') || nameString === '.' || nameString === '..') return null;
    let size = 0;
    let pagesOf: Int32Array = new Int32Array(0);
    let countsOf: Int32Array = new Int32Array(0);
    if (s.headerType === ObjectType.file) {
      size = Math.max(orZero(h.fileSize), s.scannedSize);
      const keep = Math.min(s.maxChunk, Math.ceil(size / cs));
      pagesOf = s.pages.subarray(0, Math.min(keep, s.pages.length));
      countsOf = s.byteCounts.subarray(0, pagesOf.length);
      // Every kept chunk's data ECC clean (no loop where the layout has no data ECC).
      if (eccClean !== null) for (let k = 0; k < pagesOf.length; k++) if (pagesOf[k]! >= 0 && eccClean[pagesOf[k]!] !== 1) return null;
    }
    const mode = s.headerType === ObjectType.hardlink ? 0 : orZero(h.mode);
    objects.set(s.id, {
      id: s.id,
      type: s.headerType,
      parentId: h.parentId,
      name: h.name,
      nameString,
      stat: {
        id: s.id,
        type: typeName(s.headerType),
        mode,
        uid: orZero(h.uid),
        gid: orZero(h.gid),
        size: s.headerType === ObjectType.file ? size : s.headerType === ObjectType.symlink ? h.alias.length : 0,
        atime: orZero(h.atime),
        mtime: orZero(h.mtime),
        ctime: orZero(h.ctime),
        rdev: orZero(h.rdev),
        nlink: 1,
      },
      equivId: h.equivId,
      alias: h.alias,
      size,
      pages: pagesOf,
      byteCounts: countsOf,
      children: s.headerType === ObjectType.directory ? new Map() : null,
    });
  }
  // Hook into the tree (scan.ts linkTree): hard links need their file; a parent must exist, be a
  // directory, lead to the root, and hold no other object of that name.
  for (const o of objects.values()) {
    if (o.type === ObjectType.hardlink) {
      const t = objects.get(o.equivId);
      if (!t || t.type !== ObjectType.file) return null;
      t.stat.nlink++;
    }
  }
  const limit = objects.size + 2;
  for (const o of objects.values()) {
    if (o.parentId === OBJECT_ID_LOST_AND_FOUND || o.parentId === o.id) return null;
    const parent = o.parentId === OBJECT_ID_ROOT ? root : objects.get(o.parentId);
    if (!parent || parent.type !== ObjectType.directory) return null;
    let cur: TableObject | undefined = parent;
    for (let steps = 0; cur.id !== OBJECT_ID_ROOT; steps++) {
      cur = cur.parentId === OBJECT_ID_ROOT ? root : objects.get(cur.parentId);
      if (!cur || cur.id === o.id || steps > limit) return null;
    }
    if (parent.children!.has(o.nameString)) return null;
    parent.children!.set(o.nameString, o.id);
  }
  return new TableSource(fd, path, objects, root, cs, record);
}

/**
 * Packed tags 2 as tags.ts unpackTags reads them, for clean tags only: `read` returns false
 * when the tag ECC does not check clean (a correction or a failure: the mount counts or reports
 * it, so the image goes to the general path), and reads nothing else into objects.
 */
class CleanTags {
  erased = false;
  sequenceNumber = 0;
  objectId = 0;
  chunkId = 0;
  byteCount = 0;
  extraAvailable = false;
  extraIsShrink = false;
  extraObjectType = 0;
  extraFileSizeOrEquiv = 0;
  private readonly bigEndian: boolean;
  private readonly tagEcc: boolean;
  private readonly ecc = tagEccScratch();
  constructor(layout: SpareLayout) {
    this.bigEndian = layout.bigEndian;
    this.tagEcc = layout.tagEcc;
  }

  read(b: Uint8Array, at: number): boolean {
    const le0 = (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
    if (le0 === 0xffffffff) {
      this.erased = true;
      return true;
    }
    this.erased = false;
    if (this.tagEcc) {
      const fresh = calcTagEcc(b, at, TAGS_ONLY_SIZE, this.ecc);
      if (b[at + 16] !== fresh.colParity) return false;
      const line = u32(b, at + 20, false);
      const prime = u32(b, at + 24, false);
      // Big-endian tags: the line parities in either byte order (tags.ts checkBigEndianTagEcc).
      const clean =
        (line === fresh.lineParity && prime === fresh.lineParityPrime) ||
        (this.bigEndian && u32(b, at + 20, true) === fresh.lineParity && u32(b, at + 24, true) === fresh.lineParityPrime);
      if (!clean) return false;
    }
    const be = this.bigEndian;
    this.sequenceNumber = u32(b, at, be);
    let objectId = u32(b, at + 4, be);
    const chunkId = u32(b, at + 8, be);
    const byteCount = u32(b, at + 12, be);
    this.extraAvailable = (chunkId & EXTRA_HEADER_INFO_FLAG) !== 0;
    if (this.extraAvailable) {
      this.extraIsShrink = (chunkId & EXTRA_SHRINK_FLAG) !== 0;
      this.extraObjectType = objectId >>> EXTRA_OBJECT_TYPE_SHIFT;
      this.extraFileSizeOrEquiv = byteCount;
      objectId = (objectId & 0x0fffffff) >>> 0;
      this.chunkId = 0;
      this.byteCount = 0;
    } else {
      this.extraIsShrink = false;
      this.extraObjectType = 0;
      this.extraFileSizeOrEquiv = 0;
      this.chunkId = chunkId;
      this.byteCount = byteCount;
    }
    this.objectId = objectId;
    return true;
  }
}

function u32(b: Uint8Array, at: number, bigEndian: boolean): number {
  if (bigEndian) return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** Data ECC of a page's data area, checked only (mtd layout; none where there is no data ECC). */
class DataEccCheck {
  /** No data ECC in this layout: every page checks clean. */
  readonly none: boolean;
  private readonly sectors: readonly number[];
  private readonly linux: boolean;
  private readonly code = new Uint8Array(3);
  constructor(layout: SpareLayout) {
    this.sectors = layout.dataEccSectors;
    this.none = this.sectors.length === 0;
    this.linux = layout.dataEcc === 'linux';
  }

  /** True when every sector of the page data at `data[at …]`, its spare at `spare[spareAt …]`, checks clean (no correction needed). */
  clean(data: Uint8Array, at: number, spare: Uint8Array, spareAt: number): boolean {
    for (let s = 0; s < this.sectors.length; s++) {
      const codeAt = spareAt + this.sectors[s]!;
      let r: number;
      if (this.linux) {
        // Linux nand_ecc.c's order: the two line-parity bytes swapped (nand-io.ts correctDataEcc).
        this.code[0] = spare[codeAt + 1]!;
        this.code[1] = spare[codeAt]!;
        this.code[2] = spare[codeAt + 2]!;
        r = hammingEcc.correct(data, at + s * 256, this.code, 0);
      } else {
        r = hammingEcc.correct(data, at + s * 256, spare, codeAt);
      }
      if (r !== 0) return false;
    }
    return true;
  }
}

/** The object table as extract.ts walks it; file contents come out of the image buffer. */
class TableSource implements ExtractSource {
  /** What the single pass wrote, once settled (extract-ahead.ts). */
  ahead: ExtractAhead | null = null;
  private zeros: Uint8Array | null = null;
  private window: Uint8Array | null = null;
  constructor(
    /** The image, open for reading until {@link close}. */
    private readonly fd: number,
    private readonly path: string,
    private readonly objects: Map<number, TableObject>,
    private readonly root: TableObject,
    private readonly chunkSize: number,
    private readonly record: number,
  ) {}

  close(): void {
    fs.closeSync(this.fd);
  }

  /** An object as the single pass's settle compares it. */
  settledObject(id: number): SettledObject | undefined {
    const o = this.objects.get(id);
    return o === undefined ? undefined : { type: o.type, parentId: o.parentId, name: o.name, size: o.size, nlink: o.stat.nlink, pages: o.pages, byteCounts: o.byteCounts };
  }

  /** A file's contents written into `fd` from its current offset (the single pass's rewrite). */
  rewrite(id: number, fd: number): number {
    const o = this.objects.get(id)!;
    return this.copyFile({ path: '', nameBytes: o.name, stat: o.stat }, fd);
  }

  madeDirectory(entry: ExtractEntry): boolean {
    return this.ahead !== null && this.ahead.madeDirectory(entry.stat.id);
  }

  takeWrittenFile(entry: ExtractEntry): { fd: number; bytes: number } | null {
    return this.ahead === null ? null : this.ahead.takeFile(entry.stat.id);
  }

  list(dir: ExtractEntry | null): ExtractEntry[] {
    const d = dir === null ? this.root : this.objects.get(dir.stat.id)!;
    const prefix = dir === null ? '/' : `${dir.path}/`;
    const out: { name: string; entry: ExtractEntry }[] = [];
    for (const [name, id] of d.children!) {
      const o = this.objects.get(id);
      if (!o) continue; // lost+found: always empty here, so not shown (as readdir)
      const t = o.type === ObjectType.hardlink ? this.objects.get(o.equivId)! : o;
      out.push({ name, entry: { path: prefix + name, nameBytes: o.name, stat: t.stat } });
    }
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return out.map((x) => x.entry);
  }

  readlink(entry: ExtractEntry): Uint8Array {
    return this.objects.get(entry.stat.id)!.alias;
  }

  copyFile(entry: ExtractEntry, fd: number, onBytes?: (written: number) => void): number {
    const o = this.objects.get(entry.stat.id)!;
    const cs = this.chunkSize;
    const record = this.record;
    // The chunks' records are read into one reused window (runs of consecutive pages: one read
    // each), then written with writev of each chunk's data (zeros from one zero-filled buffer
    // for holes and past a chunk's byte count), a window at a time.
    this.zeros ??= new Uint8Array(cs);
    const zeros = this.zeros;
    this.window ??= new Uint8Array(Math.max(1, Math.floor(WINDOW_BYTES / record)) * record);
    const window = this.window;
    const slots = window.length / record;
    const views: Uint8Array[] = [];
    let used = 0; // records in the window
    let runPage = -1; // the pending read: `runLength` records from page runPage into slot runSlot
    let runSlot = 0;
    let runLength = 0;
    let pending = 0;
    let written = 0;
    const read = (): void => {
      if (runLength > 0 && !readFully(this.fd, window, runSlot * record, runLength * record, runPage * record)) {
        throw new Yaffs2Error('EIO', `${this.path}: the image ended before page ${runPage + runLength} (changed while being read?)`);
      }
      runLength = 0;
    };
    const flush = (): void => {
      read();
      let done = 0;
      while (done < pending) {
        const n = done === 0 ? fs.writevSync(fd, views) : fs.writevSync(fd, viewsAfter(views, done));
        done += n;
      }
      written += pending;
      pending = 0;
      used = 0;
      views.length = 0;
      onBytes?.(written);
    };
    // readFileChunk's rule: a chunk gives its first min(byte count, chunk) bytes, zeros after
    // them and for holes; the file's size cuts the last one.
    for (let k = 1, at = 0; at < o.size; k++, at += cs) {
      const n = Math.min(cs, o.size - at);
      const page = k <= o.pages.length ? o.pages[k - 1]! : -1;
      const valid = page < 0 ? 0 : Math.min(o.byteCounts[k - 1]! >>> 0, n);
      if (valid > 0) {
        if (used === slots) flush();
        if (runLength > 0 && page !== runPage + runLength) read();
        if (runLength === 0) {
          runPage = page;
          runSlot = used;
        }
        runLength++;
        views.push(window.subarray(used * record, used * record + valid));
        used++;
      }
      if (valid < n) views.push(zeros.subarray(0, n - valid));
      pending += n;
      if (views.length >= 1022 || pending >= 8 << 20) flush();
    }
    if (views.length > 0) flush();
    return written;
  }

  fileBytes(): number {
    let total = 0;
    for (const o of this.objects.values()) if (o.type === ObjectType.file) total += o.size;
    return total;
  }
}

