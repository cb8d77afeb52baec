import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DashboardError } from './errors.ts';

export interface Upload {
  readonly id: string;
  /** The name the user's file had (for messages only; never used as a path). */
  readonly name: string;
  /** Where the bytes are on the server. */
  readonly path: string;
  readonly size: number;
}

/** Uploaded files, kept in a private temporary directory that is removed on close. */
export class UploadStore {
  readonly directory = mkdtempSync(join(tmpdir(), 'flashdiff-dashboard-'));
  private readonly uploads = new Map<string, Upload>();

  add(name: string, bytes: Uint8Array): Upload {
    const id = randomUUID();
    // The stored name is ours; the user's name is kept only as a label.
    const path = join(this.directory, `${id}.upload`);
    writeFileSync(path, bytes);
    const upload: Upload = { id, name: basename(name).slice(0, 200) || 'upload', path, size: bytes.byteLength };
    this.uploads.set(id, upload);
    return upload;
  }

  get(id: string): Upload {
    const upload = this.uploads.get(id);
    if (!upload) throw new DashboardError('NOT_FOUND', `no upload '${id}' (upload the file again)`);
    return upload;
  }

  close(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }
}
