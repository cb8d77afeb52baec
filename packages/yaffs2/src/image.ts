/**
 * YAFFS2 image files: opening one (geometry from the file size, layout detected), creating one,
 * and `import` of a host directory tree in mkyaffs2image's order (upstream: utils/mkyaffs2image.c);
 * `extract` is extract.ts.
 */
import * as fs from 'node:fs';
import { releaseTemporaryPath, temporaryPathFor } from '@flashdiff/cli-kit';
import { createNandDevice, geometryPreset, isNandError, openImageDevice, sidecarPath } from '@flashdiff/nand';
import type { NandGeometry, SimulatedNand } from '@flashdiff/nand';
import { Yaffs2Error } from './errors.ts';
import { decodeName, encodeName } from './header.ts';
import { Yaffs2 } from './fs.ts';
import { detectImageFormat } from './detect.ts';
import { withReadWindows } from './read-windows.ts';
import { ImageBytesStore, readWholeImage, WHOLE_IMAGE_LIMIT } from './image-bytes.ts';
import { withWriteBehind } from './write-behind.ts';
import type { DetectedFormat } from './detect.ts';
import type { Yaffs2Options } from './fs.ts';
import { INBAND_TAGS_SIZE, spareLayout } from './tags.ts';
import type { DataEccOrder, SpareLayoutName } from './tags.ts';

export interface OpenImageOptions {
  /** Forces page size, spare size and pages per block; default: detected (see detect.ts). */
  geometry?: NandGeometry;
  /** Forces single properties of the format; the others are detected. */
  pageSize?: number;
  spareSize?: number;
  pagesPerBlock?: number;
  /** Spare layout; default: detected from the first written chunks. */
  layout?: SpareLayoutName;
  /** Tags and headers big-endian; default: detected. */
  bigEndian?: boolean;
  /** Tags carry tag ECC; default: detected. */
  tagEcc?: boolean;
  /** Tags in the last 16 bytes of each page (upstream's inband_tags); default: detected. */
  inbandTags?: boolean;
  /** Data ECC byte order (mtd layout); default: detected. */
  dataEcc?: DataEccOrder;
  /** Big-endian tag ECC's line parities little-endian (see TagFormat); default: detected. */
  littleEndianParity?: boolean;
  readOnly?: boolean;
  checkpoint?: boolean;
  headerTags?: Yaffs2Options['headerTags'];
  now?: () => number;
  /** Told as the mount scan goes (blocks examined; see scan()). */
  onScanProgress?: Yaffs2Options['onScanProgress'];
  /** Read-only images up to this many bytes are read whole (image-bytes.ts), larger ones in windows; default WHOLE_IMAGE_LIMIT. */
  wholeImageLimit?: number;
}

export interface OpenedImage {
  fs: Yaffs2;
  device: SimulatedNand;
  layout: SpareLayoutName;
  /** The image's format and how it was found (for a created image: as given, 'forced'). */
  format: DetectedFormat;
  /** Unmounts (when writable: headers, checkpoint) and closes the device. */
  close(): void;
}

/** The geometry of an image file: the base geometry with as many blocks as the file spans (a torn last block counts; its missing bytes read as erased). */
export function imageGeometry(path: string, base: NandGeometry = geometryPreset('yaffs2-2k')): NandGeometry {
  let size: number;
  try {
    const st = fs.statSync(path);
    if (!st.isFile()) throw new Yaffs2Error('EINVAL', `${path}: not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof Yaffs2Error) throw e;
    throw new Yaffs2Error('ENOENT', `${path}: cannot open the image (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const blockBytes = (base.pageSize + base.spareSize) * base.pagesPerBlock;
  const blocks = Math.ceil(size / blockBytes);
  if (blocks === 0) throw new Yaffs2Error('CORRUPT_IMAGE', `${path}: the image is empty`);
  return { ...base, blocksPerDie: blocks, diesPerChannel: 1, channels: 1 };
}

function wrapNand<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isNandError(e)) {
      const code = e.code === 'IMAGE_CORRUPT' ? 'CORRUPT_IMAGE' : 'EIO';
      throw new Yaffs2Error(code, e.message.includes(what) ? e.message : `${what}: ${e.message}`);
    }
    throw e;
  }
}

/** Opens an existing image and mounts it. */
export function openImage(path: string, options: OpenImageOptions = {}): OpenedImage {
  imageGeometry(path); // a clear ENOENT / EINVAL / empty-image error before detection
  const readOnly = options.readOnly ?? false;
  // Read-only and not too large: the image is read once, whole, and everything reads from that.
  let whole: Uint8Array | undefined;
  if (readOnly && fs.statSync(path).size <= (options.wholeImageLimit ?? WHOLE_IMAGE_LIMIT) && !fs.existsSync(sidecarPath(path))) {
    try {
      whole = readWholeImage(path);
    } catch (e) {
      throw new Yaffs2Error('ENOENT', `${path}: cannot read the image (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const format = detectImageFormat(
    path,
    {
    pageSize: options.pageSize ?? options.geometry?.pageSize,
    spareSize: options.spareSize ?? options.geometry?.spareSize,
    pagesPerBlock: options.pagesPerBlock ?? options.geometry?.pagesPerBlock,
    layout: options.layout,
    bigEndian: options.bigEndian,
    tagEcc: options.tagEcc,
    inbandTags: options.inbandTags,
    dataEcc: options.dataEcc,
    littleEndianParity: options.littleEndianParity,
    },
    whole,
  );
  const base = { ...geometryPreset('yaffs2-2k'), pageSize: format.pageSize, spareSize: format.spareSize, pagesPerBlock: format.pagesPerBlock };
  const geometry = imageGeometry(path, base);
  const layout = format.layout;
  const spare = spareLayout(layout, geometry.pageSize, geometry.spareSize, format);
  const record = geometry.pageSize + geometry.spareSize;
  const size = whole ? whole.length : fs.statSync(path).size;
  const mountOptions = {
    layout,
    bigEndian: format.bigEndian,
    tagEcc: format.tagEcc,
    inbandTags: format.inbandTags,
    dataEcc: format.dataEcc,
    littleEndianParity: format.littleEndianParity,
    readOnly,
    checkpoint: options.checkpoint,
    headerTags: options.headerTags,
    now: options.now,
    onScanProgress: options.onScanProgress,
  };
  if (size % record !== 0) {
    // Torn inside a page: salvage what is there (read-only), the torn page read as erased past
    // the end of the file; a writer would have to invent the missing bytes, so it is refused.
    if (!readOnly) throw new Yaffs2Error('CORRUPT_IMAGE', `${path}: ends ${size % record} bytes into a ${record}-byte page record; it opens read-only (the CLI's edits rewrite it whole from what can be read)`);
    const device = loadTornImage(path, geometry, spare.badBlockMarkerOffset, size);
    const opened = attach(path, device, format, () => Yaffs2.mount(device, mountOptions), true);
    opened.fs.noteMountProblem(
      `the image ends ${size % record} bytes into page ${Math.floor(size / record)} (of ${record} bytes); the rest of that page reads as erased`,
    );
    return opened;
  }
  const badBlockMarker = spare.badBlockMarkerOffset === null ? null : { spareOffset: spare.badBlockMarkerOffset };
  if (whole) {
    const bytes = whole;
    const device = wrapNand(path, () => createNandDevice({ geometry, ecc: null, badBlockMarker, store: new ImageBytesStore(path, geometry, bytes) }));
    const reader = withReadWindows(device, path, bytes).device;
    return attach(path, reader, format, () => Yaffs2.mount(reader, mountOptions), true);
  }
  const device = wrapNand(path, () => openImageDevice(path, { geometry, readOnly, ecc: null, badBlockMarker }));
  if (!readOnly) return attach(path, device, format, () => Yaffs2.mount(device, mountOptions), readOnly);
  // Read-only: pages come from 1 MiB windows of the file (one system call each, not two per page).
  let windows: ReturnType<typeof withReadWindows>;
  try {
    windows = withReadWindows(device, path);
  } catch (e) {
    device.close();
    throw new Yaffs2Error('ENOENT', `${path}: cannot read the image (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const reader = windows.device;
  return attach(path, reader, format, () => Yaffs2.mount(reader, mountOptions), readOnly, () => windows.close());
}

/** A read-only copy in memory of an image torn inside a page record (the tail padded with 0xFF). */
function loadTornImage(path: string, geometry: NandGeometry, badBlockMarkerOffset: number | null, size: number): SimulatedNand {
  const device = createNandDevice({ geometry, ecc: null, badBlockMarker: badBlockMarkerOffset === null ? null : { spareOffset: badBlockMarkerOffset } });
  const record = geometry.pageSize + geometry.spareSize;
  const buffer = new Uint8Array(record * 256);
  const fd = fs.openSync(path, 'r');
  try {
    for (let first = 0; first * record < size; first += 256) {
      buffer.fill(0xff);
      fs.readSync(fd, buffer, 0, buffer.length, first * record);
      for (let i = 0; i < 256 && (first + i) * record < size; i++) {
        const at = i * record;
        let erased = true;
        for (let j = at; j < at + record; j++) {
          if (buffer[j] !== 0xff) {
            erased = false;
            break;
          }
        }
        if (!erased) device.programPage(first + i, buffer.subarray(at, at + geometry.pageSize), buffer.subarray(at + geometry.pageSize, at + record));
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return device;
}

/**
 * Mounts (or formats) a file system on an opened image device and wraps both in an
 * {@link OpenedImage}; the device is closed if the mount fails. `afterClose` runs once the
 * device is closed.
 */
function attach(
  path: string,
  device: SimulatedNand,
  format: DetectedFormat,
  mount: () => Yaffs2,
  readOnly: boolean,
  afterClose?: () => void,
): OpenedImage {
  let yfs: Yaffs2;
  try {
    yfs = wrapNand(path, mount);
  } catch (e) {
    device.close();
    throw e;
  }
  return {
    fs: yfs,
    device,
    layout: format.layout,
    format,
    close(): void {
      try {
        if (!readOnly) wrapNand(path, () => yfs.unmount());
      } finally {
        device.close();
      }
      afterClose?.();
    },
  };
}

export interface CreateImageOptions {
  blocks: number;
  layout?: SpareLayoutName;
  geometry?: NandGeometry;
  /** Tags and headers big-endian (default little-endian). */
  bigEndian?: boolean;
  /** Tags with tag ECC (default true; false with inband tags). */
  tagEcc?: boolean;
  /** Tags in the last 16 bytes of each page, none in the spare (upstream's inband_tags). */
  inbandTags?: boolean;
  /** Data ECC byte order of the mtd layout (default 'smartmedia'). */
  dataEcc?: DataEccOrder;
  /** Big-endian tags with tag ECC: line parities little-endian (default: big-endian; see TagFormat). */
  littleEndianParity?: boolean;
  checkpoint?: boolean;
  headerTags?: Yaffs2Options['headerTags'];
  now?: () => number;
  reservedBlocks?: number;
  /** Read back every programmed page (default true; an image file being built whole need not). */
  verifyWrites?: boolean;
  /**
   * The image is being built whole, front to back, and closed (import, edits that rewrite an
   * image): programs reach the file in 1 MiB writes (write-behind.ts) instead of one per page,
   * and erase counts and bad blocks are kept in memory only (no sidecar).
   */
  writeBehind?: boolean;
  /** With writeBehind: fsync the file on sync (default true; see write-behind.ts). */
  durable?: boolean;
}

/** Creates a new image file (refusing to overwrite one) and formats it. */
export function createImage(path: string, options: CreateImageOptions): OpenedImage {
  if (!Number.isInteger(options.blocks) || options.blocks < 2) {
    throw new Yaffs2Error('EINVAL', `--blocks must be an integer ≥ 2 (got ${String(options.blocks)})`);
  }
  if (fs.existsSync(path)) throw new Yaffs2Error('EEXIST', `${path}: exists; refusing to overwrite it`);
  const base = options.geometry ?? geometryPreset('yaffs2-2k');
  const geometry = { ...base, blocksPerDie: options.blocks, diesPerChannel: 1, channels: 1 };
  const layout = options.layout ?? 'mkyaffs2';
  const inbandTags = options.inbandTags ?? false;
  const dataEcc: DataEccOrder = layout === 'mtd' ? (options.dataEcc ?? 'smartmedia') : layout === 'yaffs1' ? 'smartmedia' : 'none';
  const tagFormat = { bigEndian: options.bigEndian ?? false, tagEcc: options.tagEcc ?? !inbandTags, inbandTags, dataEcc, littleEndianParity: options.littleEndianParity ?? false };
  const spare = spareLayout(layout, geometry.pageSize, geometry.spareSize, tagFormat);
  const badBlockMarker = spare.badBlockMarkerOffset === null ? null : { spareOffset: spare.badBlockMarkerOffset };
  let device: SimulatedNand;
  if (options.writeBehind) {
    // write-behind.ts writes the file; the device's erase counts and bad blocks live in memory.
    try {
      fs.closeSync(fs.openSync(path, 'wx'));
    } catch (e) {
      throw new Yaffs2Error('EIO', `${path}: cannot create the image (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    device = createNandDevice({ geometry, ecc: null, badBlockMarker });
  } else {
    device = wrapNand(path, () => openImageDevice(path, { geometry, create: true, ecc: null, badBlockMarker }));
  }
  const formatOptions = {
    layout,
    ...tagFormat,
    checkpoint: options.checkpoint,
    headerTags: options.headerTags,
    now: options.now,
    reservedBlocks: options.reservedBlocks,
    verifyWrites: options.verifyWrites,
  };
  // The store grows the file only as far as pages are programmed; on close, pad it with 0xFF
  // (erased) to the whole device, as mkyaffs2image pads its last block, so it reopens with every block.
  const imageBytes = geometry.blocksPerDie * (geometry.pageSize + geometry.spareSize) * geometry.pagesPerBlock;
  const format: DetectedFormat = {
    pageSize: geometry.pageSize,
    spareSize: geometry.spareSize,
    pagesPerBlock: geometry.pagesPerBlock,
    layout,
    ...tagFormat,
    blank: true,
    examined: 0,
    plausible: 0,
    runnerUp: 0,
    confidence: 'forced',
    notes: ['created with this format'],
  };
  const target = options.writeBehind ? withWriteBehind(device, path, { durable: options.durable }) : device;
  return attach(path, target, format, () => Yaffs2.format(target, formatOptions), false, () => padWithErased(path, imageBytes));
}

/**
 * `yaffs2 mkfs`: a new, empty, formatted image file, written to a temporary file and renamed
 * into place (no sidecar). Refuses a size whose blocks all go to the reserve.
 */
export function makeEmptyImage(path: string, options: CreateImageOptions): { freeBytes: number } {
  if (fs.existsSync(path)) throw new Yaffs2Error('EEXIST', `${path}: exists; refusing to overwrite it`);
  const temporary = temporaryPathFor(path);
  try {
    const image = createImage(temporary, { ...options, checkpoint: false });
    const { freeBytes } = image.fs.statfs();
    const reserved = image.fs.reservedBlocks;
    image.close();
    fs.rmSync(sidecarPath(temporary), { force: true });
    if (freeBytes <= 0) {
      throw new Yaffs2Error('EINVAL', `${path}: ${options.blocks} blocks leave no room for files beyond the ${reserved} reserved for garbage collection; use more blocks`);
    }
    fs.renameSync(temporary, path);
    return { freeBytes };
  } finally {
    fs.rmSync(temporary, { force: true });
    fs.rmSync(sidecarPath(temporary), { force: true });
    releaseTemporaryPath(temporary);
  }
}

function padWithErased(path: string, totalBytes: number): void {
  const size = fs.statSync(path).size;
  if (size >= totalBytes) return;
  const fd = fs.openSync(path, 'r+');
  try {
    const pad = new Uint8Array(Math.min(1 << 20, totalBytes - size)).fill(0xff);
    for (let at = size; at < totalBytes; at += pad.length) fs.writeSync(fd, pad, 0, Math.min(pad.length, totalBytes - at), at);
  } finally {
    fs.closeSync(fd);
  }
}

export interface HostEntry {
  /** Raw bytes (host names need not be UTF-8). */
  hostPath: Buffer;
  imagePath: string;
  /** The last name as stored (encodeName of its text, as the model stores it). */
  name: Uint8Array;
  /** Index of the parent directory's entry, or −1 for the root. */
  parent: number;
  stat: fs.Stats;
  /** Symlinks: the target as stored (encodeName of its text, as the model stores it). */
  alias: Uint8Array | null;
  /** Another entry of its directory has the same name text (the model refuses it: EEXIST). */
  clash: boolean;
}

/**
 * The walk of `import` (importTree and stream-import.ts): depth-first, a directory before its
 * contents, names sorted (deterministic images).
 */
export function walkHostTree(root: string): HostEntry[] {
  const out: HostEntry[] = [];
  const visit = (hostDir: Buffer, imageDir: string, parent: number, depth: number): void => {
    if (depth > 256) throw new Yaffs2Error('ELOOP', `${hostDir.toString()}: directory tree deeper than 256`);
    const names = fs.readdirSync(hostDir, { encoding: 'buffer' }).sort(Buffer.compare);
    const texts = new Set<string>();
    for (const raw of names) {
      const hostPath = Buffer.concat([hostDir, Buffer.from('/'), raw]);
      const st = fs.lstatSync(hostPath);
      const text = decodeName(raw);
      const imagePath = `${imageDir}/${text}`;
      const clash = texts.has(text);
      texts.add(text);
      const alias = st.isSymbolicLink() ? encodeName(decodeName(fs.readlinkSync(hostPath, { encoding: 'buffer' }))) : null;
      out.push({ hostPath, imagePath, name: encodeName(text), parent, stat: st, alias, clash });
      if (st.isDirectory()) visit(hostPath, imagePath, out.length - 1, depth + 1);
    }
  };
  visit(Buffer.from(root), '', -1, 0);
  return out;
}

export interface ImportResult {
  objects: number;
  bytes: number;
  chunks: number;
  blocks: number;
}

/**
 * `yaffs2 import`: writes a host tree into a new image as mkyaffs2image does — one header per
 * object (chunk id 0, byte count 0xFFFF, ids from 257), a file's data chunks right after its
 * header, no checkpoint — so unyaffs and mkyaffs2image-reading tools take it.
 * Hard links (same device + inode) become hard-link objects; sockets, FIFOs and device nodes
 * become special objects.
 */
export interface ImportOptions extends Partial<CreateImageOptions> {
  /**
   * Room left for later edits, in bytes, when `blocks` is not given. Default: 10 % of the tree's
   * chunks, at least 4 erase blocks (mkyaffs2image leaves none: its images are full).
   */
  freeBytes?: number;
  /** Told as the tree's file contents are read in: bytes done of all the files' bytes. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** Free erase blocks `import` leaves when asked for no particular size. */
export const DEFAULT_IMPORT_FREE_BLOCKS = 4;

/** What `import` will write, worked out before anything is written (both import paths). */
export interface ImportSizing {
  entries: HostEntry[];
  /** The geometry asked for (or the 2 KiB preset), before its block count is set. */
  base: NandGeometry;
  /** Chunks the tree takes: one header per object, plus each file's data chunks. */
  chunks: number;
  /** Bytes of file data. */
  bytes: number;
  reserved: number;
  blocks: number;
}

/**
 * The checks and sizing both import paths share: the target must not exist, the source must be a
 * directory; the image gets the tree's chunks, the reserve, one more block, and the free room asked
 * for (`freeBytes`), or 10 % of the tree's chunks, at least {@link DEFAULT_IMPORT_FREE_BLOCKS}.
 */
export function sizeImport(hostDir: string, imagePath: string, options: ImportOptions): ImportSizing {
  if (fs.existsSync(imagePath)) throw new Yaffs2Error('EEXIST', `${imagePath}: exists; refusing to overwrite it`);
  let st: fs.Stats;
  try {
    st = fs.statSync(hostDir);
  } catch {
    throw new Yaffs2Error('ENOENT', `${hostDir}: no such directory`);
  }
  if (!st.isDirectory()) throw new Yaffs2Error('ENOTDIR', `${hostDir}: not a directory`);
  const entries = walkHostTree(hostDir);
  const base = options.geometry ?? geometryPreset('yaffs2-2k');
  const chunkBytes = base.pageSize - (options.inbandTags ? INBAND_TAGS_SIZE : 0);
  let chunks = 0;
  let bytes = 0;
  for (const e of entries) {
    chunks++;
    if (e.stat.isFile()) {
      chunks += Math.ceil(e.stat.size / chunkBytes);
      bytes += e.stat.size;
    }
  }
  const reserved = options.reservedBlocks ?? 5;
  const contentBlocks = Math.ceil(chunks / base.pagesPerBlock);
  const freeBlocks =
    options.freeBytes !== undefined
      ? Math.ceil(options.freeBytes / (chunkBytes * base.pagesPerBlock))
      : Math.max(DEFAULT_IMPORT_FREE_BLOCKS, Math.ceil(contentBlocks / 10));
  // + 1: the allocator's space check keeps one chunk beyond the reserve.
  const blocks = options.blocks ?? contentBlocks + reserved + 1 + freeBlocks;
  return { entries, base, chunks, bytes, reserved, blocks };
}

export function importTree(hostDir: string, imagePath: string, options: ImportOptions = {}): ImportResult {
  const { entries, base, chunks, bytes, reserved, blocks } = sizeImport(hostDir, imagePath, options);
  // Built in a temporary file beside the target and renamed into place: a failure (ENOSPC, a
  // host read error, a kill) leaves no partial image; no sidecar is left (nothing to record).
  const temporary = temporaryPathFor(imagePath);
  const { onProgress, ...createOptions } = options;
  let doneBytes = 0;
  const image = createImage(temporary, {
    ...createOptions,
    blocks,
    geometry: base,
    reservedBlocks: reserved,
    checkpoint: false,
    headerTags: 'mkyaffs2',
    // A file being written whole, then renamed into place: a read-back of each page would
    // only re-read the page cache; its pages go out in large writes.
    verifyWrites: false,
    writeBehind: true,
    // A new file (import never overwrites one), renamed into place when whole: a failure or a
    // kill leaves nothing; like mkyaffs2image, no fsync (a host crash can lose the new image).
    durable: false,
  });
  try {
    const seen = new Map<string, string>();
    const hostWindow = Buffer.allocUnsafe(1 << 20);
    for (const e of entries) {
      const s = e.stat;
      const attrs = {
        mode: s.mode,
        uid: s.uid,
        gid: s.gid,
        atime: Math.floor(s.atimeMs / 1000),
        mtime: Math.floor(s.mtimeMs / 1000),
        ctime: Math.floor(s.ctimeMs / 1000),
      };
      const key = `${s.dev}:${s.ino}`;
      const earlier = !s.isDirectory() ? seen.get(key) : undefined;
      if (earlier !== undefined && s.isFile()) {
        image.fs.createObject(e.imagePath, { type: 'hardlink', linkTo: earlier });
        doneBytes += s.size;
        onProgress?.(doneBytes, bytes);
        continue;
      }
      if (!s.isDirectory()) seen.set(key, e.imagePath);
      if (s.isDirectory()) image.fs.createObject(e.imagePath, { type: 'directory', ...attrs });
      else if (s.isFile()) {
        // Streamed through a 1 MiB window (files larger than memory, and than 2 GiB, import),
        // filled by one read each time instead of one read per chunk.
        const fd = fs.openSync(e.hostPath, 'r');
        try {
          const size = fs.fstatSync(fd).size;
          let windowStart = 0;
          let windowLength = 0;
          const read = (position: number, into: Uint8Array): number => {
            if (position < windowStart || position + into.length > windowStart + windowLength) {
              windowStart = position;
              windowLength = 0;
              for (;;) {
                const n = fs.readSync(fd, hostWindow, windowLength, hostWindow.length - windowLength, position + windowLength);
                if (n === 0) break;
                windowLength += n;
                if (windowLength === hostWindow.length) break;
              }
            }
            const n = Math.max(0, Math.min(into.length, windowStart + windowLength - position));
            into.set(hostWindow.subarray(position - windowStart, position - windowStart + n));
            onProgress?.(doneBytes + Math.min(position + n, s.size), bytes);
            return n;
          };
          image.fs.createObject(e.imagePath, { type: 'file', ...attrs, source: { size, read } });
          doneBytes += s.size;
          onProgress?.(doneBytes, bytes);
        } finally {
          fs.closeSync(fd);
        }
      } else if (s.isSymbolicLink()) {
        image.fs.createObject(e.imagePath, { type: 'symlink', ...attrs, target: decodeName(fs.readlinkSync(e.hostPath, { encoding: 'buffer' })) });
      } else {
        image.fs.createObject(e.imagePath, { type: 'special', ...attrs, rdev: s.rdev });
      }
    }
    image.close();
    fs.rmSync(sidecarPath(temporary), { force: true });
    fs.renameSync(temporary, imagePath);
  } catch (e) {
    try {
      image.close();
    } catch {
      // closing a half-written temporary image: it is removed below anyway
    }
    fs.rmSync(temporary, { force: true });
    fs.rmSync(sidecarPath(temporary), { force: true });
    throw e;
  } finally {
    releaseTemporaryPath(temporary);
  }
  return { objects: entries.length, bytes, chunks, blocks };
}
