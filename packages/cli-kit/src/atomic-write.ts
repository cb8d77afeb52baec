/**
 * Output files written whole or not at all: the bytes go to a temporary file in the target's
 * directory (same file system, so rename(2) is atomic), are fsync'ed, then renamed over the
 * target. On any failure (ENOSPC, EACCES, Ctrl-C) the previous file stays as it was and the
 * temporary file is removed (on a kill that leaves no JavaScript running, a hidden
 * `.<name>.<pid>-<n>.tmp` may stay behind; the target is still untouched).
 *
 * Directories are created one level at a time instead of with mkdirSync's `recursive`, which
 * loops forever under /proc (mkdir there fails with ENOENT although the parent exists).
 *
 * Fault injection for tests (like @flashdiff/nand's seeded faults, off unless asked for):
 * FLASHDIFF_WRITE_FAULT=ENOSPC writes half of the bytes and then fails as a full disk would;
 * FLASHDIFF_WRITE_FAULT=SLOW writes in 20 pieces 100 ms apart (time to send a signal mid-write).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CliError } from './errors.ts';

const liveTemporaries = new Set<string>();
let exitHookInstalled = false;
let counter = 0;

/** Remove the temporary files of writes still in progress (the interrupt handler calls this). */
export function removeTemporaryFiles(): void {
  for (const path of liveTemporaries) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
  liveTemporaries.clear();
}

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err && typeof err.code === 'string' ? err.code : String((e as Error)?.message ?? e);
}

/**
 * Create `directory` and its missing parents; fail at once, naming the path, when one cannot be
 * made. Returns the first directory it created (undefined when all existed), as
 * `mkdirSync(directory, { recursive: true })` does — without its endless loop under /proc.
 */
export function ensureDirectory(directory: string): string | undefined {
  const missing: string[] = [];
  let current = resolve(directory);
  for (;;) {
    try {
      const st = statSync(current);
      if (!st.isDirectory()) throw new CliError('CANNOT_CREATE_DIRECTORY', `${directory}: cannot create directory: ${current} is not a directory`);
      break;
    } catch (e) {
      if (e instanceof CliError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new CliError('CANNOT_CREATE_DIRECTORY', `${directory}: cannot create directory: ${current}: ${describe(e)}`, { cause: e });
      const parent = dirname(current);
      if (parent === current) throw new CliError('CANNOT_CREATE_DIRECTORY', `${directory}: cannot create directory: no existing parent`);
      missing.push(current);
      current = parent;
    }
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i]!);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statSync(missing[i]!).isDirectory()) continue;
      throw new CliError('CANNOT_CREATE_DIRECTORY', `${directory}: cannot create directory ${missing[i]}: ${describe(e)}`, { cause: e });
    }
  }
  return missing[missing.length - 1];
}

/** A temporary file beside `target`, registered for removal on interrupt or exit. */
export function temporaryPathFor(target: string): string {
  const path = join(dirname(target), `.${basename(target)}.${process.pid}-${counter++}.tmp`);
  liveTemporaries.add(path);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', removeTemporaryFiles);
  }
  return path;
}

/** Forget a temporary file that was renamed into place or removed. */
export function releaseTemporaryPath(path: string): void {
  liveTemporaries.delete(path);
}

function injectedFault(): 'ENOSPC' | 'SLOW' | null {
  const v = process.env.FLASHDIFF_WRITE_FAULT;
  return v === 'ENOSPC' || v === 'SLOW' ? v : null;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Write `data` to `target` atomically, creating its directory. Throws CliError WRITE_FAILED (or
 * CANNOT_CREATE_DIRECTORY) naming the target; the previous file is then unchanged.
 */
export function writeFileAtomic(target: string, data: Uint8Array | string): void {
  writeFilesAtomic([[target, data]]);
}

function writeTemporary(target: string, bytes: Uint8Array): string {
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(target);
  } catch {
    st = undefined;
  }
  if (st?.isDirectory()) throw new CliError('WRITE_FAILED', `${target}: is a directory`);
  const temporary = temporaryPathFor(target);
  let fd: number | undefined;
  try {
    fd = openSync(temporary, 'wx', st ? st.mode & 0o777 : 0o666);
    const fault = injectedFault();
    const pieces = fault === 'SLOW' ? 20 : 1;
    const limit = fault === 'ENOSPC' ? Math.floor(bytes.length / 2) : bytes.length;
    for (let i = 0; i < pieces; i++) {
      const from = Math.floor((i * limit) / pieces);
      const to = Math.floor(((i + 1) * limit) / pieces);
      let offset = from;
      while (offset < to) offset += writeSync(fd, bytes, offset, to - offset);
      if (fault === 'SLOW') sleepSync(100);
    }
    if (fault === 'ENOSPC') throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    return temporary;
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    discard(temporary);
    throw new CliError('WRITE_FAILED', `${target}: cannot write (${describe(e)}); the previous file, if any, is unchanged`, { cause: e });
  }
}

function discard(temporary: string): void {
  try {
    unlinkSync(temporary);
  } catch {
    // never created, or already renamed
  }
  releaseTemporaryPath(temporary);
}

/**
 * Write several files as one step: every file goes to its temporary first, and only when all
 * are written (fsync'ed) are they renamed into place, in the order given. A failure while
 * writing (ENOSPC, an injected fault) leaves every previous file unchanged; the renames
 * themselves are synchronous, so a Ctrl-C handler cannot run between them (only a kill -9 or a
 * power cut in those microseconds could leave a mix). Put the file that names the others last.
 */
export function writeFilesAtomic(files: ReadonlyArray<readonly [string, Uint8Array | string]>): void {
  const written: Array<[string, string]> = [];
  try {
    for (const [target, data] of files) {
      ensureDirectory(dirname(target));
      written.push([writeTemporary(target, typeof data === 'string' ? Buffer.from(data, 'utf8') : data), target]);
    }
  } catch (e) {
    for (const [temporary] of written) discard(temporary);
    throw e;
  }
  for (let i = 0; i < written.length; i++) {
    const [temporary, target] = written[i]!;
    try {
      renameSync(temporary, target);
      releaseTemporaryPath(temporary);
    } catch (e) {
      for (const [rest] of written.slice(i)) discard(rest);
      throw new CliError('WRITE_FAILED', `${target}: cannot write (${describe(e)})`, { cause: e });
    }
  }
}
