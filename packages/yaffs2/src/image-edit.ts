/**
 * Whole-image edits (`put`, `rm`, `mkdir`, `grow`, `fsck --repair`): the image's tree, with the
 * edit applied, is written into a new image in mkyaffs2image's order — one header per object
 * (chunk id 0, byte count 0xFFFF), a file's data right after its header, no checkpoint, no
 * stale chunks — in a temporary file beside the image, which is then renamed over it. So an
 * edit is all-or-nothing for the user (a failure, ENOSPC or a kill leaves the old image), and
 * the result is an image every reader takes: Debian's unyaffs (which reads only that order),
 * yaffs2utils and yaffshiv (which would otherwise resurrect files from stale headers), Linux.
 *
 * Upstream counterpart: mkyaffs2image's tree walk (utils/mkyaffs2image.c process_directory);
 * no upstream tool edits an image in place.
 */
import * as fs from 'node:fs';
import { releaseTemporaryPath, temporaryPathFor } from '@flashdiff/cli-kit';
import { sidecarPath } from '@flashdiff/nand';
import { DEFAULT_RESERVED_BLOCKS, OBJECT_ID_LOST_AND_FOUND, S_IFDIR, S_IFREG } from './block-info.ts';
import { Yaffs2Error, isYaffs2Error } from './errors.ts';
import type { Yaffs2 } from './fs.ts';
import { createImage, openImage } from './image.ts';
import type { OpenedImage } from './image.ts';
import type { DataEccOrder, SpareLayoutName } from './tags.ts';
import type { ImageFormat } from './detect.ts';
import type { EccCorrections } from './nand-io.ts';

/** One change to an image's tree. Paths are absolute image paths. */
export type TreeEdit =
  | { kind: 'put'; path: string; content: Uint8Array; mode?: number }
  | { kind: 'rm'; path: string }
  | { kind: 'mkdir'; path: string; mode?: number };

export interface EditImageOptions extends Partial<Omit<ImageFormat, 'layout'>> {
  /** Spare layout of the existing image (default: detected); the new image keeps it, and the rest of its format. */
  layout?: SpareLayoutName;
  /** Erase blocks of the new image (default: as many as the old one); never fewer. */
  blocks?: number;
  /** Clock for new objects' times, seconds since the epoch. */
  now?: () => number;
}

export interface EditImageResult {
  blocks: number;
  objects: number;
  freeBytes: number;
  /** What the old image's mount could not read (the new image holds what could be). */
  sourceProblems: readonly string[];
  /** What the ECC corrected in the chunks read from the old image (its mount and the contents copied), each chunk once. */
  sourceEccCorrections: EccCorrections;
}

type CreateSpec = Parameters<Yaffs2['createObject']>[1];

interface Planned {
  path: string;
  /** The file object this entry is (files) or points at (hard links), in the old image; −1: new. */
  fileId: number;
  hardLink: boolean;
  spec: CreateSpec;
  /** File size in bytes (0 for other types). */
  size: number;
  /** File contents, read when the entry is written. */
  content?: () => Uint8Array;
}

function normalise(path: string): string {
  const parts = path.split('/').filter((p) => p.length > 0 && p !== '.');
  if (parts.includes('..')) throw new Yaffs2Error('EINVAL', `${path}: ".." is not allowed in an edit path`);
  return '/' + parts.join('/');
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function join(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Type of `path` in `yfs` without following a last symlink, or null when it does not exist. */
function typeAt(yfs: Yaffs2, path: string): string | null {
  try {
    return yfs.lstat(path).type;
  } catch (e) {
    if (isYaffs2Error(e, 'ENOENT')) return null;
    throw e;
  }
}

/** Data chunks plus one header chunk per object: what the new image must hold. */
function chunksNeeded(plan: Planned[], chunkSize: number): number {
  let chunks = 0;
  for (const p of plan) chunks += 1 + Math.ceil(p.size / chunkSize);
  return chunks;
}

/** Reserved blocks of an image of `blocks` blocks (Yaffs2Options.reservedBlocks' default). */
function defaultReserve(blocks: number): number {
  return Math.max(1, Math.min(DEFAULT_RESERVED_BLOCKS, Math.floor(blocks / 4)));
}

/** The fewest blocks that hold `contentBlocks` of chunks beside their own reserve (+ 1: the allocator keeps a chunk spare). */
export function blocksToHold(contentBlocks: number): number {
  let n = contentBlocks + 2;
  while (contentBlocks + defaultReserve(n) + 1 > n) n++;
  return n;
}

/**
 * Applies `edits` to the image at `imagePath` by rewriting it whole (see the file comment).
 * Errors (ENOENT, EEXIST, ENOTEMPTY, EISDIR, ENOSPC with the block count that would fit …) are
 * thrown before the image is touched; the old image stays as it was.
 */
export function editImage(imagePath: string, edits: TreeEdit[], options: EditImageOptions = {}): EditImageResult {
  const now = options.now ?? ((): number => Math.floor(Date.now() / 1000));
  const source = openImage(imagePath, {
    readOnly: true,
    layout: options.layout,
    pageSize: options.pageSize,
    spareSize: options.spareSize,
    pagesPerBlock: options.pagesPerBlock,
    bigEndian: options.bigEndian,
    tagEcc: options.tagEcc,
    inbandTags: options.inbandTags,
    dataEcc: options.dataEcc,
    littleEndianParity: options.littleEndianParity,
  });
  let sourceClosed = false;
  const closeSource = (): void => {
    if (!sourceClosed) source.close();
    sourceClosed = true;
  };
  try {
    const plan = planEdits(source, edits, now);
    const geometry = source.device.geometry;
    const blocks = options.blocks ?? source.fs.blockCount;
    if (!Number.isInteger(blocks) || blocks < source.fs.blockCount) {
      throw new Yaffs2Error('EINVAL', `${imagePath}: --blocks ${String(options.blocks)} is fewer than the image's ${source.fs.blockCount} blocks (images only grow)`);
    }
    const chunks = chunksNeeded(plan, source.fs.chunkSize);
    const blocksNeeded = blocksToHold(Math.ceil(chunks / geometry.pagesPerBlock));
    if (blocksNeeded > blocks) {
      throw new Yaffs2Error(
        'ENOSPC',
        `${imagePath}: the edited tree needs about ${blocksNeeded} blocks, the image has ${blocks}; grow it (yaffs2 grow ${imagePath} --blocks ${blocksNeeded}, or --blocks ${blocksNeeded} on this command)`,
      );
    }
    const layout = source.layout;
    const temporary = temporaryPathFor(imagePath);
    let result: EditImageResult;
    try {
      const { bigEndian, tagEcc, inbandTags, dataEcc, littleEndianParity } = source.format;
      result = { ...writePlan(temporary, plan, { geometry, blocks, layout, bigEndian, tagEcc, inbandTags, dataEcc, littleEndianParity, imagePath, blocksNeeded }), sourceProblems: [...source.fs.mountProblems], sourceEccCorrections: source.fs.eccCorrections };
      closeSource();
      fs.rmSync(sidecarPath(temporary), { force: true });
      fs.renameSync(temporary, imagePath);
      releaseTemporaryPath(temporary);
      // Erase counts of the old image no longer describe this one.
      fs.rmSync(sidecarPath(imagePath), { force: true });
    } catch (e) {
      fs.rmSync(temporary, { force: true });
      fs.rmSync(sidecarPath(temporary), { force: true });
      releaseTemporaryPath(temporary);
      throw e;
    }
    return result;
  } finally {
    closeSource();
  }
}

/** The new tree: the old one in walk order (directories before their contents) with the edits applied. */
function planEdits(source: OpenedImage, edits: TreeEdit[], now: () => number): Planned[] {
  const yfs = source.fs;
  const removed = new Set<string>();
  const replaced = new Map<number, { content: Uint8Array }>();
  const added: Planned[] = [];
  const addedDirs = new Set<string>();
  for (const edit of edits) {
    const path = normalise(edit.path);
    const parent = parentOf(path);
    const exists = (p: string): string | null => (addedDirs.has(p) ? 'directory' : removed.has(p) ? null : typeAt(yfs, p));
    if (edit.kind === 'rm') {
      if (path === '/') throw new Yaffs2Error('EPERM', '/: cannot remove the root');
      const type = exists(path);
      if (type === null) throw new Yaffs2Error('ENOENT', `${path}: no such file or directory`);
      if (yfs.lstat(path).id === OBJECT_ID_LOST_AND_FOUND) throw new Yaffs2Error('EPERM', `${path}: cannot remove lost+found`);
      if (type === 'directory' && yfs.readdir(path).some((e) => !removed.has(join(path, e.name)))) {
        throw new Yaffs2Error('ENOTEMPTY', `${path}: directory not empty`);
      }
      removed.add(path);
      continue;
    }
    const parentType = exists(parent);
    if (parentType === null) throw new Yaffs2Error('ENOENT', `${parent}: no such directory`);
    if (parentType !== 'directory') throw new Yaffs2Error('ENOTDIR', `${parent}: not a directory`);
    const type = path === '/' ? 'directory' : exists(path);
    const time = now();
    if (edit.kind === 'mkdir') {
      if (type !== null) throw new Yaffs2Error('EEXIST', `${path}: exists`);
      added.push({ path, fileId: -1, hardLink: false, size: 0, spec: { type: 'directory', mode: S_IFDIR | ((edit.mode ?? 0o755) & 0o7777), atime: time, mtime: time, ctime: time } });
      addedDirs.add(path);
      continue;
    }
    // put: a new file, or new contents for an existing one (every hard link to it sees them).
    if (type === 'directory') throw new Yaffs2Error('EISDIR', `${path}: is a directory`);
    if (type !== null && type !== 'file') throw new Yaffs2Error('EINVAL', `${path}: not a regular file`);
    const content = edit.content;
    if (type === 'file' && !added.some((a) => a.path === path)) {
      replaced.set(yfs.lstat(path).id, { content });
    } else {
      const spec: CreateSpec = { type: 'file', mode: S_IFREG | ((edit.mode ?? 0o644) & 0o7777), atime: time, mtime: time, ctime: time };
      const existing = added.findIndex((a) => a.path === path);
      const entry: Planned = { path, fileId: -1, hardLink: false, size: content.length, spec, content: () => content };
      if (existing >= 0) added[existing] = entry;
      else added.push(entry);
    }
  }
  const plan: Planned[] = [];
  const visit = (dir: string, depth: number): void => {
    if (depth > 1024) throw new Yaffs2Error('CORRUPT_IMAGE', `${dir}: directory tree deeper than 1024`);
    for (const entry of yfs.readdir(dir)) {
      const path = join(dir, entry.name);
      if (removed.has(path)) continue;
      if (entry.id === OBJECT_ID_LOST_AND_FOUND) {
        visit(path, depth + 1); // the new image has its own lost+found; only its contents move
        continue;
      }
      const st = yfs.lstat(path);
      const attrs = { mode: st.mode, uid: st.uid, gid: st.gid, atime: st.atime, mtime: st.mtime, ctime: st.ctime };
      const hardLink = st.id !== entry.id;
      switch (st.type) {
        case 'directory':
          plan.push({ path, fileId: st.id, hardLink: false, size: 0, spec: { type: 'directory', ...attrs } });
          visit(path, depth + 1);
          break;
        case 'file': {
          const override = replaced.get(st.id);
          const time = now();
          const fileAttrs = override ? { ...attrs, mtime: time, ctime: time } : attrs;
          plan.push({
            path,
            fileId: st.id,
            hardLink,
            size: override ? override.content.length : st.size,
            spec: { type: 'file', ...fileAttrs },
            content: override ? () => override.content : () => yfs.readFile(path),
          });
          break;
        }
        case 'symlink':
          plan.push({ path, fileId: st.id, hardLink: false, size: 0, spec: { type: 'symlink', ...attrs, target: yfs.readlink(path) } });
          break;
        default:
          plan.push({ path, fileId: st.id, hardLink: false, size: 0, spec: { type: 'special', ...attrs, rdev: st.rdev } });
      }
    }
  };
  visit('/', 0);
  // One object per file: the first name seen (not a removed one) holds the data, later names
  // become hard links to it; an edit's new entries come last (their parents exist by then).
  const primary = new Set<number>();
  const ordered: Planned[] = [];
  const links: Planned[] = [];
  for (const p of plan) {
    if (p.spec.type === 'file' && p.fileId >= 0) {
      if (primary.has(p.fileId)) {
        links.push({ ...p, hardLink: true, size: 0, spec: { type: 'hardlink' }, content: undefined });
        continue;
      }
      primary.add(p.fileId);
      ordered.push({ ...p, hardLink: false });
      continue;
    }
    ordered.push(p);
  }
  return [...ordered, ...added, ...links];
}

function writePlan(
  temporary: string,
  plan: Planned[],
  target: {
    geometry: OpenedImage['device']['geometry'];
    blocks: number;
    layout: SpareLayoutName;
    bigEndian: boolean;
    tagEcc: boolean;
    inbandTags: boolean;
    dataEcc: DataEccOrder;
    littleEndianParity: boolean;
    imagePath: string;
    blocksNeeded: number;
  },
): Omit<EditImageResult, 'sourceProblems' | 'sourceEccCorrections'> {
  const image = createImage(temporary, {
    blocks: target.blocks,
    geometry: target.geometry,
    layout: target.layout,
    bigEndian: target.bigEndian,
    tagEcc: target.tagEcc,
    inbandTags: target.inbandTags,
    dataEcc: target.dataEcc,
    littleEndianParity: target.littleEndianParity,
    checkpoint: false,
    headerTags: 'mkyaffs2',
    verifyWrites: false,
    writeBehind: true,
  });
  try {
    const pathOfFile = new Map<number, string>();
    for (const p of plan) {
      if (p.spec.type === 'hardlink') {
        image.fs.createObject(p.path, { type: 'hardlink', linkTo: pathOfFile.get(p.fileId)! });
        continue;
      }
      image.fs.createObject(p.path, p.content ? { ...p.spec, content: p.content() } : p.spec);
      if (p.spec.type === 'file' && p.fileId >= 0) pathOfFile.set(p.fileId, p.path);
    }
    const freeBytes = image.fs.statfs().freeBytes;
    image.close();
    return { blocks: target.blocks, objects: plan.length, freeBytes };
  } catch (e) {
    image.close();
    if (isYaffs2Error(e, 'ENOSPC')) {
      throw new Yaffs2Error('ENOSPC', `${target.imagePath}: the edited tree does not fit in ${target.blocks} blocks; grow it (--blocks ${target.blocksNeeded + 1})`);
    }
    throw e;
  }
}
