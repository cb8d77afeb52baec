/**
 * Writes one object whole in mkyaffs2image's order — its single header (final size and
 * attributes) first, then data chunks 1…n — for `import` and the whole-image edits (upstream:
 * utils/mkyaffs2image.c's write_object_header and write_chunk per file, over yaffs_guts.c's
 * object creation). The Yaffs2 class (fs.ts) calls this as createObject.
 */
import { S_IFDIR, S_IFLNK, S_IFREG } from './block-info.ts';
import type { Yaffs2Dev, YObject } from './block-info.ts';
import { hasSpaceFor } from './allocator.ts';
import { writeNewChunk } from './nand-io.ts';
import { checkGc } from './gc.ts';
import { addObject, ensureWritable, newObject, resolve, resolveParent, target } from './objects.ts';
import { setChunk } from './file-data.ts';
import { Yaffs2Error } from './errors.ts';
import { encodeName, MAX_ALIAS_BYTES } from './header.ts';
import { ObjectType } from './tags.ts';

/** What {@link createObjectInOrder} writes. */
export interface CreateObjectSpec {
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'special';
  mode?: number;
  uid?: number;
  gid?: number;
  atime?: number;
  mtime?: number;
  ctime?: number;
  rdev?: number;
  content?: Uint8Array;
  /**
   * The contents, read a chunk at a time instead of `content` (files larger than memory):
   * `read` fills `into` from `position` and returns the bytes it put there.
   */
  source?: { size: number; read(position: number, into: Uint8Array): number };
  target?: string;
  linkTo?: string;
}

/**
 * Creates an object in mkyaffs2image order: its one header (with the final size and the
 * given attributes) first, then data chunks 1…n. Used by `import`, whose images must hold
 * exactly one header per object for unyaffs.
 */
export function createObjectInOrder(dev: Yaffs2Dev, path: string, spec: CreateObjectSpec): number {
  ensureWritable(dev);
  checkGc(dev);
  const { dir, name } = resolveParent(dev, path);
  if (dir.children!.has(name)) throw new Yaffs2Error('EEXIST', `${path}: exists`);
  const typeCode = {
    file: ObjectType.file,
    directory: ObjectType.directory,
    symlink: ObjectType.symlink,
    hardlink: ObjectType.hardlink,
    special: ObjectType.special,
  }[spec.type];
  const defaultMode = { file: S_IFREG | 0o644, directory: S_IFDIR | 0o755, symlink: S_IFLNK | 0o777, hardlink: 0, special: 0 }[spec.type];
  const content = spec.content ?? new Uint8Array(0);
  const source = spec.source ?? {
    size: content.length,
    read: (position: number, into: Uint8Array): number => {
      const n = Math.min(into.length, content.length - position);
      into.set(content.subarray(position, position + n));
      return n;
    },
  };
  const chunksNeeded = 1 + Math.ceil(source.size / dev.chunkSize);
  if (!hasSpaceFor(dev, chunksNeeded)) throw new Yaffs2Error('ENOSPC', `${path}: needs ${chunksNeeded} chunks`);
  const o = newObject(dev, typeCode, dir, name, spec.mode ?? defaultMode);
  if (spec.uid !== undefined) o.uid = spec.uid >>> 0;
  if (spec.gid !== undefined) o.gid = spec.gid >>> 0;
  if (spec.atime !== undefined) o.atime = spec.atime >>> 0;
  if (spec.mtime !== undefined) o.mtime = spec.mtime >>> 0;
  if (spec.ctime !== undefined) o.ctime = spec.ctime >>> 0;
  if (spec.rdev !== undefined) o.rdev = spec.rdev >>> 0;
  let linkTarget: YObject | null = null;
  if (spec.type === 'symlink') {
    o.alias = encodeName(spec.target ?? '');
    if (o.alias.length > MAX_ALIAS_BYTES) throw new Yaffs2Error('ENAMETOOLONG', `${path}: symlink target over ${MAX_ALIAS_BYTES} bytes`);
  } else if (spec.type === 'hardlink') {
    linkTarget = target(dev, resolve(dev, spec.linkTo ?? '', false));
    if (linkTarget.type !== ObjectType.file) throw new Yaffs2Error('EPERM', `${path}: only regular files can be hard-linked`);
    o.equivId = linkTarget.id;
  } else if (spec.type === 'file') {
    o.size = source.size;
  }
  addObject(dev, o, dir);
  linkTarget?.links!.add(o.id);
  if (spec.type === 'file' && source.size > 0) {
    const cs = dev.chunkSize;
    const buf = new Uint8Array(cs);
    for (let k = 1, at = 0; at < source.size; k++, at += cs) {
      const want = Math.min(cs, source.size - at);
      const n = source.read(at, buf.subarray(0, want));
      if (n !== want) throw new Yaffs2Error('EIO', `${path}: the contents ended at ${at + n} of ${source.size} bytes (changed while being read?)`);
      if (n < cs) buf.fill(0xff, n);
      const page = writeNewChunk(dev, buf, o.id, k, n, null, false);
      setChunk(dev, o, k, page);
    }
  }
  return o.id;
}
