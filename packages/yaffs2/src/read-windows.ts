/**
 * Large-window reads of an image file opened read-only (extract, ls, info, fsck): the NAND
 * device's image store reads each page's data and spare with a system call of its own, so a
 * mount scan and an extract make two or three per page; here one read fills a window of
 * records (1 MiB or more) and pages are copied out of it (the device's read counters and timing
 * model are not run for these reads; nothing read-only reports them).
 * Upstream counterpart: none in YAFFS itself; unyaffs reads its image in large sequential reads.
 */
import * as fs from 'node:fs';
import type { ReadResult, SimulatedNand } from '@flashdiff/nand';
import { UNCHECKED_READ, UNCHECKED_READ_ERASED, overrideMembers, windowRecords } from './file-device.ts';

/**
 * The device with readPage served from windows of `path` (which must be the device's image,
 * opened read-only and not written while this is in use), or, given `whole` (the image's bytes,
 * image-bytes.ts), from those bytes with no reads at all. `close()` releases the file.
 */
export function withReadWindows(device: SimulatedNand, path: string, whole?: Uint8Array): { device: SimulatedNand; close(): void } {
  const { pageSize, spareSize } = device.geometry;
  const record = pageSize + spareSize;
  const perWindow = whole ? Math.floor(whole.length / record) : windowRecords(record);
  // A plain Uint8Array: its subarray() is cheaper than a Buffer's (no FastBuffer per page).
  const window = whole ?? new Uint8Array(perWindow * record);
  const fd = whole ? -1 : fs.openSync(path, 'r');
  const fileSize = whole ? whole.length : fs.fstatSync(fd).size;
  let first = whole ? 0 : -1; // first page held in the window
  const fill = (page: number): void => {
    first = page - (page % perWindow);
    const position = first * record;
    const want = Math.min(window.length, Math.max(0, fileSize - position));
    let done = 0;
    while (done < want) {
      const n = fs.readSync(fd, window, done, want - done, position + done);
      if (n === 0) break;
      done += n;
    }
    if (done < window.length) window.fill(0xff, done);
  };
  const readPage = (page: number, data?: Uint8Array, spare?: Uint8Array): ReadResult => {
    if (data === undefined && spare === undefined) return device.readPage(page);
    if (first < 0 || page < first || page >= first + perWindow) {
      if (whole) return device.readPage(page, data, spare); // past the end of the file: erased
      fill(page);
    }
    const at = (page - first) * record;
    if (data !== undefined) data.set(window.subarray(at, at + Math.min(data.length, pageSize)));
    if (spare !== undefined) {
      // A byte loop: cheaper than a subarray per read for a spare's few dozen bytes.
      const n = Math.min(spare.length, spareSize);
      for (let i = 0, from = at + pageSize; i < n; i++) spare[i] = window[from + i]!;
    }
    return erasedRecord(at) ? UNCHECKED_READ_ERASED : UNCHECKED_READ;
  };
  // Erased: every byte 0xFF. Programmed records almost always differ in their first data or
  // spare byte, so those two go first; the rest is compared without allocating.
  const erased = Buffer.alloc(record, 0xff);
  const windowBytes = Buffer.from(window.buffer, window.byteOffset, window.byteLength);
  const erasedRecord = (at: number): boolean =>
    window[at] === 0xff && window[at + pageSize] === 0xff && windowBytes.compare(erased, 0, record, at, at + record) === 0;
  const wrapped = overrideMembers(device, { readPage });
  return {
    device: wrapped,
    close(): void {
      if (fd >= 0) fs.closeSync(fd);
    },
  };
}
