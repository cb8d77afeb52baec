/**
 * YAFFS2 view routes. Each open image is a session: a private copy of the image file in the
 * server's temporary directory, mounted with @flashdiff/yaffs2 (createImage / openImage), on
 * which the page lists, reads, writes and deletes through the package's file-system calls.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { sidecarPath } from '@flashdiff/nand';
import { join } from 'node:path';
import { createImage, isYaffs2Error, openImage, SPARE_LAYOUT_NAMES } from '@flashdiff/yaffs2';
import type { OpenedImage, SpareLayoutName } from '@flashdiff/yaffs2';
import type { YaffsEntry, YaffsImageInfo } from '../shared/protocol.ts';
import { yaffsBlocks } from './adapters/yaffs2.ts';
import { DashboardError } from './errors.ts';
import { field, readJson, sendBytes, sendJson } from './http-util.ts';
import type { Router } from './router.ts';
import type { DashboardState } from './server.ts';

/** Most images open at once (each holds a file descriptor and its tables). */
const MAX_SESSIONS = 16;
const MAX_BLOCKS = 1 << 16;

interface YaffsSession {
  readonly id: string;
  readonly name: string;
  readonly path: string;
  /** Replaced when a failed write is rolled back (the image is re-mounted from the copy). */
  image: OpenedImage;
}

/** Maps the file system's errno-like codes onto HTTP statuses the page can explain. */
function yaffsError(e: unknown): unknown {
  if (!isYaffs2Error(e)) return e;
  switch (e.code) {
    case 'ENOENT':
      return new DashboardError('NOT_FOUND', e.message, { cause: e });
    case 'EEXIST':
    case 'ENOTEMPTY':
      return new DashboardError('CONFLICT', e.message, { cause: e });
    case 'ENOSPC':
      return new DashboardError('NO_SPACE', `${e.message} (the image is unchanged)`, { cause: e });
    case 'EINVAL':
    case 'ENAMETOOLONG':
    case 'EISDIR':
    case 'ENOTDIR':
    case 'EPERM':
      return new DashboardError('BAD_REQUEST', e.message, { cause: e });
    default:
      return new DashboardError('OPERATION_FAILED', e.message, { cause: e });
  }
}

function run<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw yaffsError(e);
  }
}

/**
 * Runs a write so that a failure (ENOSPC inside the image, an I/O error) leaves the image as it
 * was: the synced image file (and its sidecar, if any) is copied first; on failure the image is
 * closed, the copy put back and mounted again. A write through the file system may already have
 * programmed pages and truncated the old file before it ran out of space, so undoing it in the
 * file system is not enough.
 */
function padWithErased(path: string, size: number): void {
  const have = statSync(path).size;
  if (have >= size) return;
  const fd = openSync(path, 'r+');
  try {
    const erased = Buffer.alloc(Math.min(1 << 20, size - have), 0xff);
    for (let at = have; at < size; at += erased.length) writeSync(fd, erased, 0, Math.min(erased.length, size - at), at);
  } finally {
    closeSync(fd);
  }
}

export function writeAtomically<T>(session: YaffsSession, f: () => T): T {
  run(() => session.image.fs.sync());
  const backup = `${session.path}.before-write`;
  const sidecar = sidecarPath(session.path);
  const hasSidecar = existsSync(sidecar);
  copyFileSync(session.path, backup);
  if (hasSidecar) copyFileSync(sidecar, `${backup}.sidecar`);
  try {
    const result = run(f);
    rmSync(backup, { force: true });
    rmSync(`${backup}.sidecar`, { force: true });
    return result;
  } catch (e) {
    const g = session.image.device.geometry;
    try {
      session.image.close();
    } catch {
      // the copy replaces whatever closing wrote
    }
    renameSync(backup, session.path);
    if (hasSidecar) renameSync(`${backup}.sidecar`, sidecar);
    else rmSync(sidecar, { force: true });
    // The file holds the blocks written so far; openImage sizes the device by the file, so the
    // rest is added as erased bytes (as the download pads it) before mounting again.
    padWithErased(session.path, g.channels * g.diesPerChannel * g.blocksPerDie * g.pagesPerBlock * (g.pageSize + g.spareSize));
    session.image = run(() => openImage(session.path));
    throw e;
  }
}

export class YaffsSessions {
  private readonly sessions = new Map<string, YaffsSession>();

  add(name: string, path: string, image: OpenedImage): YaffsSession {
    if (this.sessions.size >= MAX_SESSIONS) {
      // Close the oldest: the page only ever shows one image at a time.
      const oldest = this.sessions.keys().next().value as string;
      this.close(oldest);
    }
    const session: YaffsSession = { id: randomUUID(), name, path, image };
    this.sessions.set(session.id, session);
    return session;
  }

  get(id: string): YaffsSession {
    const session = this.sessions.get(id);
    if (!session) throw new DashboardError('NOT_FOUND', `no open image '${id}' (open or create it again)`);
    return session;
  }

  close(id: string): void {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    try {
      session.image.close();
    } catch {
      // closing a broken image must not stop the others from closing
    }
    rmSync(session.path, { force: true });
  }

  closeAll(): void {
    for (const id of [...this.sessions.keys()]) this.close(id);
  }
}

/** Bytes read from the host file per write into the image (rounded down to whole chunks). */
const WRITE_WINDOW_BYTES = 1 << 20;

/**
 * Copies a host file into the image as `path` (created or truncated), a window of whole chunks at
 * a time: never held whole in memory, and no chunk programmed twice (a window that ended inside
 * a chunk would make the next write rewrite it).
 */
function writeFromHostFile(fs: OpenedImage['fs'], path: string, hostPath: string, size: number): void {
  const window = Math.max(1, Math.floor(WRITE_WINDOW_BYTES / fs.chunkSize)) * fs.chunkSize;
  const buffer = Buffer.alloc(Math.max(1, Math.min(window, size)));
  const host = openSync(hostPath, 'r');
  try {
    const fd = fs.open(path, { create: true, truncate: true, mode: 0o644 });
    try {
      for (let at = 0; at < size; ) {
        const n = readSync(host, buffer, 0, Math.min(buffer.length, size - at), at);
        if (n === 0) throw new DashboardError('OPERATION_FAILED', `${path}: the upload ended at byte ${at} of ${size}`);
        fs.write(fd, buffer.subarray(0, n), at);
        at += n;
      }
    } finally {
      fs.close(fd);
    }
  } finally {
    closeSync(host);
  }
}

function describe(session: YaffsSession): YaffsImageInfo {
  const fs = session.image.fs;
  const statfs = run(() => fs.statfs());
  const info = run(() => fs.info());
  return {
    id: session.id,
    name: session.name,
    layout: session.image.layout,
    blocks: fs.blockCount,
    pagesPerBlock: fs.pagesPerBlock,
    pageSize: fs.chunkSize,
    freeBytes: statfs.freeBytes,
    totalBytes: statfs.totalBytes,
    objects: info.objects,
  };
}

/** Normalises a path from the page: absolute, no empty or dot segments. */
function imagePath(raw: string | null, what = 'path'): string {
  if (raw === null || raw === '') throw new DashboardError('BAD_REQUEST', `${what}: missing`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new DashboardError('BAD_REQUEST', `${what}: '..' is not allowed`);
  return `/${parts.join('/')}`;
}

function list(session: YaffsSession, dir: string): YaffsEntry[] {
  const fs = session.image.fs;
  const entries = run(() => fs.readdir(dir));
  return entries
    .map((entry) => {
      const path = dir === '/' ? `/${entry.name}` : `${dir}/${entry.name}`;
      const stat = run(() => fs.lstat(path));
      const target = stat.type === 'symlink' ? run(() => fs.readlink(path)) : undefined;
      return { name: entry.name, path, type: stat.type, size: stat.size, objectId: entry.id, ...(target !== undefined ? { target } : {}) };
    })
    .sort((a, b) => (a.type === 'directory') === (b.type === 'directory') ? a.name.localeCompare(b.name) : a.type === 'directory' ? -1 : 1);
}

/**
 * The spare layouts a new image may take: the view creates 2 KiB-page YAFFS2 images, and YAFFS1's
 * layouts (512-byte pages) would only fail inside createImage.
 */
const NEW_IMAGE_LAYOUTS: readonly SpareLayoutName[] = SPARE_LAYOUT_NAMES.filter((name) => !name.startsWith('yaffs1'));

export function registerYaffsRoutes(router: Router<DashboardState>): void {
  // Create an empty image.
  router.add('POST', '/api/yaffs2/images', async ({ req, res, state }) => {
    const body = await readJson(req);
    const blocks = field.integer(body, 'blocks', 64, 4, MAX_BLOCKS);
    const layout = field.oneOf<SpareLayoutName>(body, 'layout', NEW_IMAGE_LAYOUTS, 'mkyaffs2');
    const path = join(state.uploads.directory, `yaffs-${randomUUID()}.img`);
    const image = run(() => createImage(path, { blocks, layout }));
    const session = state.yaffs.add(`new-${blocks}-blocks.yaffs2`, path, image);
    sendJson(res, 201, describe(session));
  });
  // Open an uploaded image (a copy of it: the upload stays as it was).
  router.add('POST', '/api/yaffs2/images/open', async ({ req, res, state }) => {
    const body = await readJson(req);
    const upload = state.uploads.get(field.string(body, 'upload'));
    const path = join(state.uploads.directory, `yaffs-${randomUUID()}.img`);
    copyFileSync(upload.path, path);
    let image: OpenedImage;
    try {
      image = run(() => openImage(path));
    } catch (e) {
      rmSync(path, { force: true });
      throw e;
    }
    sendJson(res, 201, describe(state.yaffs.add(upload.name, path, image)));
  });
  router.add('GET', '/api/yaffs2/images/:id', ({ res, params, state }) => sendJson(res, 200, describe(state.yaffs.get(params.id!))));
  router.add('DELETE', '/api/yaffs2/images/:id', ({ res, params, state }) => {
    state.yaffs.close(params.id!);
    sendJson(res, 200, { closed: params.id });
  });
  router.add('GET', '/api/yaffs2/images/:id/list', ({ res, url, params, state }) => {
    sendJson(res, 200, list(state.yaffs.get(params.id!), imagePath(url.searchParams.get('path') ?? '/')));
  });
  router.add('GET', '/api/yaffs2/images/:id/blocks', ({ res, params, state }) => {
    const session = state.yaffs.get(params.id!);
    sendJson(res, 200, yaffsBlocks(session.image.fs));
  });
  router.add('GET', '/api/yaffs2/images/:id/file', ({ res, url, params, state }) => {
    const session = state.yaffs.get(params.id!);
    const path = imagePath(url.searchParams.get('path'));
    const bytes = run(() => session.image.fs.readFile(path));
    sendBytes(res, bytes, 'application/octet-stream', path.split('/').pop() || 'file');
  });
  router.add('PUT', '/api/yaffs2/images/:id/file', async ({ req, res, url, params, state }) => {
    const session = state.yaffs.get(params.id!);
    const path = imagePath(url.searchParams.get('path'));
    // The body streams to a file on disk first (never whole in memory; a stalled or too large
    // body, or a full server disk, leaves the image untouched), then goes into the image in
    // windows; one that does not fit (ENOSPC) leaves the image exactly as it was.
    const upload = await state.uploads.receive(req, res, path.split('/').pop() || 'file');
    try {
      writeAtomically(session, () => writeFromHostFile(session.image.fs, path, upload.path, upload.size));
    } finally {
      state.uploads.delete(upload.id);
    }
    sendJson(res, 201, { path, size: upload.size });
  });
  router.add('DELETE', '/api/yaffs2/images/:id/file', ({ res, url, params, state }) => {
    const fs = state.yaffs.get(params.id!).image.fs;
    const path = imagePath(url.searchParams.get('path'));
    if (path === '/') throw new DashboardError('BAD_REQUEST', 'path: the root cannot be deleted');
    const stat = run(() => fs.lstat(path));
    run(() => (stat.type === 'directory' ? fs.rmdir(path) : fs.unlink(path)));
    sendJson(res, 200, { deleted: path });
  });
  router.add('POST', '/api/yaffs2/images/:id/mkdir', async ({ req, res, params, state }) => {
    const fs = state.yaffs.get(params.id!).image.fs;
    const path = imagePath(field.string(await readJson(req, res), 'path'));
    run(() => fs.mkdir(path));
    sendJson(res, 201, { path });
  });
  // The image file itself, synced first (headers and checkpoint written) and padded with erased
  // bytes to its full size, as mkyaffs2image pads its last block.
  router.add('GET', '/api/yaffs2/images/:id/download', ({ res, params, state }) => {
    const session = state.yaffs.get(params.id!);
    run(() => session.image.fs.sync());
    const g = session.image.device.geometry;
    const full = g.channels * g.diesPerChannel * g.blocksPerDie * g.pagesPerBlock * (g.pageSize + g.spareSize);
    const stored = readFileSync(session.path);
    const bytes = new Uint8Array(Math.max(full, stored.length)).fill(0xff);
    bytes.set(stored);
    sendBytes(res, bytes, 'application/octet-stream', session.name.endsWith('.yaffs2') || session.name.endsWith('.img') ? session.name : `${session.name}.yaffs2`);
  });
}
