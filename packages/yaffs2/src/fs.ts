/**
 * YAFFS2 on a {@link NandDevice}: the public POSIX-like API (upstream: yaffsfs.c over
 * yaffs_guts.c). The work is done by the modules beside it, each over the shared state
 * ({@link Yaffs2Dev}, upstream's yaffs_dev): block-info (constants, state), allocator, nand-io,
 * gc, objects (headers, paths), namespace (rename, links, special files), create-object
 * (mkyaffs2image's one-header-then-data order), file-data, scan, checkpoint, fs-info (space,
 * block and object figures) and verify. One chunk is one NAND page.
 *
 * Durability contract: a call that returns has programmed its data chunks; object headers
 * (file size, times) of files being written are programmed on close(), fsync(), sync() and
 * unmount(). Directory operations (mkdir, unlink, rename, symlink, link, truncate) program their
 * headers before they return. A rename is one header program, so it is all-or-nothing.
 */
import type { NandDevice } from '@flashdiff/nand';
import { BlockState, setBlockState, OBJECT_ID_LOST_AND_FOUND, OBJECT_ID_ROOT, S_IFDIR, S_IFMT, S_IFREG, Yaffs2Dev } from './block-info.ts';
import type { BlockInfo, DirEntry, HeaderTagsStyle, OpenOptions, Stat, StatFs, Yaffs2Options, Yaffs2Stats, YObject } from './block-info.ts';
import { hasSpaceFor } from './allocator.ts';
import { eccCorrectionsOf, eraseBlockNow } from './nand-io.ts';
import type { EccCorrections } from './nand-io.ts';
import { checkGc } from './gc.ts';
import { addObject, assertMounted, deleteObject, ensureWritable, getObject, newObject, resolve, resolveParent, statOf, target, typeName, unlinkObject, writeHeader } from './objects.ts';
import { readObject, truncateObject, writeObject } from './file-data.ts';
import { scan } from './scan.ts';
import { tryLoadCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { verifyFileSystem } from './verify.ts';
import { createHardLink, createSpecial, createSymlink, renameObject } from './namespace.ts';
import { createObjectInOrder } from './create-object.ts';
import type { CreateObjectSpec } from './create-object.ts';
import { blockInfoOf, fileSystemInfo, statFileSystem } from './fs-info.ts';
import type { FileSystemInfo } from './fs-info.ts';
import { Yaffs2Error } from './errors.ts';
import { decodeName } from './header.ts';
import { isYaffs1Layout, ObjectType } from './tags.ts';
import type { SpareLayout } from './tags.ts';

export {
  BLOCK_STATE_NAMES,
  BlockState,
  DEFAULT_RESERVED_BLOCKS,
  ECC_STRIKES_BEFORE_RETIRE,
  FIRST_USER_OBJECT_ID,
  HIGHEST_SEQUENCE_NUMBER,
  LOWEST_SEQUENCE_NUMBER,
  MAX_WRITE_ATTEMPTS,
  MKYAFFS2_HEADER_BYTE_COUNT,
  OBJECT_ID_DELETED,
  OBJECT_ID_LIMIT,
  OBJECT_ID_LOST_AND_FOUND,
  OBJECT_ID_ROOT,
  OBJECT_ID_UNLINKED,
  PASSIVE_GC_CHUNKS,
  SEQUENCE_CHECKPOINT_DATA,
} from './block-info.ts';
export type { BlockInfo, DirEntry, FileType, HeaderTagsStyle, OpenOptions, Stat, StatFs, Yaffs2Options, Yaffs2Stats } from './block-info.ts';
export { detectLayout } from './scan.ts';
export type { CreateObjectSpec } from './create-object.ts';
export type { FileSystemInfo } from './fs-info.ts';

interface OpenHandle {
  objectId: number;
  write: boolean;
  append: boolean;
}

export class Yaffs2 {
  /** The file system's state (upstream's yaffs_dev); internal to this package's modules. */
  private readonly dev: Yaffs2Dev;
  private readonly handles = new Map<number, OpenHandle>();
  private nextHandle = 3;

  private constructor(device: NandDevice, options: Yaffs2Options) {
    this.dev = new Yaffs2Dev(device, options);
  }

  get device(): NandDevice {
    return this.dev.device;
  }
  get layout(): SpareLayout {
    return this.dev.layout;
  }
  get chunkSize(): number {
    return this.dev.chunkSize;
  }
  get pagesPerBlock(): number {
    return this.dev.pagesPerBlock;
  }
  get blockCount(): number {
    return this.dev.blockCount;
  }
  get readOnly(): boolean {
    return this.dev.readOnly;
  }
  get reservedBlocks(): number {
    return this.dev.reservedBlocks;
  }
  get stats(): Yaffs2Stats {
    return this.dev.stats;
  }
  /** How header tags are written ('linux' or 'mkyaffs2'); may be changed while mounted. */
  get headerTags(): HeaderTagsStyle {
    return this.dev.headerTags;
  }
  set headerTags(style: HeaderTagsStyle) {
    this.dev.headerTags = style;
  }

  // ================================================================== mount / format

  /** Erases every good block and mounts the empty file system. */
  static format(device: NandDevice, options: Yaffs2Options = {}): Yaffs2 {
    if (options.readOnly) throw new Yaffs2Error('EROFS', 'cannot format read-only');
    const fs = new Yaffs2(device, options);
    for (let b = 0; b < fs.dev.blockCount; b++) {
      if (device.isBad(b)) {
        setBlockState(fs.dev, b, BlockState.dead);
        fs.dev.deadEpoch++;
        continue;
      }
      eraseBlockNow(fs.dev, b);
    }
    fs.dev.stats.mountedFrom = 'format';
    return fs;
  }

  /**
   * Mounts: the checkpoint when one is valid, else the backward scan. Throws CORRUPT_IMAGE only
   * for what cannot be a YAFFS2 image; damaged chunks are skipped and counted.
   */
  static mount(device: NandDevice, options: Yaffs2Options = {}): Yaffs2 {
    if (options.layout !== undefined && isYaffs1Layout(options.layout) && !options.readOnly) {
      throw new Yaffs2Error('EROFS', 'YAFFS1 images mount read-only here (an edit rewrites the image whole: editImage, or the CLI)');
    }
    const fs = new Yaffs2(device, options);
    if (fs.dev.useCheckpoint && tryLoadCheckpoint(fs.dev)) {
      fs.dev.stats.mountedFrom = 'checkpoint';
      return fs;
    }
    scan(fs.dev, options.onScanProgress);
    fs.dev.stats.mountedFrom = 'scan';
    if (!fs.dev.readOnly) {
      // Finish renames over hard-linked files that a power cut interrupted (see linkTree).
      for (const { file, link } of fs.dev.pendingPromotions) {
        ensureWritable(fs.dev);
        writeHeader(fs.dev, file, false, link.id);
        deleteObject(fs.dev, link);
      }
    }
    fs.dev.pendingPromotions = [];
    return fs;
  }

  // ================================================================== garbage collection

  /** Runs GC until no more work is due (used by tests and fsck --repair). */
  gc(): void {
    assertMounted(this.dev);
    ensureWritable(this.dev);
    checkGc(this.dev);
  }

  // ================================================================== public operations

  /** Creates a directory. */
  mkdir(path: string, mode = 0o755): void {
    ensureWritable(this.dev);
    checkGc(this.dev);
    const { dir, name } = resolveParent(this.dev, path);
    if (dir.children!.has(name)) throw new Yaffs2Error('EEXIST', `${path}: exists`);
    if (!hasSpaceFor(this.dev, 1)) throw new Yaffs2Error('ENOSPC', `${path}: no space for a header`);
    const o = newObject(this.dev, ObjectType.directory, dir, name, S_IFDIR | (mode & 0o7777));
    addObject(this.dev, o, dir);
  }

  /** Lists a directory (hard links appear under their own names, as the type they point at). */
  readdir(path: string): DirEntry[] {
    assertMounted(this.dev);
    const dir = resolve(this.dev, path, true);
    if (dir.type !== ObjectType.directory) throw new Yaffs2Error('ENOTDIR', `${path}: not a directory`);
    const out: DirEntry[] = [];
    for (const [name, id] of dir.children!) {
      const o = this.dev.objects.get(id);
      if (!o) continue;
      if (id === OBJECT_ID_LOST_AND_FOUND && o.children!.size === 0) continue; // shown only when it holds something
      const t = o.type === ObjectType.hardlink ? this.dev.objects.get(o.equivId) : o;
      out.push({ name, nameBytes: o.name.slice(), id, type: typeName(t ? t.type : o.type) });
    }
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return out;
  }

  /** Opens (or creates) a file; returns a handle for read/write/close. */
  open(path: string, options: OpenOptions = {}): number {
    assertMounted(this.dev);
    const wantsWrite = options.write ?? (options.create || options.truncate || options.append || false);
    let o: YObject;
    try {
      o = target(this.dev, resolve(this.dev, path, true));
      if (options.create && options.exclusive) throw new Yaffs2Error('EEXIST', `${path}: exists`);
    } catch (e) {
      if (!(e instanceof Yaffs2Error) || e.code !== 'ENOENT' || !options.create) throw e;
      ensureWritable(this.dev);
      checkGc(this.dev);
      const { dir, name } = resolveParent(this.dev, path);
      if (dir.children!.has(name)) throw e;
      if (!hasSpaceFor(this.dev, 1)) throw new Yaffs2Error('ENOSPC', `${path}: no space for a header`);
      o = newObject(this.dev, ObjectType.file, dir, name, S_IFREG | ((options.mode ?? 0o644) & 0o7777));
      addObject(this.dev, o, dir);
    }
    if (o.type === ObjectType.directory) {
      if (wantsWrite) throw new Yaffs2Error('EISDIR', `${path}: is a directory`);
    } else if (o.type !== ObjectType.file) {
      throw new Yaffs2Error('EINVAL', `${path}: not a regular file`);
    }
    if (wantsWrite) ensureWritable(this.dev);
    if (options.truncate && o.size > 0) truncateObject(this.dev, o, 0);
    const handle = this.nextHandle++;
    this.handles.set(handle, { objectId: o.id, write: wantsWrite, append: options.append ?? false });
    return handle;
  }

  private handle(fd: number): { h: OpenHandle; o: YObject } {
    assertMounted(this.dev);
    const h = this.handles.get(fd);
    if (!h) throw new Yaffs2Error('EBADF', `handle ${fd} is not open`);
    const o = this.dev.objects.get(h.objectId);
    if (!o) throw new Yaffs2Error('EBADF', `handle ${fd}: its file was deleted`);
    return { h, o };
  }

  /** Reads up to `length` bytes at `position`; returns the bytes read (short at end of file): a new array, or the start of `into` when given. */
  read(fd: number, position: number, length: number, into?: Uint8Array): Uint8Array {
    const { o } = this.handle(fd);
    if (o.type === ObjectType.directory) throw new Yaffs2Error('EISDIR', 'read of a directory');
    return readObject(this.dev, o, position, length, into);
  }

  /** Writes `data` at `position` (holes read as zeros). Returns bytes written. */
  write(fd: number, data: Uint8Array, position?: number): number {
    const { h, o } = this.handle(fd);
    if (!h.write) throw new Yaffs2Error('EBADF', `handle ${fd} is read-only`);
    const pos = h.append ? o.size : (position ?? o.size);
    writeObject(this.dev, o, pos, data);
    return data.length;
  }

  /** Programs the file's header (size, times) if it changed. */
  fsync(fd: number): void {
    const { o } = this.handle(fd);
    if (o.headerDirty && !this.dev.readOnly) {
      ensureWritable(this.dev);
      writeHeader(this.dev, o, false, 0);
    }
  }

  close(fd: number): void {
    const h = this.handles.get(fd);
    if (!h) throw new Yaffs2Error('EBADF', `handle ${fd} is not open`);
    const o = this.dev.objects.get(h.objectId);
    if (o && o.headerDirty && h.write && !this.dev.readOnly) {
      ensureWritable(this.dev);
      writeHeader(this.dev, o, false, 0);
    }
    this.handles.delete(fd);
  }

  /** Whole-file helpers. */
  readFile(path: string): Uint8Array {
    assertMounted(this.dev);
    const o = target(this.dev, resolve(this.dev, path, true));
    if (o.type === ObjectType.directory) throw new Yaffs2Error('EISDIR', `${path}: is a directory`);
    if (o.type !== ObjectType.file) throw new Yaffs2Error('EINVAL', `${path}: not a regular file`);
    return readObject(this.dev, o, 0, o.size);
  }

  writeFile(path: string, data: Uint8Array, mode = 0o644): void {
    const fd = this.open(path, { create: true, truncate: true, mode });
    try {
      this.write(fd, data, 0);
    } finally {
      this.close(fd);
    }
  }

  /** Sets a file's size: shrinking writes a shrink header; growing leaves a hole. */
  truncate(path: string, size: number): void {
    ensureWritable(this.dev);
    checkGc(this.dev);
    const o = target(this.dev, resolve(this.dev, path, true));
    if (o.type === ObjectType.directory) throw new Yaffs2Error('EISDIR', `${path}: is a directory`);
    if (o.type !== ObjectType.file) throw new Yaffs2Error('EINVAL', `${path}: not a regular file`);
    if (!(size >= 0) || !Number.isSafeInteger(size)) throw new Yaffs2Error('EINVAL', `bad size ${size}`);
    truncateObject(this.dev, o, size);
  }

  /** Removes a file, symlink or hard link. */
  unlink(path: string): void {
    ensureWritable(this.dev);
    checkGc(this.dev);
    const o = resolve(this.dev, path, false);
    if (o.type === ObjectType.directory) throw new Yaffs2Error('EISDIR', `${path}: is a directory (use rmdir)`);
    unlinkObject(this.dev, o);
  }

  rmdir(path: string): void {
    ensureWritable(this.dev);
    checkGc(this.dev);
    const o = resolve(this.dev, path, false);
    if (o.type !== ObjectType.directory) throw new Yaffs2Error('ENOTDIR', `${path}: not a directory`);
    if (o.fake) throw new Yaffs2Error('EPERM', `${path}: cannot remove ${o.id === OBJECT_ID_ROOT ? 'the root' : 'lost+found'}`);
    if (o.children!.size > 0) throw new Yaffs2Error('ENOTEMPTY', `${path}: directory not empty`);
    getObject(this.dev, o.parentId).children!.delete(o.nameString);
    deleteObject(this.dev, o);
  }

  /**
   * Renames atomically: one header program moves the object; a replaced target is named in
   * that header's shadows field, so a scan after a cut drops it even before its tombstone.
   */
  rename(from: string, to: string): void {
    renameObject(this.dev, from, to);
  }

  symlink(target: string, path: string): void {
    createSymlink(this.dev, target, path);
  }

  /** A symbolic link's target as stored (raw bytes). */
  readlinkBytes(path: string): Uint8Array {
    this.readlink(path);
    return resolve(this.dev, path, false).alias.slice();
  }

  readlink(path: string): string {
    assertMounted(this.dev);
    const o = resolve(this.dev, path, false);
    if (o.type !== ObjectType.symlink) throw new Yaffs2Error('EINVAL', `${path}: not a symbolic link`);
    return decodeName(o.alias);
  }

  /** Hard link: `newPath` becomes another name of the file at `existing`. */
  link(existing: string, newPath: string): void {
    createHardLink(this.dev, existing, newPath);
  }

  /**
   * Creates an object in mkyaffs2image order: its one header (with the final size and the
   * given attributes) first, then data chunks 1…n. Used by `import`, whose images must hold
   * exactly one header per object for unyaffs.
   */
  createObject(path: string, spec: CreateObjectSpec): number {
    return createObjectInOrder(this.dev, path, spec);
  }

  /** Creates a special file (device node, FIFO, socket) as mkyaffs2image does. */
  mknod(path: string, mode: number, rdev = 0): void {
    createSpecial(this.dev, path, mode, rdev);
  }

  /** Sets mode bits, owner and times of an object (one header program). */
  setAttributes(
    path: string,
    attrs: { mode?: number; uid?: number; gid?: number; atime?: number; mtime?: number; ctime?: number },
  ): void {
    ensureWritable(this.dev);
    const o = target(this.dev, resolve(this.dev, path, false));
    if (attrs.mode !== undefined) o.mode = (o.mode & S_IFMT) | (attrs.mode & 0o7777);
    if (attrs.uid !== undefined) o.uid = attrs.uid >>> 0;
    if (attrs.gid !== undefined) o.gid = attrs.gid >>> 0;
    if (attrs.atime !== undefined) o.atime = attrs.atime >>> 0;
    if (attrs.mtime !== undefined) o.mtime = attrs.mtime >>> 0;
    if (attrs.ctime !== undefined) o.ctime = attrs.ctime >>> 0;
    if (o.fake) return; // root and lost+found are never written (mkyaffs2image does not write them)
    writeHeader(this.dev, o, false, 0);
  }

  stat(path: string): Stat {
    assertMounted(this.dev);
    return statOf(target(this.dev, resolve(this.dev, path, true)));
  }

  lstat(path: string): Stat {
    assertMounted(this.dev);
    const o = resolve(this.dev, path, false);
    return statOf(o.type === ObjectType.hardlink ? target(this.dev, o) : o);
  }

  statfs(): StatFs {
    return statFileSystem(this.dev);
  }

  /** Block states, erase counts and object counts, for `yaffs2 info`. */
  info(): FileSystemInfo {
    return fileSystemInfo(this.dev);
  }

  /**
   * One block's allocation facts (upstream's yaffs_block_info): state name, sequence number,
   * chunks written since its erase, chunks still live, and its erase count. "dirty" is not a
   * state of its own: a full block with live < written holds stale chunks that GC can reclaim.
   */
  blockInfo(block: number): BlockInfo {
    return blockInfoOf(this.dev, block);
  }

  /** Programs every pending header, then the checkpoint, then syncs the device. */
  sync(): void {
    assertMounted(this.dev);
    if (this.dev.readOnly) return;
    for (const o of this.dev.objects.values()) {
      if (o.headerDirty && !o.fake) {
        ensureWritable(this.dev);
        writeHeader(this.dev, o, false, 0);
      }
    }
    if (this.dev.useCheckpoint && !this.dev.checkpointValid) writeCheckpoint(this.dev);
    this.dev.device.sync();
  }

  /** Syncs (writing the checkpoint) and detaches from the device; the device stays open. */
  unmount(): void {
    if (!this.dev.mounted) return;
    this.sync();
    this.handles.clear();
    this.dev.mounted = false;
  }

  get isMounted(): boolean {
    return this.dev.mounted;
  }

  /**
   * What the mount could not read or had to change, one line each: unreadable or inconsistent
   * tags and headers, chunks skipped, objects dropped or moved to lost+found. Empty when the
   * image read cleanly (and after a checkpoint mount, which reads no chunks).
   */
  get mountProblems(): readonly string[] {
    return this.dev.scanProblems;
  }

  /**
   * What the data and tag ECC corrected in the chunks read since the mount (its scan included),
   * each chunk once: corrected errors are no misreads, but a reader is told of them.
   */
  get eccCorrections(): EccCorrections {
    return eccCorrectionsOf(this.dev.dataEccCorrectedPages, this.dev.tagEccCorrectedPages, this.dev.pagesPerBlock);
  }

  /** Puts a problem found outside the file system (by whoever opened the device) first in {@link mountProblems}. */
  noteMountProblem(line: string): void {
    this.dev.scanProblems.unshift(line);
  }

  // ================================================================== consistency check

  /**
   * Checks the in-memory structures against the flash: every live chunk's tags name its owner,
   * block live counts add up, the tree is connected. Returns a list of problems (empty: clean).
   */
  check(): string[] {
    return verifyFileSystem(this.dev);
  }
}
