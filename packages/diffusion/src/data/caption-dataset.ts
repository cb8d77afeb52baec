/**
 * Node-only: the on-disk cache of an image–caption data set (Shapes, Fashion-MNIST), written once
 * and streamed in shuffled batches without loading the images whole. The project's own format
 * (no upstream counterpart; docs/SPEC.md style): two files per split.
 *
 *   <split>.bin   bytes 0–7   magic "FDCAPDS1"
 *                 bytes 8–11  u32 LE: length L of the JSON header that follows
 *                 bytes 12–   the JSON header (CaptionDatasetHeader), space-padded to `imageOffset − 12`
 *                 imageOffset the images: count × height × width × channels uint8, NHWC row-major,
 *                             imageOffset a multiple of 4096
 *   <split>.jsonl (same base name as the .bin) one JSON object per image, in image order: {"caption": "...", "label"?: k,
 *                 "attributes"?: {...}}, each line ending in "\n"
 *
 * Integrity: the header holds the CRC-32 (ISO-HDLC, as zlib/PNG) of every chunk of `chunkImages`
 * images and of the whole .jsonl file, and the exact sizes; opening checks the sizes and the
 * captions' CRC, and every chunk's CRC is checked when it is first read. Both files are written to
 * temporary names and renamed into place when complete (captions first, then the images, whose
 * header names the captions' checksum), so a crash leaves either the old files or none.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ensureDirectory } from '@flashdiff/cli-kit';
import { DiffusionError } from '../errors.ts';
import { Random } from '../rng.ts';
import { type ImageDataset, checkDataset } from './dataset.ts';

export const CAPTION_DATASET_MAGIC = 'FDCAPDS1';
export const CAPTION_DATASET_FORMAT = 'flashdiff-caption-dataset';
const ALIGN = 4096;

export interface CaptionRecord {
  caption: string;
  /** Class index (Fashion-MNIST), when the set is labelled. */
  label?: number;
  /** Structured attributes (Shapes: objects and relation). */
  attributes?: unknown;
}

export interface CaptionDatasetHeader {
  format: typeof CAPTION_DATASET_FORMAT;
  version: 1;
  /** "shapes", "fashion-mnist", … */
  name: string;
  split: string;
  count: number;
  height: number;
  width: number;
  channels: number;
  imageOffset: number;
  chunkImages: number;
  /** CRC-32 of each chunk's image bytes. */
  chunkCrc32: number[];
  /** The name the captions were written under; readers take `<name>.jsonl` beside the `<name>.bin` they open. */
  captionsFile: string;
  captionsBytes: number;
  captionsCrc32: number;
  /** Class names for `label` (empty when unlabelled). */
  classNames: string[];
  /** Where the data came from: generator and seed, or source files. */
  source: string;
}

// ---------------------------------------------------------------------------------------------
// CRC-32 (reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF).

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Continue a CRC-32 over more bytes: crc32(b, crc32(a)) = crc32(a ‖ b); start with 0. */
export function crc32(bytes: Uint8Array, previous = 0): number {
  let c = ~previous >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

export function captionsPathFor(binPath: string): string {
  return binPath.replace(/\.bin$/, '') + '.jsonl';
}

/** `<dir>/<split>.bin` */
export function splitPath(dir: string, split: string): string {
  return join(dir, `${split}.bin`);
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface CaptionDatasetMeta {
  name: string;
  split: string;
  count: number;
  height: number;
  width: number;
  channels: number;
  classNames?: string[];
  source: string;
  /** Images per checksummed chunk (default 1024). */
  chunkImages?: number;
}

/** Streams `count` images and records to temporary files; `finish()` checks the count and renames them into place. */
export class CaptionDatasetWriter {
  private readonly imageBytes: number;
  private readonly header: CaptionDatasetHeader;
  private readonly tmpBin: string;
  private readonly tmpCaptions: string;
  private binFd: number;
  private captionsFd: number;
  private written = 0;
  private chunk: Uint8Array;
  private chunkFill = 0;
  private captionsCrc = 0;
  private captionsBytes = 0;
  private reserved: number;
  private closed = false;

  constructor(
    readonly path: string,
    meta: CaptionDatasetMeta,
  ) {
    const { count, height, width, channels } = meta;
    for (const [what, v] of Object.entries({ count, height, width, channels })) {
      if (!Number.isSafeInteger(v) || v < 1) throw new DiffusionError('INVALID_ARGUMENT', `CaptionDatasetWriter: ${what} must be an integer ≥ 1, got ${v}`);
    }
    const chunkImages = meta.chunkImages ?? 1024;
    this.imageBytes = height * width * channels;
    const chunks = Math.ceil(count / chunkImages);
    this.header = {
      format: CAPTION_DATASET_FORMAT,
      version: 1,
      name: meta.name,
      split: meta.split,
      count,
      height,
      width,
      channels,
      imageOffset: 0,
      chunkImages,
      // Placeholders of the widest values, so that the final header fits the reserved space.
      chunkCrc32: new Array<number>(chunks).fill(0xffffffff),
      captionsFile: basename(captionsPathFor(path)),
      captionsBytes: Number.MAX_SAFE_INTEGER,
      captionsCrc32: 0xffffffff,
      classNames: meta.classNames ?? [],
      source: meta.source,
    };
    this.reserved = Buffer.byteLength(JSON.stringify(this.header)) + 64;
    this.header.imageOffset = Math.ceil((12 + this.reserved) / ALIGN) * ALIGN;
    this.reserved = this.header.imageOffset - 12;
    this.chunk = new Uint8Array(chunkImages * this.imageBytes);
    ensureDirectory(dirname(path));
    this.tmpBin = `${path}.tmp-${process.pid}`;
    this.tmpCaptions = `${captionsPathFor(path)}.tmp-${process.pid}`;
    this.binFd = openSync(this.tmpBin, 'w');
    this.captionsFd = openSync(this.tmpCaptions, 'w');
  }

  /** Append one image (height × width × channels uint8) and its record. */
  add(image: Uint8Array, record: CaptionRecord): void {
    if (this.closed) throw new DiffusionError('INVALID_ARGUMENT', `${this.path}: writer already finished`);
    if (image.length !== this.imageBytes) throw new DiffusionError('SHAPE_MISMATCH', `${this.path}: image ${this.written} has ${image.length} bytes, expected ${this.imageBytes}`);
    if (this.written >= this.header.count) throw new DiffusionError('INVALID_ARGUMENT', `${this.path}: more than the ${this.header.count} images announced`);
    if (typeof record.caption !== 'string') throw new DiffusionError('INVALID_ARGUMENT', `${this.path}: record ${this.written} has no caption`);
    this.chunk.set(image, this.chunkFill * this.imageBytes);
    this.chunkFill += 1;
    this.written += 1;
    const line = Buffer.from(JSON.stringify(record) + '\n');
    writeSync(this.captionsFd, line);
    this.captionsCrc = crc32(line, this.captionsCrc);
    this.captionsBytes += line.length;
    if (this.chunkFill === this.header.chunkImages) this.flushChunk();
  }

  private flushChunk(): void {
    if (this.chunkFill === 0) return;
    const bytes = this.chunk.subarray(0, this.chunkFill * this.imageBytes);
    const index = Math.floor((this.written - 1) / this.header.chunkImages);
    this.header.chunkCrc32[index] = crc32(bytes);
    writeSync(this.binFd, bytes, 0, bytes.length, this.header.imageOffset + index * this.header.chunkImages * this.imageBytes);
    this.chunkFill = 0;
  }

  /** Write the header, close, and rename both files into place. */
  finish(): CaptionDatasetHeader {
    if (this.closed) throw new DiffusionError('INVALID_ARGUMENT', `${this.path}: writer already finished`);
    if (this.written !== this.header.count) {
      this.abort();
      throw new DiffusionError('INVALID_ARGUMENT', `${this.path}: ${this.written} images written, ${this.header.count} announced`);
    }
    this.flushChunk();
    this.header.captionsBytes = this.captionsBytes;
    this.header.captionsCrc32 = this.captionsCrc;
    const json = Buffer.from(JSON.stringify(this.header));
    if (json.length > this.reserved) throw new DiffusionError('INVALID_ARGUMENT', `${this.path}: header outgrew its reserved ${this.reserved} bytes`); // cannot happen: placeholders are the widest values
    const head = Buffer.alloc(this.header.imageOffset, 0x20);
    head.write(CAPTION_DATASET_MAGIC, 0, 'latin1');
    head.writeUInt32LE(json.length, 8);
    json.copy(head, 12);
    writeSync(this.binFd, head, 0, head.length, 0);
    closeSync(this.binFd);
    closeSync(this.captionsFd);
    this.closed = true;
    renameSync(this.tmpCaptions, captionsPathFor(this.path));
    renameSync(this.tmpBin, this.path);
    return this.header;
  }

  /** Close and delete the temporary files (on error). */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.binFd);
    closeSync(this.captionsFd);
    rmSync(this.tmpBin, { force: true });
    rmSync(this.tmpCaptions, { force: true });
  }
}

/** Write a whole split from a generator of (image, record) pairs; the temporary files are removed if it throws. */
export function writeCaptionDataset(path: string, meta: CaptionDatasetMeta, samples: Iterable<{ image: Uint8Array; record: CaptionRecord }>, onProgress?: (done: number) => void): CaptionDatasetHeader {
  const writer = new CaptionDatasetWriter(path, meta);
  try {
    let done = 0;
    for (const { image, record } of samples) {
      writer.add(image, record);
      done += 1;
      if (onProgress && done % 1000 === 0) onProgress(done);
    }
    return writer.finish();
  } catch (err) {
    writer.abort();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface CaptionBatch {
  /** Image indices in the split. */
  indices: Int32Array;
  /** NHWC float32 scaled to [−1, 1], as ImageDataset. */
  images: Float32Array;
  captions: string[];
  records: CaptionRecord[];
}

export interface BatchOptions {
  batchSize: number;
  seed: number;
  /** Each epoch has its own order (default 0). */
  epoch?: number;
  /** Skip this many batches of the epoch (resume). */
  startBatch?: number;
  /** Drop a last, smaller batch (default false). */
  dropLast?: boolean;
  /** Chunks shuffled together (default 8); the reader keeps about two windows of chunks in memory. */
  windowChunks?: number;
}

function invalid(path: string, message: string): never {
  throw new DiffusionError('DATA_INVALID', `${path}: ${message}`);
}

/**
 * An opened split: its header and records in memory, its images read by positioned reads a
 * chunk at a time (CRC-checked on first read, a bounded number of chunks cached).
 */
export class CaptionDataset {
  readonly header: CaptionDatasetHeader;
  readonly records: CaptionRecord[];
  private fd: number;
  private readonly imageBytes: number;
  private readonly cache = new Map<number, Uint8Array>();
  private cacheLimit = 16;
  /** The epoch order streamBatch read last (an epoch's permutation is reused for all its batches). */
  private streamOrder: { seed: number; epoch: number; windowChunks: number; order: Int32Array } | null = null;

  constructor(readonly path: string) {
    if (!existsSync(path)) invalid(path, 'no such file (write the data set with `diffusion data shapes|fashion-mnist --out DIR`)');
    this.fd = openSync(path, 'r');
    try {
      const size = fstatSync(this.fd).size;
      const head = Buffer.alloc(12);
      if (readSync(this.fd, head, 0, 12, 0) < 12 || head.toString('latin1', 0, 8) !== CAPTION_DATASET_MAGIC) invalid(path, `not a caption data set (expected the magic "${CAPTION_DATASET_MAGIC}")`);
      const length = head.readUInt32LE(8);
      if (length > size - 12 || length > 1 << 26) invalid(path, `header length ${length} runs past the end of the file (${size} bytes)`);
      const json = Buffer.alloc(length);
      readSync(this.fd, json, 0, length, 12);
      let header: CaptionDatasetHeader;
      try {
        header = JSON.parse(json.toString('utf8')) as CaptionDatasetHeader;
      } catch {
        invalid(path, 'header is not valid JSON');
      }
      this.header = checkHeader(path, header);
      this.imageBytes = header.height * header.width * header.channels;
      const expected = header.imageOffset + header.count * this.imageBytes;
      if (size !== expected) invalid(path, `${size} bytes, expected ${expected} for ${header.count} images of ${header.height}×${header.width}×${header.channels} (truncated or overwritten)`);
      this.records = readRecords(captionsPathFor(path), header);
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  get count(): number {
    return this.header.count;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.cache.clear();
  }

  private chunkBytes(chunk: number): Uint8Array {
    let bytes = this.cache.get(chunk);
    if (bytes) {
      // Re-insert: the Map's order is the eviction order (least recently used first).
      this.cache.delete(chunk);
      this.cache.set(chunk, bytes);
      return bytes;
    }
    if (this.fd < 0) throw new DiffusionError('INVALID_ARGUMENT', `${this.path}: data set already closed`);
    const { chunkImages, count, imageOffset } = this.header;
    const first = chunk * chunkImages;
    const n = Math.min(chunkImages, count - first);
    bytes = new Uint8Array(n * this.imageBytes);
    const got = readSync(this.fd, bytes, 0, bytes.length, imageOffset + first * this.imageBytes);
    if (got !== bytes.length) invalid(this.path, `chunk ${chunk}: read ${got} of ${bytes.length} bytes (truncated)`);
    if (crc32(bytes) !== this.header.chunkCrc32[chunk]) invalid(this.path, `chunk ${chunk} (images ${first}–${first + n - 1}) fails its CRC-32 check (corrupt)`);
    this.cache.set(chunk, bytes);
    while (this.cache.size > this.cacheLimit) this.cache.delete(this.cache.keys().next().value as number);
    return bytes;
  }

  /** The images at `indices` as uint8 NHWC. */
  readImagesUint8(indices: ArrayLike<number>): Uint8Array {
    const out = new Uint8Array(indices.length * this.imageBytes);
    for (let i = 0; i < indices.length; i++) {
      const k = indices[i];
      if (!Number.isInteger(k) || k < 0 || k >= this.count) throw new DiffusionError('INVALID_ARGUMENT', `${this.path}: index ${k} outside 0..${this.count - 1}`);
      const chunk = Math.floor(k / this.header.chunkImages);
      const offset = (k - chunk * this.header.chunkImages) * this.imageBytes;
      out.set(this.chunkBytes(chunk).subarray(offset, offset + this.imageBytes), i * this.imageBytes);
    }
    return out;
  }

  /** The images at `indices` as float32 NHWC in [−1, 1]. */
  readImages(indices: ArrayLike<number>): Float32Array {
    const bytes = this.readImagesUint8(indices);
    const out = new Float32Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] / 127.5 - 1;
    return out;
  }

  /**
   * One epoch's order, seeded by (seed, epoch): the chunks in a random order, then the images of
   * each window of `windowChunks` consecutive chunks permuted together — a full shuffle's
   * statistics within a window, reading each chunk once per epoch.
   */
  epochOrder(seed: number, epoch = 0, windowChunks = 8): Int32Array {
    const random = new Random((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
    const { chunkImages, count } = this.header;
    const chunks = Math.ceil(count / chunkImages);
    const chunkOrder = random.permutation(chunks);
    const order = new Int32Array(count);
    let filled = 0;
    for (let w = 0; w < chunks; w += windowChunks) {
      const start = filled;
      for (let c = w; c < Math.min(chunks, w + windowChunks); c++) {
        const first = chunkOrder[c] * chunkImages;
        for (let k = first; k < Math.min(count, first + chunkImages); k++) order[filled++] = k;
      }
      const window = order.subarray(start, filled);
      const p = random.permutation(window.length);
      const copy = Int32Array.from(window);
      for (let i = 0; i < window.length; i++) window[i] = copy[p[i]];
    }
    return order;
  }

  /** Shuffled batches of one epoch (see epochOrder). */
  *batches(options: BatchOptions): Generator<CaptionBatch> {
    const { batchSize, seed, epoch = 0, startBatch = 0, dropLast = false, windowChunks = 8 } = options;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new DiffusionError('INVALID_ARGUMENT', `batches: batchSize must be an integer ≥ 1, got ${batchSize}`);
    this.cacheLimit = Math.max(16, 2 * windowChunks + 2);
    const order = this.epochOrder(seed, epoch, windowChunks);
    for (let start = startBatch * batchSize; start < order.length; start += batchSize) {
      const end = Math.min(order.length, start + batchSize);
      if (dropLast && end - start < batchSize) break;
      const indices = order.slice(start, end);
      const records = Array.from(indices, (k) => this.records[k]);
      yield { indices, images: this.readImages(indices), captions: records.map((r) => r.caption), records };
    }
  }

  /**
   * Samples start … start + count − 1 of the endless stream of this split's shuffled epochs, one
   * after another (sample s is epochOrder(seed, ⌊s / N⌋)[s mod N] for N images): what a training
   * run reads as batch k = samples k·B … k·B + B − 1, so that a resumed run reads the same batches
   * without replaying the ones before. A batch may straddle two epochs.
   */
  streamBatch(seed: number, start: number, count: number, windowChunks = 8): { indices: Int32Array; images: Float32Array; captions: string[] } {
    this.cacheLimit = Math.max(this.cacheLimit, 2 * windowChunks + 2);
    const indices = this.streamIndices(seed, start, count, windowChunks);
    return { indices, images: this.readImages(indices), captions: Array.from(indices, (k) => this.records[k].caption) };
  }

  /** The image indices of stream samples start … start + count − 1 (see streamBatch), reading no images. */
  streamIndices(seed: number, start: number, count: number, windowChunks = 8): Int32Array {
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(count) || count < 1) throw new DiffusionError('INVALID_ARGUMENT', `${this.path}: stream samples ${start}+${count} are not a range of whole numbers`);
    const indices = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const s = start + i;
      const epoch = Math.floor(s / this.count);
      if (this.streamOrder?.seed !== seed || this.streamOrder.epoch !== epoch || this.streamOrder.windowChunks !== windowChunks) {
        this.streamOrder = { seed, epoch, windowChunks, order: this.epochOrder(seed, epoch, windowChunks) };
      }
      indices[i] = this.streamOrder.order[s - epoch * this.count];
    }
    return indices;
  }

  /** Read every chunk once and check its CRC-32 (without caching it): a corrupt file fails here, not mid-run. */
  verify(): void {
    const chunks = this.header.chunkCrc32.length;
    for (let c = 0; c < chunks; c++) {
      if (!this.cache.has(c)) {
        this.chunkBytes(c);
        this.cache.delete(c);
      }
    }
  }

  /**
   * Load (the first `limit` images of) the split into memory as an ImageDataset — for the
   * evaluation classifier and Fréchet statistics. grey: average the channels into one.
   */
  toImageDataset(options: { limit?: number; grey?: boolean } = {}): ImageDataset {
    const count = Math.min(this.count, options.limit ?? Infinity);
    const { height, width, channels, chunkImages } = this.header;
    const outChannels = options.grey ? 1 : channels;
    const pixels = height * width;
    const images = new Float32Array(count * pixels * outChannels);
    // A chunk at a time, so that only the result (not a full-colour float copy) is ever whole.
    for (let start = 0; start < count; start += chunkImages) {
      const n = Math.min(chunkImages, count - start);
      const bytes = this.readImagesUint8(Int32Array.from({ length: n }, (_, i) => start + i));
      const out = images.subarray(start * pixels * outChannels, (start + n) * pixels * outChannels);
      if (outChannels === channels) {
        for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] / 127.5 - 1;
      } else {
        for (let p = 0; p < n * pixels; p++) {
          let sum = 0;
          for (let c = 0; c < channels; c++) sum += bytes[p * channels + c];
          out[p] = sum / channels / 127.5 - 1;
        }
      }
    }
    const labelled = this.header.classNames.length > 0;
    const labels = labelled ? Int32Array.from(this.records.slice(0, count), (r) => r.label ?? -1) : null;
    return checkDataset({ name: `${this.header.name}/${this.header.split}`, images, count, height, width, channels: outChannels, labels, numClasses: this.header.classNames.length, classNames: this.header.classNames });
  }
}

function checkHeader(path: string, h: CaptionDatasetHeader): CaptionDatasetHeader {
  if (typeof h !== 'object' || h === null || h.format !== CAPTION_DATASET_FORMAT) invalid(path, `header format is not "${CAPTION_DATASET_FORMAT}"`);
  if (h.version !== 1) invalid(path, `format version ${String(h.version)} (this reader knows 1)`);
  for (const key of ['count', 'height', 'width', 'channels', 'imageOffset', 'chunkImages', 'captionsBytes', 'captionsCrc32'] as const) {
    if (!Number.isSafeInteger(h[key]) || h[key] < 0) invalid(path, `header field ${key} is not a non-negative integer`);
  }
  if (h.count < 1 || h.height < 1 || h.width < 1 || h.channels < 1 || h.chunkImages < 1) invalid(path, 'header has an empty dimension');
  if (!Array.isArray(h.chunkCrc32) || h.chunkCrc32.length !== Math.ceil(h.count / h.chunkImages)) invalid(path, 'header chunkCrc32 does not list one checksum per chunk');
  if (typeof h.captionsFile !== 'string' || h.captionsFile.includes('/') || h.captionsFile.includes('\\')) invalid(path, 'header captionsFile is not a file name');
  if (!Array.isArray(h.classNames)) invalid(path, 'header classNames is not a list');
  return h;
}

function readRecords(file: string, header: CaptionDatasetHeader): CaptionRecord[] {
  if (!existsSync(file)) invalid(file, 'no such file (the captions that go with the images; write the data set again)');
  const bytes = readFileSync(file);
  if (bytes.length !== header.captionsBytes) invalid(file, `${bytes.length} bytes, expected ${header.captionsBytes} (truncated or overwritten)`);
  if (crc32(bytes) !== header.captionsCrc32) invalid(file, 'fails its CRC-32 check (corrupt)');
  const lines = bytes.toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length !== header.count) invalid(file, `${lines.length} records for ${header.count} images`);
  return lines.map((line, i) => {
    let record: CaptionRecord;
    try {
      record = JSON.parse(line) as CaptionRecord;
    } catch {
      invalid(file, `line ${i + 1} is not JSON`);
    }
    if (typeof record?.caption !== 'string') invalid(file, `line ${i + 1} has no "caption" string`);
    if (header.classNames.length > 0 && !(Number.isInteger(record.label) && (record.label as number) >= 0 && (record.label as number) < header.classNames.length)) {
      invalid(file, `line ${i + 1}: label ${String(record.label)} outside 0..${header.classNames.length - 1}`);
    }
    return record;
  });
}

/** Open `<dir>/<split>.bin` (or a .bin path). */
export function openCaptionDataset(pathOrDir: string, split = 'train'): CaptionDataset {
  const path = pathOrDir.endsWith('.bin') ? pathOrDir : splitPath(pathOrDir, split);
  return new CaptionDataset(path);
}
