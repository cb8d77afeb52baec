/**
 * Uploaded files: streamed to a private temporary directory (never held whole in memory), at
 * most MAX_UPLOADS at once and MAX_BODY_BYTES each, kept until the page deletes them, the page
 * session that made them ends, or the server closes. A failed upload (too large, stalled,
 * ENOSPC) leaves nothing behind.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DashboardError } from './errors.ts';
import { receiveBody } from './http-util.ts';

/** Uploads kept at once; the page holds a trace, an image or a file at a time. */
export const MAX_UPLOADS = 32;

export interface Upload {
  readonly id: string;
  /** The name the user's file had (for messages only; never used as a path). */
  readonly name: string;
  /** Where the bytes are on the server. */
  readonly path: string;
  readonly size: number;
  /** The page session that uploaded it (deleted with it), if the page said. */
  readonly session: string | undefined;
}

export class UploadStore {
  readonly directory = mkdtempSync(join(tmpdir(), 'flashdiff-dashboard-'));
  private readonly uploads = new Map<string, Upload>();

  /** Streams a request body into a new upload. */
  async receive(req: IncomingMessage, res: ServerResponse | undefined, name: string, session?: string): Promise<Upload> {
    if (this.uploads.size >= MAX_UPLOADS) {
      throw new DashboardError('TOO_LARGE', `${MAX_UPLOADS} uploads are kept already: close an image or reload the page to free them`);
    }
    const id = randomUUID();
    // The stored name is ours; the user's name is kept only as a label.
    const path = join(this.directory, `${id}.upload`);
    const partial = `${path}.part`;
    const file = await open(partial, 'wx');
    let size: number;
    try {
      const injectFull = process.env.FLASHDIFF_WRITE_FAULT === 'ENOSPC';
      size = await receiveBody(req, res, async (chunk) => {
        if (injectFull) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        await file.write(chunk);
      });
      await file.close();
      renameSync(partial, path);
    } catch (e) {
      await file.close().catch(() => undefined);
      rmSync(partial, { force: true });
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') {
        if (res && !res.headersSent) res.setHeader('Connection', 'close');
        throw new DashboardError('NO_SPACE', `upload '${basename(name)}': the server's disk is full; nothing was kept`, { cause: e });
      }
      throw e;
    }
    const upload: Upload = { id, name: basename(name).slice(0, 200) || 'upload', path, size, session };
    this.uploads.set(id, upload);
    return upload;
  }

  get(id: string): Upload {
    const upload = this.uploads.get(id);
    if (!upload) throw new DashboardError('NOT_FOUND', `no upload '${id}' (upload the file again)`);
    return upload;
  }

  delete(id: string): boolean {
    const upload = this.uploads.get(id);
    if (!upload) return false;
    this.uploads.delete(id);
    rmSync(upload.path, { force: true });
    return true;
  }

  /** Deletes the uploads a page session made (the page was closed or reloaded). */
  deleteSession(session: string): number {
    let n = 0;
    for (const upload of [...this.uploads.values()]) if (upload.session === session && this.delete(upload.id)) n++;
    return n;
  }

  get count(): number {
    return this.uploads.size;
  }

  close(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }
}
