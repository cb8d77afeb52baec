/**
 * Operations that make or move names in the directory tree: rename, hard and symbolic links,
 * special files (upstream: yaffs_guts.c's yaffs_rename_obj / yaffs_change_obj_name,
 * yaffs_link_obj, yaffs_create_symlink, yaffs_create_special; yaffsfs.c's yaffs_rename,
 * yaffs_link, yaffs_symlink, yaffs_mknod). The Yaffs2 class (fs.ts) calls these.
 */
import { OBJECT_ID_ROOT, S_IFLNK } from './block-info.ts';
import type { Yaffs2Dev, YObject } from './block-info.ts';
import { checkGc } from './gc.ts';
import { addObject, deleteObject, ensureWritable, firstLink, getObject, newObject, promoteToLink, resolve, resolveParent, target, writeHeader } from './objects.ts';
import { Yaffs2Error } from './errors.ts';
import { encodeName, MAX_ALIAS_BYTES } from './header.ts';
import { ObjectType } from './tags.ts';

/**
 * Renames atomically: one header program moves the object; a replaced target is named in
 * that header's shadows field, so a scan after a cut drops it even before its tombstone.
 */
export function renameObject(dev: Yaffs2Dev, from: string, to: string): void {
  ensureWritable(dev);
  checkGc(dev);
  const o = resolve(dev, from, false);
  if (o.fake) throw new Yaffs2Error('EPERM', `${from}: cannot rename`);
  const { dir, name } = resolveParent(dev, to);
  // Moving a directory into its own subtree would detach it.
  if (o.type === ObjectType.directory) {
    let cur: YObject | undefined = dir;
    for (let guard = 0; cur && guard <= dev.objects.size; guard++) {
      if (cur.id === o.id) throw new Yaffs2Error('EINVAL', `${to}: inside ${from}`);
      if (cur.id === OBJECT_ID_ROOT) break;
      cur = dev.objects.get(cur.parentId);
    }
  }
  const existingId = dir.children!.get(name);
  let victim: YObject | null = null;
  let linkedTarget: YObject | null = null;
  if (existingId !== undefined) {
    if (existingId === o.id) return;
    victim = getObject(dev, existingId);
    // Two names of one file: rename does nothing (POSIX).
    if (resolveLinks(victim) === resolveLinks(o)) return;
    if (victim.type === ObjectType.directory) {
      if (o.type !== ObjectType.directory) throw new Yaffs2Error('EISDIR', `${to}: is a directory`);
      if (victim.children!.size > 0) throw new Yaffs2Error('ENOTEMPTY', `${to}: directory not empty`);
    } else if (o.type === ObjectType.directory) {
      throw new Yaffs2Error('ENOTDIR', `${to}: not a directory`);
    }
    if (victim.type === ObjectType.file && victim.links && victim.links.size > 0) {
      // The target file lives on under its hard links: it cannot be shadowed (that deletes it).
      linkedTarget = victim;
      victim = null;
    }
  }
  const oldDir = getObject(dev, o.parentId);
  oldDir.children!.delete(o.nameString);
  if (victim) dir.children!.delete(victim.nameString);
  o.parentId = dir.id;
  o.name = encodeName(name);
  o.nameString = name;
  o.ctime = dev.now();
  // The commit point: one header program. A replaced target without hard links is named in
  // its shadows field; a hard-linked one keeps an older header with the same name, and the
  // scan gives the name to the newer header and the older file one of its links' names.
  writeHeader(dev, o, false, victim ? victim.id : 0);
  dir.children!.set(name, o.id);
  if (linkedTarget) promoteToLink(dev, linkedTarget, firstLink(dev, linkedTarget));
  if (victim) {
    if (victim.type === ObjectType.hardlink) dev.objects.get(victim.equivId)?.links?.delete(victim.id);
    deleteObject(dev, victim);
  }
}

/** The file a hard link stands for, or the object itself. */
function resolveLinks(o: YObject): number {
  return o.type === ObjectType.hardlink ? o.equivId : o.id;
}

export function createSymlink(dev: Yaffs2Dev, target: string, path: string): void {
  ensureWritable(dev);
  checkGc(dev);
  const alias = encodeName(target);
  if (alias.length > MAX_ALIAS_BYTES) throw new Yaffs2Error('ENAMETOOLONG', `symlink target over ${MAX_ALIAS_BYTES} bytes`);
  const { dir, name } = resolveParent(dev, path);
  if (dir.children!.has(name)) throw new Yaffs2Error('EEXIST', `${path}: exists`);
  const o = newObject(dev, ObjectType.symlink, dir, name, S_IFLNK | 0o777);
  o.alias = alias;
  addObject(dev, o, dir);
}

/** Hard link: `newPath` becomes another name of the file at `existing`. */
export function createHardLink(dev: Yaffs2Dev, existing: string, newPath: string): void {
  ensureWritable(dev);
  checkGc(dev);
  const t = target(dev, resolve(dev, existing, false));
  if (t.type !== ObjectType.file) throw new Yaffs2Error('EPERM', `${existing}: only regular files can be hard-linked`);
  const { dir, name } = resolveParent(dev, newPath);
  if (dir.children!.has(name)) throw new Yaffs2Error('EEXIST', `${newPath}: exists`);
  const o = newObject(dev, ObjectType.hardlink, dir, name, 0);
  o.equivId = t.id;
  addObject(dev, o, dir);
  t.links!.add(o.id);
}

/** Creates a special file (device node, FIFO, socket) as mkyaffs2image does. */
export function createSpecial(dev: Yaffs2Dev, path: string, mode: number, rdev: number): void {
  ensureWritable(dev);
  const { dir, name } = resolveParent(dev, path);
  if (dir.children!.has(name)) throw new Yaffs2Error('EEXIST', `${path}: exists`);
  const o = newObject(dev, ObjectType.special, dir, name, mode);
  o.rdev = rdev;
  addObject(dev, o, dir);
}
