/**
 * Objects, headers and paths (upstream: yaffs_guts.c yaffs_update_oh, yaffs_find_by_name,
 * yaffs_unlink_obj, yaffs_generic_obj_del, object id allocation): header programs, path
 * resolution, object creation and deletion.
 */
import { Yaffs2Error } from './errors.ts';
import { decodeName, encodeHeader, encodeName, MAX_NAME_BYTES } from './header.ts';
import { ObjectType } from './tags.ts';
import type { ExtraHeaderInfo } from './tags.ts';
import { blockOf, BlockState, FIRST_USER_OBJECT_ID, freshObject, MAX_SYMLINK_DEPTH, MKYAFFS2_HEADER_BYTE_COUNT, OBJECT_ID_DELETED, OBJECT_ID_LIMIT, OBJECT_ID_ROOT } from './block-info.ts';
import type { FileType, Stat, Yaffs2Dev, YObject } from './block-info.ts';
import { deleteChunk, eraseBlockNow, writeNewChunk } from './nand-io.ts';
import { pruneChunks } from './file-data.ts';

export function typeName(type: number): FileType {
  switch (type) {
    case ObjectType.file:
      return 'file';
    case ObjectType.directory:
      return 'directory';
    case ObjectType.symlink:
      return 'symlink';
    default:
      return 'special';
  }
}

export function extraFor(dev: Yaffs2Dev, o: YObject, isShrink: boolean, shadows: number): ExtraHeaderInfo | null {
  if (dev.headerTags !== 'linux') return null;
  if (o.type === ObjectType.file && o.size >= 0x80000000) return null;
  return {
    parentId: o.parentId,
    objectType: o.type,
    isShrink,
    shadows: shadows > 0,
    fileSizeOrEquiv: o.type === ObjectType.file ? o.size : o.type === ObjectType.hardlink ? o.equivId : 0,
  };
}

/** yaffs_update_oh: programs a new header for `o` and deletes the previous one. */
export function writeHeader(dev: Yaffs2Dev, o: YObject, isShrink: boolean, shadows: number): void {
  const chunk = new Uint8Array(dev.chunkSize);
  encodeHeader(
    {
      type: o.type,
      parentId: o.parentId,
      name: o.name,
      mode: o.mode,
      uid: o.uid,
      gid: o.gid,
      atime: o.atime,
      mtime: o.mtime,
      ctime: o.ctime,
      fileSize: o.size,
      equivId: o.equivId,
      alias: o.alias,
      rdev: o.rdev,
      shadows,
      isShrink,
    },
    chunk,
    dev.layout.bigEndian,
    dev.layout.inbandTags,
  );
  const extra = extraFor(dev, o, isShrink, shadows);
  const page = writeNewChunk(dev, chunk, o.id, 0, extra ? 0 : MKYAFFS2_HEADER_BYTE_COUNT, extra, true);
  if (isShrink || shadows > 0) dev.blockProtected[blockOf(dev, page)] = 1;
  const old = o.headerPage;
  o.headerPage = page;
  o.headerDirty = false;
  deleteChunk(dev, old);
}

export function assertMounted(dev: Yaffs2Dev): void {
  if (!dev.mounted) throw new Yaffs2Error('UNMOUNTED', 'the file system is unmounted');
}

/** Before the first change after a checkpoint: erase it (any write invalidates it). */
export function ensureWritable(dev: Yaffs2Dev): void {
  assertMounted(dev);
  if (dev.readOnly) throw new Yaffs2Error('EROFS', 'mounted read-only');
  dev.checkpointValid = false;
  // Every write comes here: skip the walk over the blocks when none holds a checkpoint.
  if (!dev.checkpointBlocksPresent) return;
  dev.checkpointBlocksPresent = false;
  let invalidated = false;
  for (let b = 0; b < dev.blockCount; b++) {
    if (dev.blockState[b] === BlockState.checkpoint) {
      eraseBlockNow(dev, b);
      invalidated = true;
    }
  }
  if (invalidated) dev.stats.checkpointsInvalidated++;
}

export function splitPath(path: string): string[] {
  if (typeof path !== 'string' || path.length === 0) throw new Yaffs2Error('EINVAL', `bad path ${JSON.stringify(path)}`);
  if (path.includes('\0')) throw new Yaffs2Error('EINVAL', 'path contains a NUL byte');
  return path.split('/').filter((p) => p.length > 0 && p !== '.');
}

export function getObject(dev: Yaffs2Dev, id: number): YObject {
  const o = dev.objects.get(id);
  if (!o) throw new Yaffs2Error('ENOENT', `object ${id} does not exist`);
  return o;
}

export function resolve(dev: Yaffs2Dev, path: string, followLast: boolean, depth = 0, startDir = OBJECT_ID_ROOT): YObject {
  if (depth > MAX_SYMLINK_DEPTH) throw new Yaffs2Error('ELOOP', `too many symbolic links resolving ${path}`);
  const parts = splitPath(path);
  let cur = path.startsWith('/') ? getObject(dev, OBJECT_ID_ROOT) : getObject(dev, startDir);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (cur.type !== ObjectType.directory) throw new Yaffs2Error('ENOTDIR', `${path}: not a directory`);
    if (part === '..') {
      cur = getObject(dev, cur.parentId > 0 ? cur.parentId : OBJECT_ID_ROOT);
      continue;
    }
    const childId = lookupChild(cur, part);
    if (childId === undefined) throw new Yaffs2Error('ENOENT', `${path}: no such file or directory`);
    let child = getObject(dev, childId);
    const last = i === parts.length - 1;
    if (child.type === ObjectType.symlink && (!last || followLast)) {
      child = resolve(dev, decodeName(child.alias), true, depth + 1, cur.id);
    }
    cur = child;
  }
  return cur;
}

export function lookupChild(dir: YObject, name: string): number | undefined {
  const id = dir.children!.get(name);
  if (id !== undefined) return id;
  return undefined;
}

/** Resolves the parent directory of `path` and validates the last name. */
export function resolveParent(dev: Yaffs2Dev, path: string): { dir: YObject; name: string } {
  const parts = splitPath(path);
  if (parts.length === 0) throw new Yaffs2Error('EEXIST', `${path}: is the root directory`);
  const name = parts[parts.length - 1]!;
  if (name === '..') throw new Yaffs2Error('EINVAL', `${path}: bad name`);
  const parentPath = (path.startsWith('/') ? '/' : '') + parts.slice(0, -1).join('/');
  const dir = parentPath === '' ? getObject(dev, OBJECT_ID_ROOT) : resolve(dev, parentPath, true);
  if (dir.type !== ObjectType.directory) throw new Yaffs2Error('ENOTDIR', `${path}: parent is not a directory`);
  if (encodeName(name).length > MAX_NAME_BYTES) throw new Yaffs2Error('ENAMETOOLONG', `${path}: name over ${MAX_NAME_BYTES} bytes`);
  return { dir, name };
}

/** The object a hard link stands for (or the object itself). */
export function target(dev: Yaffs2Dev, o: YObject): YObject {
  if (o.type === ObjectType.hardlink) {
    const t = dev.objects.get(o.equivId);
    if (!t) throw new Yaffs2Error('ENOENT', `hard link ${o.id} points at missing object ${o.equivId}`);
    return t;
  }
  return o;
}

export function allocateObjectId(dev: Yaffs2Dev): number {
  for (let i = 0; i < OBJECT_ID_LIMIT; i++) {
    const id = dev.nextObjectId;
    dev.nextObjectId = dev.nextObjectId + 1 >= OBJECT_ID_LIMIT ? FIRST_USER_OBJECT_ID : dev.nextObjectId + 1;
    if (!dev.objects.has(id)) return id;
  }
  throw new Yaffs2Error('ENOSPC', 'no free object id');
}

export function newObject(dev: Yaffs2Dev, type: number, dir: YObject, name: string, mode: number): YObject {
  return freshObject(allocateObjectId(dev), type, dir.id, name, mode, dev.now());
}

export function addObject(dev: Yaffs2Dev, o: YObject, dir: YObject): void {
  writeHeader(dev, o, false, 0);
  dev.objects.set(o.id, o);
  dir.children!.set(o.nameString, o.id);
}

export function unlinkObject(dev: Yaffs2Dev, o: YObject): void {
  const dir = getObject(dev, o.parentId);
  if (o.type === ObjectType.hardlink) {
    const t = dev.objects.get(o.equivId);
    t?.links?.delete(o.id);
    dir.children!.delete(o.nameString);
    deleteObject(dev, o);
    return;
  }
  if (o.type === ObjectType.file && o.links && o.links.size > 0) {
    if (dir.children!.get(o.nameString) === o.id) dir.children!.delete(o.nameString);
    promoteToLink(dev, o, firstLink(dev, o));
    return;
  }
  dir.children!.delete(o.nameString);
  deleteObject(dev, o);
}

/** The hard link a file with links takes the place of (its oldest-added one). */
export function firstLink(dev: Yaffs2Dev, o: YObject): YObject {
  return getObject(dev, o.links!.values().next().value as number);
}

/**
 * yaffs_unlink_file with hard links: the file `o`, which has lost its own name, takes the name
 * of one of its hard links `link`, in one header program that shadows (replaces) the link
 * object; then the link's tombstone. A cut between the two leaves the shadow to delete the link.
 */
export function promoteToLink(dev: Yaffs2Dev, o: YObject, link: YObject): void {
  const linkDir = getObject(dev, link.parentId);
  o.links!.delete(link.id);
  o.parentId = link.parentId;
  o.name = link.name;
  o.nameString = link.nameString;
  writeHeader(dev, o, false, link.id);
  linkDir.children!.set(o.nameString, o.id);
  deleteObject(dev, link);
}

/**
 * Deletes an object: a tombstone header (parent "deleted", shrink flag, size 0) is programmed
 * first, then its chunks are let go; the tombstone's block is protected from early erase.
 */
export function deleteObject(dev: Yaffs2Dev, o: YObject): void {
  o.parentId = OBJECT_ID_DELETED;
  o.name = encodeName('deleted');
  o.nameString = 'deleted';
  o.size = 0;
  writeHeader(dev, o, true, 0);
  pruneChunks(dev, o, 0);
  deleteChunk(dev, o.headerPage);
  o.headerPage = -1;
  dev.objects.delete(o.id);
}

export function statOf(o: YObject): Stat {
  return {
    id: o.id,
    type: typeName(o.type),
    mode: o.mode,
    uid: o.uid,
    gid: o.gid,
    size: o.type === ObjectType.file ? o.size : o.type === ObjectType.symlink ? o.alias.length : 0,
    atime: o.atime,
    mtime: o.mtime,
    ctime: o.ctime,
    rdev: o.rdev,
    nlink: o.type === ObjectType.file ? 1 + (o.links?.size ?? 0) : 1,
  };
}
