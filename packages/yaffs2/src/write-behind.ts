/**
 * Write-behind for a new image file built front to back (`import`): programs of consecutive
 * pages gather in a buffer of 1 MiB or more and reach the file in one write each, instead of one
 * write per page through the NAND device's image store. Programs, reads, erases and syncs of
 * the returned device go to the file directly; the device underneath (createImage gives it one in
 * memory) keeps its erase counts and bad-block list but never sees the page bytes, so this is
 * only for an image being written whole by one writer and then closed, never for in-place edits
 * of an existing image. sync() makes the file durable (fsync) when `durable` (the default: an
 * edit's new image is about to be renamed over the old one); `import` writes a file that did not
 * exist and passes false, as mkyaffs2image does not fsync either.
 * Upstream counterpart: mkyaffs2image's sequential write() of each chunk and its spare.
 */
import * as fs from 'node:fs';
import type { ReadResult, SimulatedNand } from '@flashdiff/nand';
import { Yaffs2Error } from './errors.ts';
import { UNCHECKED_READ, UNCHECKED_READ_ERASED, overrideMembers, windowRecords } from './file-device.ts';

export function withWriteBehind(device: SimulatedNand, path: string, options: { durable?: boolean } = {}): SimulatedNand {
  const durable = options.durable ?? true;
  const { pageSize, spareSize, pagesPerBlock } = device.geometry;
  const record = pageSize + spareSize;
  const perBuffer = windowRecords(record);
  const buffer = Buffer.alloc(perBuffer * record);
  const fd = fs.openSync(path, 'r+');
  let first = -1; // first page in the buffer
  let count = 0; // pages in the buffer
  let fileLength = fs.fstatSync(fd).size;
  const writeAll = (bytes: Uint8Array, position: number): void => {
    for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
    fileLength = Math.max(fileLength, position + bytes.length);
  };
  const flush = (): void => {
    if (count === 0) return;
    writeAll(buffer.subarray(0, count * record), first * record);
    count = 0;
  };
  const programPage = (page: number, data: Uint8Array | null, spare: Uint8Array): void => {
    if (count > 0 && (page !== first + count || count === perBuffer)) flush();
    if (count === 0) first = page;
    const at = count * record;
    if (data === null) buffer.fill(0xff, at, at + pageSize);
    else buffer.set(data.subarray(0, pageSize), at);
    buffer.set(spare.subarray(0, spareSize), at + pageSize);
    if (spare.length < spareSize) buffer.fill(0xff, at + pageSize + spare.length, at + record);
    count++;
  };
  const readPage = (page: number, data?: Uint8Array, spare?: Uint8Array): ReadResult => {
    flush();
    const bytes = Buffer.alloc(record, 0xff);
    if (page * record < fileLength) fs.readSync(fd, bytes, 0, record, page * record);
    if (data) data.set(bytes.subarray(0, Math.min(data.length, pageSize)));
    if (spare) spare.set(bytes.subarray(pageSize, pageSize + Math.min(spare.length, spareSize)));
    return bytes.every((b) => b === 0xff) ? UNCHECKED_READ_ERASED : UNCHECKED_READ;
  };
  const eraseBlock = (block: number): void => {
    flush();
    const start = block * pagesPerBlock * record;
    if (start < fileLength) writeAll(Buffer.alloc(Math.min(pagesPerBlock * record, fileLength - start), 0xff), start);
    device.eraseBlock(block);
  };
  const overrides: Record<string | symbol, unknown> = {
    markBad: (): void => {
      // Never met on an image file (no program or erase fails there); the store would pad the
      // file over pages written here, so refuse rather than corrupt.
      throw new Yaffs2Error('EIO', `${path}: a block went bad while the image was being written`);
    },
    programPage,
    readPage,
    eraseBlock,
    sync: (): void => {
      flush();
      if (durable) fs.fsyncSync(fd);
      device.sync();
    },
    close: (): void => {
      try {
        flush();
      } finally {
        fs.closeSync(fd);
        device.close();
      }
    },
  };
  return overrideMembers(device, overrides);
}
