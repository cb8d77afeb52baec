/**
 * `extract`: an image's tree recreated on the host (contents streamed, names and symlink targets
 * byte for byte, hard links as links, modes, times, and as root owners, device nodes and FIFOs).
 * Upstream counterparts: unyaffs (Debian) and yaffs2utils' unyaffs2; YAFFS itself has none.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { spawnSync } from 'node:child_process';
import { ensureDirectory } from '@flashdiff/cli-kit';
import { Yaffs2Error } from './errors.ts';
import type { Stat } from './block-info.ts';
import type { Yaffs2 } from './fs.ts';

export interface ExtractResult {
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  /** Device nodes and FIFOs created (as root). */
  specials: number;
  bytes: number;
  /** Objects not created, with why: device nodes without root, sockets (a socket is a live endpoint, not a file). */
  skipped: string[];
}

const S_IFMT = 0o170000;
const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFSOCK = 0o140000;

/** A name extract creates: not empty, ".", ".." or slash-bearing (nothing outside hostDir). */
export function safeName(raw: Uint8Array): boolean {
  return !(raw.length === 0 || raw.includes(0x2f) || (raw.length === 1 && raw[0] === 0x2e) || (raw.length === 2 && raw[0] === 0x2e && raw[1] === 0x2e));
}

/** Linux's 32-bit device number (new_decode_dev): major = bits 8-19, minor = bits 0-7 and 20-31. */
export function deviceNumbers(rdev: number): { major: number; minor: number } {
  return { major: (rdev >>> 8) & 0xfff, minor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00) };
}

/** `dir/name` as bytes (names need not be UTF-8). */
export function childPath(dir: Buffer, name: Uint8Array): Buffer {
  const path = Buffer.allocUnsafe(dir.length + 1 + name.length);
  path.set(dir, 0);
  path[dir.length] = 0x2f;
  path.set(name, dir.length + 1);
  return path;
}

/** open(2) flags of 'wx' (a new file, never an existing one), as a number: no flag string parsed per file. */
export const CREATE_NEW = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_TRUNC;

/** One directory entry as extract sees it: a hard link's stat is its file's (id included). */
export interface ExtractEntry {
  /** Path in the image (text, as `ls` shows it): messages, and the model's lookups. */
  path: string;
  nameBytes: Uint8Array;
  stat: Stat;
}

/**
 * What extract walks: the mounted file-system model ({@link modelSource}) or the object table
 * of the streaming extract (stream-extract.ts). The walk, the host side and its checks are one
 * code for both.
 */
export interface ExtractSource {
  /** The entries of a directory (null: the root), sorted by name as readdir sorts them; the walk skips unsafe names. */
  list(dir: ExtractEntry | null): ExtractEntry[];
  /** A symlink's target bytes. */
  readlink(entry: ExtractEntry): Uint8Array;
  /** Writes a file's contents into `fd` (from its start, large writes); returns the bytes written. */
  copyFile(entry: ExtractEntry, fd: number, onBytes?: (written: number) => void): number;
  /** The bytes of every file extract writes (hard-linked ones once): the progress total. */
  fileBytes(): number;
  /**
   * Optional (stream-extract.ts's single pass, extract-ahead.ts): true when the directory is
   * already made at its host path (mode 0700; the walk sets its mode, owner and times at the end).
   */
  madeDirectory?(entry: ExtractEntry): boolean;
  /**
   * Optional (as above): the file already written at its host path, as an open fd (now the
   * walk's to close) and its length; null when the walk is to create and copy it.
   */
  takeWrittenFile?(entry: ExtractEntry): { fd: number; bytes: number } | null;
}

/** The mounted model as an {@link ExtractSource}: readdir, lstat and reads by path. */
export function modelSource(yfs: Yaffs2): ExtractSource {
  const list = (dir: ExtractEntry | null): ExtractEntry[] => {
    const imageDir = dir === null ? '/' : dir.path;
    // Unsafe names are never extracted: left out here, before any lstat.
    return yfs
      .readdir(imageDir)
      .filter((entry) => safeName(entry.nameBytes))
      .map((entry) => {
        const path = imageDir === '/' ? `/${entry.name}` : `${imageDir}/${entry.name}`;
        return { path, nameBytes: entry.nameBytes, stat: yfs.lstat(path) };
      });
  };
  const window = new Uint8Array(1 << 20); // file contents pass through here, 1 MiB at a time
  return {
    list,
    readlink: (entry) => yfs.readlinkBytes(entry.path),
    copyFile(entry, fd, onBytes): number {
      // Streamed 1 MiB at a time (files larger than memory).
      let written = 0;
      const handle = yfs.open(entry.path);
      try {
        for (;;) {
          const piece = yfs.read(handle, written, window.length, window);
          if (piece.length === 0) break;
          fs.writeSync(fd, piece);
          written += piece.length;
          onBytes?.(written);
        }
      } finally {
        yfs.close(handle);
      }
      return written;
    },
    fileBytes(): number {
      // The bytes of every file in the tree, a hard-linked file once: what extract writes.
      const seen = new Set<number>();
      let total = 0;
      const visit = (dir: ExtractEntry | null, depth: number): void => {
        if (depth > 1024) return; // extract itself stops there, with an error
        for (const entry of list(dir)) {
          const st = entry.stat;
          if (st.type === 'directory') visit(entry, depth + 1);
          else if (st.type === 'file' && !seen.has(st.id)) {
            seen.add(st.id);
            total += st.size;
          }
        }
      };
      visit(null, 0);
      return total;
    },
  };
}

/**
 * `yaffs2 extract`: recreates the image's tree under `hostDir` (which must be missing or
 * empty): contents, symlink targets and names byte for byte (names need not be UTF-8), hard
 * links as links, modes and times; as root also owners, device nodes (mknod) and FIFOs.
 * Without root, device nodes are listed in `skipped`; sockets always are. Names are checked so
 * that nothing is written outside `hostDir`.
 */
export function extractTree(yfs: Yaffs2, hostDir: string, options: { onProgress?: (doneBytes: number, totalBytes: number) => void } = {}): ExtractResult {
  return extractFrom(modelSource(yfs), hostDir, options);
}

/**
 * {@link extractTree} over any {@link ExtractSource}. `hostDirChecked`: the caller found hostDir
 * missing or empty and made it (the single pass then wrote into it what the source's
 * madeDirectory / takeWrittenFile report).
 */
export function extractFrom(
  source: ExtractSource,
  hostDir: string,
  options: { onProgress?: (doneBytes: number, totalBytes: number) => void; hostDirChecked?: boolean } = {},
): ExtractResult {
  const onProgress = options.onProgress;
  const totalBytes = onProgress ? source.fileBytes() : 0;
  if (options.hostDirChecked === true) {
    // made, and found empty, by the caller
  } else if (fs.existsSync(hostDir)) {
    if (!fs.statSync(hostDir).isDirectory()) throw new Yaffs2Error('ENOTDIR', `${hostDir}: not a directory`);
    if (fs.readdirSync(hostDir).length > 0) throw new Yaffs2Error('ENOTEMPTY', `${hostDir}: not empty`);
  } else {
    ensureDirectory(hostDir);
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const result: ExtractResult = { files: 0, directories: 0, symlinks: 0, hardlinks: 0, specials: 0, bytes: 0, skipped: [] };
  const extractedById = new Map<number, Buffer>();
  const deferredLinks: { hostPath: Buffer; id: number }[] = [];
  const dirTimes: { hostPath: Buffer; atime: number; mtime: number; mode: number; uid: number; gid: number }[] = [];
  const own = (hostPath: Buffer, uid: number, gid: number): void => {
    if (isRoot) fs.lchownSync(hostPath, uid, gid);
  };
  let scratch = 0;
  const visit = (dir: ExtractEntry | null, hostDirPath: Buffer, depth: number): void => {
    if (depth > 1024) throw new Yaffs2Error('CORRUPT_IMAGE', `${dir === null ? '/' : dir.path}: directory tree deeper than 1024`);
    for (const entry of source.list(dir)) {
      const raw = entry.nameBytes;
      // Never outside hostDir: no empty, ".", ".." or slash-bearing names.
      if (!safeName(raw)) continue;
      const imagePath = entry.path;
      const hostPath = childPath(hostDirPath, raw);
      const st = entry.stat;
      if (st.type === 'file' && extractedById.has(st.id)) {
        deferredLinks.push({ hostPath, id: st.id });
        continue;
      }
      switch (st.type) {
        case 'directory':
          if (source.madeDirectory?.(entry) !== true) fs.mkdirSync(hostPath, { mode: 0o700 });
          result.directories++;
          visit(entry, hostPath, depth + 1);
          dirTimes.push({ hostPath, atime: st.atime, mtime: st.mtime, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
          break;
        case 'file': {
          // Streamed 1 MiB at a time (files larger than memory), unless already written.
          const ready = source.takeWrittenFile?.(entry) ?? null;
          const out = ready !== null ? ready.fd : fs.openSync(hostPath, CREATE_NEW, 0o600);
          let written: number;
          try {
            if (ready !== null) {
              written = ready.bytes;
              onProgress?.(result.bytes + written, totalBytes);
            } else {
              written = source.copyFile(entry, out, onProgress ? (n) => onProgress(result.bytes + n, totalBytes) : undefined);
            }
            // Owner, mode (after the owner: chown clears set-id bits), then times, through the
            // open file: no path lookups.
            if (isRoot) fs.fchownSync(out, st.uid, st.gid);
            fs.fchmodSync(out, st.mode & 0o7777);
            fs.futimesSync(out, st.atime, st.mtime);
          } finally {
            fs.closeSync(out);
          }
          extractedById.set(st.id, hostPath);
          result.files++;
          result.bytes += written;
          break;
        }
        case 'symlink':
          fs.symlinkSync(Buffer.from(source.readlink(entry)), hostPath);
          own(hostPath, st.uid, st.gid);
          try {
            fs.lutimesSync(hostPath, st.atime, st.mtime);
          } catch {
            // lutimes is not everywhere; the link itself is what matters
          }
          result.symlinks++;
          break;
        default: {
          const kind = st.mode & S_IFMT;
          const { major, minor } = deviceNumbers(st.rdev);
          if (kind === S_IFSOCK || (kind !== S_IFIFO && kind !== S_IFCHR && kind !== S_IFBLK)) {
            result.skipped.push(`${imagePath}: ${kind === S_IFSOCK ? 'a socket' : `special file of mode ${st.mode.toString(8)}`} (not created)`);
            break;
          }
          if (kind !== S_IFIFO && !isRoot) {
            result.skipped.push(`${imagePath}: ${kind === S_IFCHR ? 'character' : 'block'} device ${major},${minor} (needs root)`);
            break;
          }
          // mknod(1)/mkfifo(1) take text paths: make the node under a plain name, then rename it.
          const plain = nodePath.join(hostDir, `.yaffs2-node-${process.pid}-${scratch++}`);
          const args = kind === S_IFIFO ? ['mkfifo', '-m', '600', plain] : ['mknod', '-m', '600', plain, kind === S_IFCHR ? 'c' : 'b', String(major), String(minor)];
          const made = spawnSync(args[0]!, args.slice(1), { stdio: 'pipe', encoding: 'utf8' });
          if (made.status !== 0) {
            result.skipped.push(`${imagePath}: ${args[0]} failed (${(made.stderr || String(made.error ?? '')).trim().split('\n')[0]})`);
            break;
          }
          fs.renameSync(plain, hostPath);
          own(hostPath, st.uid, st.gid);
          fs.chmodSync(hostPath, st.mode & 0o7777);
          fs.utimesSync(hostPath, st.atime, st.mtime);
          result.specials++;
        }
      }
    }
  };
  visit(null, Buffer.from(hostDir), 0);
  for (const { hostPath, id } of deferredLinks) {
    const first = extractedById.get(id)!;
    fs.linkSync(first, hostPath);
    result.hardlinks++;
  }
  for (const d of dirTimes.reverse()) {
    own(d.hostPath, d.uid, d.gid);
    fs.chmodSync(d.hostPath, d.mode);
    fs.utimesSync(d.hostPath, d.atime, d.mtime);
  }
  return result;
}
