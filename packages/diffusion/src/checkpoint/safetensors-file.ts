/**
 * Node-only safetensors files: a lazy reader (the header is read and validated on open, each tensor
 * is read with positioned reads when asked for) and a streaming, atomic writer. The format's rules
 * live in safetensors.ts and are shared with the in-memory decoder. Upstream counterpart:
 * huggingface/safetensors' `safe_open` (which memory-maps) and `save_file`.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DiffusionError } from '../errors.ts';
import {
  SAFETENSORS_DTYPE_BYTES,
  type SafetensorsEntry,
  convertToFloat32,
  encodeSafetensorsHeader,
  floatToBfloat16,
  floatToHalf,
  parseSafetensorsHeader,
  safetensorsHeaderLength,
} from './safetensors.ts';
import type { TensorInfo, TensorSource } from './tensor-source.ts';

/** Largest piece read or written at once: bounds the scratch buffer for dtype conversion. */
const CHUNK_BYTES = 8 * 1024 * 1024;

function systemError(path: string, err: unknown): never {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') throw new DiffusionError('CHECKPOINT_MISSING', `${path}: no such file`);
  if (code === 'EISDIR') throw new DiffusionError('CHECKPOINT_CORRUPT', `${path}: is a directory, not a safetensors file`);
  throw new DiffusionError('CHECKPOINT_CORRUPT', `${path}: cannot read (${(err as Error).message})`);
}

/** A safetensors file opened for lazy reading. Holds an open file descriptor until close(). */
export class SafetensorsFileSource implements TensorSource {
  readonly metadata: Record<string, string>;
  /** Bytes read from the file so far, header included (lets tests and benchmarks prove laziness). */
  bytesRead = 0;
  private fd: number | undefined;
  private readonly entries = new Map<string, SafetensorsEntry>();
  private readonly dataStart: number;
  private scratch: Uint8Array | undefined;

  /** `source` names the file in messages (default: the path). */
  constructor(
    readonly path: string,
    readonly source = path,
  ) {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      systemError(path, err);
    }
    try {
      const stat = fstatSync(fd);
      if (stat.isDirectory()) systemError(path, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
      const fileLength = stat.size;
      const prefix = new Uint8Array(8);
      this.readExactly(fd, prefix, 0, Math.min(8, fileLength), 'the header length');
      const headerLength = safetensorsHeaderLength(prefix, fileLength, source);
      const headerBytes = new Uint8Array(headerLength);
      this.readExactly(fd, headerBytes, 8, headerLength, 'the header');
      const header = parseSafetensorsHeader(headerBytes, fileLength, source);
      for (const e of header.entries) this.entries.set(e.name, e);
      this.dataStart = header.dataStart;
      this.metadata = header.metadata;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.fd = fd;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  info(name: string): TensorInfo | undefined {
    const e = this.entries.get(name);
    return e && { shape: e.shape.slice(), dtype: e.dtype };
  }

  read(name: string): Float32Array {
    const e = this.entries.get(name);
    if (!e) throw new DiffusionError('INVALID_ARGUMENT', `${this.source}: no tensor "${name}"`);
    if (this.fd === undefined) throw new DiffusionError('INVALID_ARGUMENT', `${this.source}: read of "${name}" after close`);
    const size = SAFETENSORS_DTYPE_BYTES[e.dtype];
    const out = new Float32Array((e.end - e.begin) / size);
    const what = `tensor "${name}"`;
    if (e.dtype === 'F32' && isLittleEndian) {
      // Straight into the result's bytes: no scratch copy.
      this.readExactly(this.fd, new Uint8Array(out.buffer), this.dataStart + e.begin, e.end - e.begin, what);
      return out;
    }
    const chunk = Math.floor(CHUNK_BYTES / size) * size;
    this.scratch ??= new Uint8Array(CHUNK_BYTES);
    for (let at = e.begin; at < e.end; at += chunk) {
      const length = Math.min(chunk, e.end - at);
      this.readExactly(this.fd, this.scratch, this.dataStart + at, length, what);
      convertToFloat32(this.scratch.subarray(0, length), e.dtype, out, (at - e.begin) / size);
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.scratch = undefined;
  }

  /** Fill `target[0, length)` from file `position`; a short file is CHECKPOINT_CORRUPT naming `what`. */
  private readExactly(fd: number, target: Uint8Array, position: number, length: number, what: string): void {
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        n = readSync(fd, target, done, Math.min(length - done, 1 << 30), position + done);
      } catch (err) {
        throw new DiffusionError('CHECKPOINT_CORRUPT', `${this.source}: reading ${what} failed (${(err as Error).message})`);
      }
      if (n === 0) throw new DiffusionError('CHECKPOINT_CORRUPT', `${this.source}: truncated while reading ${what} (file changed since it was opened?)`);
      done += n;
      this.bytesRead += n;
    }
  }
}

const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Open a safetensors file lazily (header validated now, tensors read on demand). */
export function openSafetensorsFile(path: string, label = path): SafetensorsFileSource {
  return new SafetensorsFileSource(path, label);
}

export type SafetensorsWriteDtype = 'F32' | 'F16' | 'BF16';

/** One tensor to write; `data` may be a function so only one tensor need exist at a time. */
export interface TensorToWrite {
  name: string;
  shape: readonly number[];
  data: Float32Array | (() => Float32Array);
}

export interface WriteSafetensorsOptions {
  metadata?: Record<string, string>;
  /** Stored dtype (default F32); F16/BF16 round to nearest even. */
  dtype?: SafetensorsWriteDtype;
}

/** A sibling temp path: same directory (so rename is atomic), hidden, unique per process and call. */
export function tempPathBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
}

/**
 * Write a safetensors file atomically (temp file in the same directory, fsync, rename) without
 * building it in memory. An array of tensors is written in one pass: the header from the names and
 * shapes, then each tensor fetched (a `data` function is called only then), converted and written in
 * chunks of at most 8 MB. Any other iterable (e.g. a generator converting one tensor at a time) is
 * consumed once, in order: its data goes to a spool file beside the target while the header is
 * collected, then header and spool are joined — twice the disk traffic, one tensor in memory.
 */
export function writeSafetensorsFile(path: string, tensors: Iterable<TensorToWrite>, options: WriteSafetensorsOptions = {}): void {
  const dtype = options.dtype ?? 'F32';
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new DiffusionError('INVALID_ARGUMENT', `writeSafetensorsFile: dtype must be F32, F16 or BF16, not ${String(dtype)}`);
  const size = SAFETENSORS_DTYPE_BYTES[dtype];
  const header: Record<string, unknown> = {};
  if (options.metadata && Object.keys(options.metadata).length > 0) header.__metadata__ = options.metadata;
  let offset = 0;
  const declare = (t: TensorToWrite): number => {
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) {
      throw new DiffusionError('INVALID_ARGUMENT', `writeSafetensorsFile: tensor name "${t.name}" is ${t.name === '__metadata__' ? 'reserved' : 'used twice'}`);
    }
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new DiffusionError('INVALID_ARGUMENT', `writeSafetensorsFile: tensor "${t.name}" has a bad shape [${t.shape}]`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + count * size] };
    offset += count * size;
    return count;
  };
  const scratch = dtype === 'F32' && isLittleEndian ? undefined : new Uint8Array(CHUNK_BYTES);
  const writeData = (fd: number, t: TensorToWrite, count: number): void => {
    const data = typeof t.data === 'function' ? t.data() : t.data;
    if (data.length !== count) throw new DiffusionError('SHAPE_MISMATCH', `writeSafetensorsFile: "${t.name}" has ${data.length} values for shape [${t.shape}]`);
    if (!scratch) {
      writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      return;
    }
    const view = new DataView(scratch.buffer);
    const perChunk = Math.floor(scratch.length / size);
    for (let start = 0; start < count; start += perChunk) {
      const n = Math.min(perChunk, count - start);
      for (let i = 0; i < n; i++) {
        const v = data[start + i];
        if (dtype === 'F32') view.setFloat32(4 * i, v, true);
        else view.setUint16(2 * i, dtype === 'F16' ? floatToHalf(v) : floatToBfloat16(v), true);
      }
      writeAll(fd, scratch.subarray(0, n * size));
    }
  };
  const writeHeader = (fd: number): void => {
    const headerBytes = encodeSafetensorsHeader(header);
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
    writeAll(fd, prefix);
    writeAll(fd, headerBytes);
  };

  const temp = tempPathBeside(path);
  const spool = `${temp}.data`;
  const open: number[] = [];
  const openFile = (file: string, flags: string): number => {
    const fd = openSync(file, flags);
    open.push(fd);
    return fd;
  };
  const closeFile = (fd: number): void => {
    open.splice(open.indexOf(fd), 1);
    closeSync(fd);
  };
  try {
    if (Array.isArray(tensors)) {
      const counts = (tensors as TensorToWrite[]).map(declare);
      const fd = openFile(temp, 'wx');
      writeHeader(fd);
      (tensors as TensorToWrite[]).forEach((t, i) => writeData(fd, t, counts[i]));
      fsyncSync(fd);
      closeFile(fd);
    } else {
      const data = openFile(spool, 'wx+');
      for (const t of tensors) writeData(data, t, declare(t));
      const fd = openFile(temp, 'wx');
      writeHeader(fd);
      const buffer = new Uint8Array(CHUNK_BYTES);
      for (let at = 0; at < offset; ) {
        const n = readSync(data, buffer, 0, Math.min(CHUNK_BYTES, offset - at), at);
        if (n === 0) throw new DiffusionError('CHECKPOINT_CORRUPT', `${spool}: spool file shorter than written`);
        writeAll(fd, buffer.subarray(0, n));
        at += n;
      }
      closeFile(data);
      unlinkSync(spool);
      fsyncSync(fd);
      closeFile(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    for (const fd of open.splice(0)) closeSync(fd);
    for (const file of [temp, spool]) {
      try {
        unlinkSync(file);
      } catch {
        // not created
      }
    }
    throw err;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) {
    done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
  }
}
