/**
 * Ctrl-C on `npm start` (src/server/main.ts): the server stops with exit 0 and leaves nothing in
 * the temporary directory — not an upload still streaming in (its partial file), not a finished
 * upload, not the private copy of an open YAFFS2 image. The server runs as a child process with
 * its own TMPDIR.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureClientBuilt } from '../src/server/client-build.ts';

const MAIN = fileURLToPath(new URL('../src/server/main.ts', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'dashboard-sigint-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** The files under the server's own temporary folders (flashdiff-dashboard-*), relative to TMPDIR. */
function serverFiles(tmp: string): string[] {
  return readdirSync(tmp)
    .filter((d) => d.startsWith('flashdiff-dashboard-'))
    .flatMap((d) => [d, ...readdirSync(join(tmp, d)).map((f) => `${d}/${f}`)]);
}

test('Ctrl-C on npm start: exit 0, no upload, partial upload or image copy left behind', { timeout: 180_000 }, async () => {
  await ensureClientBuilt();
  const tmp = join(root, 'tmp');
  const checkpoints = join(root, 'checkpoints');
  for (const d of [tmp, checkpoints]) rmSync(d, { recursive: true, force: true });
  mkdirSync(tmp);
  mkdirSync(checkpoints);
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--port', '0', '--checkpoints', checkpoints], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: tmp },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /flashdiff dashboard: (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code} before printing its URL: ${stderr}`)));
    });
    const call = async (method: string, path: string, body: string, type: string): Promise<{ status: number; json: Record<string, unknown> }> => {
      const r = await fetch(new URL(path, url), { method, body, headers: { 'Content-Type': type } });
      return { status: r.status, json: (await r.json()) as Record<string, unknown> };
    };
    // A finished upload and an open image (its private copy) …
    assert.equal((await call('POST', 'api/uploads?name=kept.bin', 'x'.repeat(1000), 'application/octet-stream')).status, 201);
    assert.equal((await call('POST', 'api/yaffs2/images', JSON.stringify({ blocks: 8 }), 'application/json')).status, 201);
    // … and an upload still streaming in: 64 KiB sent of a declared 1 MiB.
    const streaming = request(new URL('api/uploads?name=partial.bin', url), { method: 'POST', headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(1 << 20) } });
    streaming.on('error', () => undefined); // the server goes away under it
    streaming.write(Buffer.alloc(1 << 16, 7));
    const deadline = Date.now() + 30_000;
    while (!serverFiles(tmp).some((f) => f.endsWith('.part'))) {
      assert.ok(Date.now() < deadline, `no partial upload appeared: ${serverFiles(tmp).join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const files = serverFiles(tmp);
    assert.ok(files.some((f) => f.endsWith('.upload')) && files.some((f) => /yaffs-.*\.img$/.test(f)), files.join(', '));
    child.kill('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r('still running 30 s after SIGINT'), 30_000)))]);
    clearTimeout(timer);
    assert.equal(code, 0, stderr);
    assert.deepEqual(serverFiles(tmp), []);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
