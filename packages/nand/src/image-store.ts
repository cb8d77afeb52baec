/**
 * A chip kept in a raw NAND image file, laid out as raw NAND dumps and mkyaffs2image images are:
 * for every page in order, pageSize data bytes then spareSize spare bytes; blocks in order;
 * nothing else. Bytes past the end of the file read as erased (0xFF), so the file grows with what
 * is written (a file shorter than the geometry is fine). Page writes go straight to the file with
 * positional writes, so the file is the chip: a power cut keeps every page written before it.
 *
 * What a raw dump cannot hold — erase counts and the runtime bad-block table — lives in a sidecar
 * JSON next to the image (`<image>.nandmeta.json`), written on sync() and close(). A missing
 * sidecar means erase counts 0 and bad blocks found from the markers.
 */
import * as fs from 'node:fs';
import { describeGeometry, recordSize, sameGeometry, totalBlocks, totalPages, validateGeometry } from './geometry.ts';
import { createNandDevice } from './device/index.ts';
import type { NandDeviceOptions, SimulatedNand } from './device/index.ts';
import type { NandStore } from './store.ts';
import { NandError } from './types.ts';
import type { NandGeometry } from './types.ts';

export const SIDECAR_SUFFIX = '.nandmeta.json';
export const SIDECAR_FORMAT = 'flashdiff-nandmeta';
export const SIDECAR_VERSION = 1;

/** The sidecar's JSON shape (see docs/SPEC.md). */
export interface NandSidecar {
  format: typeof SIDECAR_FORMAT;
  version: number;
  geometry: NandGeometry;
  /** P/E cycles, one per block, in block order. */
  eraseCounts: number[];
  /** Block numbers in the bad-block table, ascending. */
  badBlocks: number[];
}

export function sidecarPath(imagePath: string): string {
  return imagePath + SIDECAR_SUFFIX;
}

/** Records scanned per read when finding programmed pages at open. */
const SCAN_RECORDS = 256;
/** Largest 0xFF run written at once when the file grows over a gap. */
const PAD_CHUNK = 1 << 20;

function ioError(path: string, action: string, error: unknown): NandError {
  const reason = error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error);
  return new NandError('IMAGE_IO', `${path}: cannot ${action} (${reason})`);
}

export interface ImageOpenOptions {
  /** Never write the image or the sidecar; any program or erase throws IMAGE_IO. */
  readOnly?: boolean;
}

export class ImageFileStore implements NandStore {
  readonly geometry: NandGeometry;
  readonly path: string;
  readonly metadataOnly = false;
  readonly readOnly: boolean;
  readonly eraseCounts: Uint32Array;
  readonly badBlocks: Uint8Array;
  hasMetadata = false;
  private fd: number;
  private fileLength = 0;
  private readonly record: number;
  private readonly programmed: Uint8Array;
  private readonly recordBuffer: Uint8Array;
  private readonly erasedRecord: Uint8Array;

  /** A new empty image at `path` (all pages erased; the file starts empty). Replaces any file there and drops its sidecar. */
  static create(path: string, geometry: NandGeometry): ImageFileStore {
    validateGeometry(geometry);
    let fd: number;
    try {
      fd = fs.openSync(path, 'w+');
    } catch (error) {
      throw ioError(path, 'create the image', error);
    }
    try {
      fs.rmSync(sidecarPath(path), { force: true });
    } catch (error) {
      fs.closeSync(fd);
      throw ioError(sidecarPath(path), 'remove the old sidecar', error);
    }
    return new ImageFileStore(path, geometry, fd, false);
  }

  /** Opens an existing image; a missing sidecar is fine. Throws IMAGE_IO (cannot open) or IMAGE_CORRUPT (bad length or sidecar). */
  static open(path: string, geometry: NandGeometry, options: ImageOpenOptions = {}): ImageFileStore {
    validateGeometry(geometry);
    const readOnly = options.readOnly ?? false;
    const fd = ImageFileStore.openFile(path, readOnly);
    try {
      return new ImageFileStore(path, geometry, fd, readOnly);
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
  }

  private static openFile(path: string, readOnly: boolean): number {
    try {
      return fs.openSync(path, readOnly ? 'r' : 'r+');
    } catch (error) {
      throw ioError(path, `open the image${readOnly ? ' read-only' : ''}`, error);
    }
  }

  private constructor(path: string, geometry: NandGeometry, fd: number, readOnly: boolean) {
    this.path = path;
    this.geometry = geometry;
    this.fd = fd;
    this.readOnly = readOnly;
    this.record = recordSize(geometry);
    this.programmed = new Uint8Array(totalPages(geometry));
    this.eraseCounts = new Uint32Array(totalBlocks(geometry));
    this.badBlocks = new Uint8Array(totalBlocks(geometry));
    this.recordBuffer = new Uint8Array(this.record);
    this.erasedRecord = new Uint8Array(this.record).fill(0xff);
    this.load();
  }

  /** Bytes of page records held: the image file's length (it grows with what is written). */
  get allocatedBytes(): number {
    return this.fileLength;
  }

  isProgrammed(page: number): boolean {
    return this.programmed[page] === 1;
  }

  readData(page: number, out: Uint8Array): void {
    this.readAt(page * this.record, out, Math.min(out.length, this.geometry.pageSize));
  }

  readSpare(page: number, out: Uint8Array): void {
    this.readAt(page * this.record + this.geometry.pageSize, out, Math.min(out.length, this.geometry.spareSize));
  }

  writePage(page: number, data: Uint8Array | null, spare: Uint8Array): void {
    this.checkWritable('program');
    const record = this.recordBuffer;
    const { pageSize } = this.geometry;
    if (data === null) record.fill(0xff, 0, pageSize);
    else record.set(data.subarray(0, pageSize), 0);
    record.set(spare, pageSize);
    record.fill(0xff, pageSize + spare.length);
    this.writeAt(page * this.record, record);
    this.programmed[page] = 1;
  }

  eraseBlock(block: number): void {
    this.checkWritable('erase');
    const { pagesPerBlock } = this.geometry;
    const start = block * pagesPerBlock * this.record;
    const end = Math.min(start + pagesPerBlock * this.record, this.fileLength);
    for (let position = start; position < end; position += this.record) {
      this.writeAt(position, this.erasedRecord);
    }
    this.programmed.fill(0, block * pagesPerBlock, (block + 1) * pagesPerBlock);
  }

  sync(): void {
    if (this.readOnly || this.fd < 0) return;
    const sidecar: NandSidecar = {
      format: SIDECAR_FORMAT,
      version: SIDECAR_VERSION,
      geometry: { ...this.geometry },
      eraseCounts: Array.from(this.eraseCounts),
      badBlocks: [],
    };
    for (let block = 0; block < this.badBlocks.length; block++) if (this.badBlocks[block] !== 0) sidecar.badBlocks.push(block);
    const target = sidecarPath(this.path);
    const temporary = `${target}.tmp-${process.pid}`;
    try {
      fs.fsyncSync(this.fd);
      // Write-then-rename so a crash mid-write leaves the previous sidecar whole.
      fs.writeFileSync(temporary, JSON.stringify(sidecar) + '\n');
      fs.renameSync(temporary, target);
    } catch (error) {
      throw ioError(target, 'write the sidecar', error);
    }
    this.hasMetadata = true;
  }

  close(persist = true): void {
    if (this.fd < 0) return;
    if (persist) this.sync();
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  reload(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.fd = ImageFileStore.openFile(this.path, this.readOnly);
    this.load();
  }

  // ------------------------------------------------------------------ internals

  /** Reads the file length, finds programmed pages, and reads the sidecar. */
  private load(): void {
    let size: number;
    try {
      size = fs.fstatSync(this.fd).size;
    } catch (error) {
      throw ioError(this.path, 'stat the image', error);
    }
    const limit = totalPages(this.geometry) * this.record;
    if (size % this.record !== 0) {
      throw new NandError(
        'IMAGE_CORRUPT',
        `${this.path}: length ${size} is not a whole number of ${this.record}-byte page records (${this.geometry.pageSize} data + ${this.geometry.spareSize} spare)`,
      );
    }
    if (size > limit) {
      throw new NandError('IMAGE_CORRUPT', `${this.path}: length ${size} exceeds the ${limit} bytes of the geometry (${describeGeometry(this.geometry)})`);
    }
    this.fileLength = size;
    this.scanProgrammed();
    this.readSidecar();
  }

  /** A page counts as programmed when its record holds any byte other than 0xFF. */
  private scanProgrammed(): void {
    this.programmed.fill(0);
    const pages = this.fileLength / this.record;
    const chunk = Buffer.alloc(this.record * SCAN_RECORDS);
    const erased = Buffer.from(this.erasedRecord.buffer, this.erasedRecord.byteOffset, this.record);
    for (let first = 0; first < pages; first += SCAN_RECORDS) {
      const count = Math.min(SCAN_RECORDS, pages - first);
      this.readExactly(chunk, count * this.record, first * this.record);
      for (let i = 0; i < count; i++) {
        const view = chunk.subarray(i * this.record, (i + 1) * this.record);
        if (!view.equals(erased)) this.programmed[first + i] = 1;
      }
    }
  }

  private readSidecar(): void {
    const path = sidecarPath(this.path);
    this.eraseCounts.fill(0);
    this.badBlocks.fill(0);
    this.hasMetadata = false;
    let text: string;
    try {
      text = fs.readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw ioError(path, 'read the sidecar', error);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new NandError('IMAGE_CORRUPT', `${path}: the sidecar is not valid JSON`);
    }
    const sidecar = parsed as Partial<NandSidecar> | null;
    const blocks = this.badBlocks.length;
    if (sidecar === null || typeof sidecar !== 'object' || sidecar.format !== SIDECAR_FORMAT) {
      throw new NandError('IMAGE_CORRUPT', `${path}: not a NAND sidecar (format must be "${SIDECAR_FORMAT}")`);
    }
    if (sidecar.version !== SIDECAR_VERSION) {
      throw new NandError('IMAGE_CORRUPT', `${path}: sidecar version ${String(sidecar.version)} is not supported (expected ${SIDECAR_VERSION})`);
    }
    if (sidecar.geometry === undefined || !sameGeometry(sidecar.geometry, this.geometry)) {
      throw new NandError('IMAGE_CORRUPT', `${path}: the sidecar was written for another geometry than ${describeGeometry(this.geometry)}`);
    }
    const counts = sidecar.eraseCounts;
    if (!Array.isArray(counts) || counts.length !== blocks || !counts.every((c) => Number.isInteger(c) && c >= 0 && c <= 0xffffffff)) {
      throw new NandError('IMAGE_CORRUPT', `${path}: eraseCounts must be ${blocks} non-negative integers`);
    }
    const bad = sidecar.badBlocks;
    if (!Array.isArray(bad) || !bad.every((b) => Number.isInteger(b) && b >= 0 && b < blocks)) {
      throw new NandError('IMAGE_CORRUPT', `${path}: badBlocks must list block numbers in 0…${blocks - 1}`);
    }
    this.eraseCounts.set(counts);
    for (const block of bad) this.badBlocks[block] = 1;
    this.hasMetadata = true;
  }

  private checkWritable(operation: string): void {
    if (this.readOnly) throw new NandError('IMAGE_IO', `${this.path}: ${operation} refused: the image is open read-only`);
    if (this.fd < 0) throw new NandError('IMAGE_IO', `${this.path}: the image is closed`);
  }

  private readAt(position: number, out: Uint8Array, length: number): void {
    if (position >= this.fileLength) {
      out.fill(0xff, 0, length);
      return;
    }
    // File length is a whole number of records, so a data or spare area is either all in or all out.
    this.readExactly(out, length, position);
  }

  private readExactly(out: Uint8Array, length: number, position: number): void {
    let done = 0;
    try {
      while (done < length) {
        const n = fs.readSync(this.fd, out, done, length - done, position + done);
        if (n === 0) break;
        done += n;
      }
    } catch (error) {
      throw ioError(this.path, 'read the image', error);
    }
    if (done < length) out.fill(0xff, done, length);
  }

  /** Positional write; when the file must grow over a gap, the gap is filled with 0xFF (erased), not the OS's zeros. */
  private writeAt(position: number, bytes: Uint8Array): void {
    try {
      if (position > this.fileLength) {
        const pad = new Uint8Array(Math.min(PAD_CHUNK, position - this.fileLength)).fill(0xff);
        for (let at = this.fileLength; at < position; at += pad.length) {
          fs.writeSync(this.fd, pad, 0, Math.min(pad.length, position - at), at);
        }
      }
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(this.fd, bytes, done, bytes.length - done, position + done);
    } catch (error) {
      throw ioError(this.path, 'write the image', error);
    }
    if (position + bytes.length > this.fileLength) this.fileLength = position + bytes.length;
  }
}

export interface ImageDeviceOptions extends Omit<NandDeviceOptions, 'store'> {
  /** Create the image when the file does not exist (an existing image is opened, never truncated). */
  create?: boolean;
  /** Never write the image or the sidecar. */
  readOnly?: boolean;
}

/** Opens (or, with `create`, creates when missing) a NAND image file as a simulated device. */
export function openImageDevice(path: string, options: ImageDeviceOptions): SimulatedNand {
  const { create = false, readOnly = false, ...deviceOptions } = options;
  if (deviceOptions.metadataOnly === true) {
    throw new NandError('INVALID_GEOMETRY', `${path}: image-file devices keep full pages; metadataOnly needs a RamStore`);
  }
  const store =
    create && !readOnly && !fs.existsSync(path)
      ? ImageFileStore.create(path, options.geometry)
      : ImageFileStore.open(path, options.geometry, { readOnly });
  try {
    return createNandDevice({ ...deviceOptions, store });
  } catch (error) {
    store.close(false);
    throw error;
  }
}
