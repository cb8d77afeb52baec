/**
 * A read-only image held in memory whole: one read of the file serves format detection, the
 * NAND device's look for programmed pages, the mount scan and the reads of file contents (the
 * image store and the 1 MiB read windows read a 62 MiB image three times over, in ~250 system
 * calls). Used by the read-only commands (ls, cat, info, fsck, extract) for images up to
 * {@link WHOLE_IMAGE_LIMIT} bytes that have no sidecar; larger images stream through
 * read-windows.ts. Upstream counterpart: unyaffs, which reads its image once, front to back.
 */
import * as fs from 'node:fs';
import { NandError, totalBlocks } from '@flashdiff/nand';
import type { NandGeometry, NandStore } from '@flashdiff/nand';

/** Largest image read whole (bigger ones are read in windows, so memory stays bounded). */
export const WHOLE_IMAGE_LIMIT = 512 << 20;

/** The bytes of the file at `path`: one buffer of the file's size, filled by as few reads as the kernel allows (readFileSync). */
export function readWholeImage(path: string): Uint8Array {
  return fs.readFileSync(path);
}

/** Erased: every byte of the record 0xFF (programmed records almost always differ in their first data or spare byte). */
function recordErased(bytes: Uint8Array, at: number, pageSize: number, record: number): boolean {
  if (bytes[at] !== 0xff || bytes[at + pageSize] !== 0xff) return false;
  for (let i = at + 1; i < at + record; i++) if (bytes[i] !== 0xff) return false;
  return true;
}

/**
 * A {@link NandStore} over an image's bytes in memory, read-only (programs and erases throw
 * IMAGE_IO, as a read-only image file store's do); no sidecar, so no erase counts, and bad
 * blocks come from the markers. `bytes` must be a whole number of page records.
 */
export class ImageBytesStore implements NandStore {
  readonly metadataOnly = false;
  readonly readOnly = true;
  readonly hasMetadata = false;
  readonly eraseCounts: Uint32Array;
  readonly badBlocks: Uint8Array;
  readonly geometry: NandGeometry;
  readonly bytes: Uint8Array;
  private readonly record: number;
  private readonly path: string;

  constructor(path: string, geometry: NandGeometry, bytes: Uint8Array) {
    this.path = path;
    this.geometry = geometry;
    this.bytes = bytes;
    this.record = geometry.pageSize + geometry.spareSize;
    this.eraseCounts = new Uint32Array(totalBlocks(geometry));
    this.badBlocks = new Uint8Array(totalBlocks(geometry));
  }

  get allocatedBytes(): number {
    return this.bytes.length;
  }

  isProgrammed(page: number): boolean {
    const at = page * this.record;
    return at < this.bytes.length && !recordErased(this.bytes, at, this.geometry.pageSize, this.record);
  }

  readData(page: number, out: Uint8Array): void {
    this.copyOut(page * this.record, out, Math.min(out.length, this.geometry.pageSize));
  }

  readSpare(page: number, out: Uint8Array): void {
    this.copyOut(page * this.record + this.geometry.pageSize, out, Math.min(out.length, this.geometry.spareSize));
  }

  private copyOut(at: number, out: Uint8Array, length: number): void {
    if (at >= this.bytes.length) out.fill(0xff, 0, length);
    else out.set(this.bytes.subarray(at, at + length));
  }

  writePage(): void {
    throw new NandError('IMAGE_IO', `${this.path}: program refused: the image is open read-only`);
  }

  eraseBlock(): void {
    throw new NandError('IMAGE_IO', `${this.path}: erase refused: the image is open read-only`);
  }

  sync(): void {}
  close(): void {}
  reload(): void {}
}
