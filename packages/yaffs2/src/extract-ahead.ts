/**
 * The single pass of `yaffs2 extract` (stream-extract.ts): directories and files are made, and
 * file contents written, while the image is read front to back, as each header and data chunk
 * is met — so the image is read once and no file's chunks are read back for the walk. What is
 * written here is a guess (the object table, built once the whole image is read, decides what
 * the tree is: newest header wins, shrinks, deletions, renames), checked against the table
 * before the walk (`settle`) and corrected where it differs:
 * - a directory or file is made when its header is met and its parent was made here: at the
 *   path that header gives, mode 0700/0600 as extract.ts makes them (modes, owners and times are
 *   the walk's, at the end);
 * - each data chunk is written (its first min(byte count, chunk size) bytes, one write per run
 *   of consecutive chunks of one file in a read's window) the first time its (object, chunk id) is met;
 *   a second chunk of the same id (an overwrite: which one is newer is the table's to say) marks
 *   the file to be rewritten from the table;
 * - `settle`: a directory that is not the table's at that path (renamed, deleted, not a
 *   directory) discards everything made here, and the walk makes the tree as without this pass;
 *   a file not the table's at that path, or with hard links (the walk decides which name holds
 *   the contents), is removed and left to the walk; a file whose chunks are not exactly the
 *   table's (each kept chunk the same page, no other chunk inside its size) is truncated and
 *   rewritten from the table; the rest get the table's zeros (holes, chunks shorter than a
 *   chunk) and size, so every file's bytes are what the walk alone would write.
 * Images where headers come before their data and nothing is overwritten (mkyaffs2image's,
 * `import`'s) are written whole here. Upstream counterpart: Debian's unyaffs, which writes each
 * file as it meets its header and chunks in one read of the image (and trusts that order).
 */
import * as fs from 'node:fs';
import { ensureDirectory } from '@flashdiff/cli-kit';
import { OBJECT_ID_LOST_AND_FOUND, OBJECT_ID_ROOT, growChunkMap } from './block-info.ts';
import type { ObjectHeader } from './header.ts';
import { CREATE_NEW, childPath, safeName } from './extract.ts';
import { ObjectType } from './tags.ts';

/** Chunk ids up to this are written ahead (as stream-extract.ts keeps them); a larger one marks its file for a rewrite. */
const MAX_CHUNK_ID = 1 << 21;

/** Files held open at once (each is written, then its mode and times set through the fd by the walk); later ones are left to the walk. */
const MAX_OPEN_FILES = 512;

interface MadeObject {
  id: number;
  type: number;
  parentId: number;
  name: Uint8Array;
  hostPath: Buffer;
}

interface MadeFile extends MadeObject {
  fd: number;
  /** Page of chunk k at [k − 1] as written here, −1 for none. */
  pages: Int32Array;
  /** End of the bytes written (the file's length on the host). */
  end: number;
  /** Chunks recorded in `pages`, and the highest chunk id among them. */
  chunks: number;
  maxChunk: number;
  /** The chunk id of the one chunk written shorter than a chunk (0: none; −1: more than one). */
  shortChunk: number;
  /** Chunks met twice, or a write failed: rewritten from the table in settle. */
  dirty: boolean;
}

/** What settle needs of the table's object for an id. */
export interface SettledObject {
  type: number;
  parentId: number;
  name: Uint8Array;
  size: number;
  nlink: number;
  pages: Int32Array;
  byteCounts: Int32Array;
}

/** What settle did (tests and benches look at it). */
export interface SettleSummary {
  /** Directories made ahead and kept. */
  directories: number;
  /** Files kept as written ahead. */
  written: number;
  /** Files truncated and rewritten from the table. */
  rewritten: number;
  /** Files removed (not the table's at that path, or hard-linked): the walk made them. */
  removed: number;
  /** Everything made ahead was removed (a directory was not the table's). */
  discarded: boolean;
}

/**
 * The table's pages of a file's first `chunks` chunks (`expected`, −1 or absent: none) are the
 * ones written (`written`, likewise): the common prefix compared as bytes (memcmp), the rest one
 * by one.
 */
function samePages(expected: Int32Array, written: Int32Array, chunks: number): boolean {
  const common = Math.min(chunks, expected.length, written.length);
  if (common > 0) {
    const a = Buffer.from(expected.buffer, expected.byteOffset, common * 4);
    const b = Buffer.from(written.buffer, written.byteOffset, common * 4);
    if (!a.equals(b)) return false;
  }
  for (let k = common; k < chunks; k++) {
    if ((k < expected.length ? expected[k]! : -1) !== (k < written.length ? written[k]! : -1)) return false;
  }
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class ExtractAhead {
  private readonly dirs = new Map<number, MadeObject>();
  private readonly files = new Map<number, MadeFile>();
  /** Top-level objects made here (what a discard removes). */
  private readonly topLevel: Buffer[] = [];
  private readonly rootPath: Buffer;
  /** Nothing more is made (a header moved an object made here, or a create failed); settle decides. */
  private stopped = false;
  private chunkSize = 0;
  private lastFile: MadeFile | null = null;
  // The pending run: consecutive chunks of one file, side by side in one buffer (the read's
  // data window), written at runStart.
  private runFile: MadeFile | null = null;
  private runStart = 0;
  private runEnd = 0;
  private runData: Uint8Array | null = null;
  private runDataAt = 0;
  private zeros: Uint8Array | null = null;

  private constructor(
    hostDir: string,
    /** The first directory mkdir made for hostDir (removed when the image is handed back), or null when it existed. */
    private readonly createdDir: string | null,
  ) {
    this.rootPath = Buffer.from(hostDir);
  }

  /**
   * Starts a pass into `hostDir` when it is missing (made here) or an empty directory; null
   * otherwise (the walk then says why, as before).
   */
  static begin(hostDir: string): ExtractAhead | null {
    try {
      if (fs.existsSync(hostDir)) {
        if (!fs.statSync(hostDir).isDirectory() || fs.readdirSync(hostDir).length > 0) return null;
        return new ExtractAhead(hostDir, null);
      }
      const created = ensureDirectory(hostDir);
      return new ExtractAhead(hostDir, created ?? hostDir);
    } catch {
      return null;
    }
  }

  /** The image's chunk (data) size, once the format is known. */
  start(chunkSize: number): void {
    this.chunkSize = chunkSize;
  }

  /** An object header met in the read (`h` decoded from its page; its tags not yet checked). */
  header(id: number, h: ObjectHeader): void {
    if (this.stopped || id === OBJECT_ID_ROOT || id === OBJECT_ID_LOST_AND_FOUND) return;
    const made = this.dirs.get(id) ?? this.files.get(id);
    if (made !== undefined) {
      // Another header of an object made here: a rename, move, deletion or type change makes
      // what is on the host a wrong guess; stop here and let settle sort it out.
      if (made.parentId !== h.parentId || made.type !== h.type || !sameBytes(made.name, h.name)) this.stopped = true;
      return;
    }
    if (h.type !== ObjectType.directory && h.type !== ObjectType.file) return; // the walk makes the rest
    const parentPath = h.parentId === OBJECT_ID_ROOT ? this.rootPath : this.dirs.get(h.parentId)?.hostPath;
    if (parentPath === undefined || !safeName(h.name)) return;
    if (h.type === ObjectType.file && this.files.size >= MAX_OPEN_FILES) return;
    const hostPath = childPath(parentPath, h.name);
    const object: MadeObject = { id, type: h.type, parentId: h.parentId, name: h.name, hostPath };
    try {
      if (h.type === ObjectType.directory) {
        fs.mkdirSync(hostPath, { mode: 0o700 });
        this.dirs.set(id, object);
      } else {
        const fd = fs.openSync(hostPath, CREATE_NEW, 0o600);
        this.files.set(id, { ...object, fd, pages: new Int32Array(0), end: 0, chunks: 0, maxChunk: 0, shortChunk: 0, dirty: false });
      }
    } catch {
      this.stopped = true; // a name taken twice, or the host refuses: the walk meets it too
      return;
    }
    if (h.parentId === OBJECT_ID_ROOT) this.topLevel.push(hostPath);
  }

  /**
   * A data chunk met in the read: chunk `chunkId` of object `id`, its data at `data[at …]`
   * (`data` is reused once {@link flush} has run), `byteCount` bytes of it valid.
   */
  chunk(id: number, chunkId: number, byteCount: number, data: Uint8Array, at: number, page: number): void {
    let f = this.lastFile;
    if (f === null || f.id !== id) {
      f = this.files.get(id) ?? null;
      if (f === null) return;
      this.lastFile = f;
    }
    if (f.dirty) return;
    if (chunkId > MAX_CHUNK_ID) {
      f.dirty = true;
      return;
    }
    if (chunkId > f.pages.length) {
      f.pages = growChunkMap(f.pages, chunkId, 16);
    } else if (f.pages[chunkId - 1]! >= 0) {
      f.dirty = true; // met twice: which is newer is the table's to say
      return;
    }
    f.pages[chunkId - 1] = page;
    f.chunks++;
    if (chunkId > f.maxChunk) f.maxChunk = chunkId;
    const cs = this.chunkSize;
    const valid = Math.min(byteCount, cs);
    if (valid < cs) f.shortChunk = f.shortChunk === 0 ? chunkId : -1;
    if (valid === 0) return;
    const position = (chunkId - 1) * cs;
    if (this.runFile !== f || position !== this.runEnd || data !== this.runData || at !== this.runDataAt + (this.runEnd - this.runStart)) {
      this.flush();
      this.runFile = f;
      this.runStart = position;
      this.runEnd = position;
      this.runData = data;
      this.runDataAt = at;
    }
    this.runEnd += valid;
  }

  /** Writes the pending run (before the buffer its chunks lie in is reused). */
  flush(): void {
    const f = this.runFile;
    if (f === null) return;
    const length = this.runEnd - this.runStart;
    try {
      for (let done = 0; done < length; ) done += fs.writeSync(f.fd, this.runData!, this.runDataAt + done, length - done, this.runStart + done);
      if (this.runEnd > f.end) f.end = this.runEnd;
    } catch {
      f.dirty = true; // rewritten in settle, which meets the same failure and reports it
    }
    this.runFile = null;
    this.runData = null;
  }

  /**
   * Checks what was made against the table (`lookup`: the table's object of an id, undefined
   * when it has none) and corrects it (see the file comment); `rewrite` writes a file's
   * contents from the table into an fd (from offset 0). Afterwards {@link madeDirectory} and
   * {@link takeFile} tell the walk what is already on the host.
   */
  settle(lookup: (id: number) => SettledObject | undefined, rewrite: (id: number, fd: number) => number): SettleSummary {
    this.flush();
    const summary: SettleSummary = { directories: this.dirs.size, written: 0, rewritten: 0, removed: 0, discarded: false };
    for (const d of this.dirs.values()) {
      const o = lookup(d.id);
      if (o === undefined || o.type !== ObjectType.directory || o.parentId !== d.parentId || !sameBytes(o.name, d.name)) {
        this.discard();
        return { directories: 0, written: 0, rewritten: 0, removed: 0, discarded: true };
      }
    }
    const cs = this.chunkSize;
    for (const f of this.files.values()) {
      const o = lookup(f.id);
      if (o === undefined || o.type !== ObjectType.file || o.parentId !== f.parentId || !sameBytes(o.name, f.name) || o.nlink > 1) {
        this.files.delete(f.id);
        fs.closeSync(f.fd);
        fs.unlinkSync(f.hostPath);
        summary.removed++;
        continue;
      }
      const chunks = Math.ceil(o.size / cs);
      if (f.dirty || !samePages(o.pages, f.pages, chunks)) {
        fs.ftruncateSync(f.fd, 0);
        f.end = rewrite(f.id, f.fd);
        summary.rewritten++;
        continue;
      }
      // The table's zeros, written as the walk writes them (holes, and past a chunk's byte
      // count), then its size (past it goes what the last chunk held beyond). Every chunk is
      // looked at only when there are holes or short chunks other than the last.
      const whole = f.chunks === chunks && f.maxChunk === chunks && (f.shortChunk === 0 || f.shortChunk === chunks);
      for (let k = whole ? Math.max(0, chunks - 1) : 0, at = k * cs; at < o.size; k++, at += cs) {
        const n = Math.min(cs, o.size - at);
        const valid = k < o.pages.length && o.pages[k]! >= 0 ? Math.min(o.byteCounts[k]! >>> 0, n) : 0;
        if (valid < n) {
          this.zeros ??= new Uint8Array(cs);
          const gap = n - valid;
          for (let done = 0; done < gap; ) done += fs.writeSync(f.fd, this.zeros, 0, gap - done, at + valid + done);
          if (at + n > f.end) f.end = at + n;
        }
      }
      if (f.end > o.size) {
        fs.ftruncateSync(f.fd, o.size);
        f.end = o.size;
      }
      summary.written++;
    }
    return summary;
  }

  /** After settle: the directory of this id is made at its path. */
  madeDirectory(id: number): boolean {
    return this.dirs.has(id);
  }

  /** After settle: the file of this id is written at its path; its open fd (now the caller's to close) and length. */
  takeFile(id: number): { fd: number; bytes: number } | null {
    const f = this.files.get(id);
    if (f === undefined) return null;
    this.files.delete(id);
    return { fd: f.fd, bytes: f.end };
  }

  /** Removes everything made here (the walk then makes the tree as without this pass). */
  discard(): void {
    this.closeAll();
    for (const p of this.topLevel) fs.rmSync(p, { recursive: true, force: true });
    this.topLevel.length = 0;
    this.dirs.clear();
    this.stopped = true;
  }

  /** The image is handed back to the general path: nothing of this pass may remain, hostDir included when it was made here. */
  abandon(): void {
    this.discard();
    if (this.createdDir !== null) fs.rmSync(this.createdDir, { recursive: true, force: true });
  }

  /** Closes the files the walk did not take (after an error). */
  closeAll(): void {
    this.runFile = null;
    this.runData = null;
    for (const f of this.files.values()) {
      try {
        fs.closeSync(f.fd);
      } catch {
        // already closed by a failed settle step: nothing to release
      }
    }
    this.files.clear();
    this.lastFile = null;
  }
}
