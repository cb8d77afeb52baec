/**
 * The server's HTTP edges: bad %-encoding, wrong methods, exact Content-Type, stalled bodies,
 * upload limits and streaming, a full disk during an upload, and a file that does not fit into a
 * YAFFS2 image leaving the image byte for byte as it was.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDashboardServer } from '../src/server/server.ts';
import type { DashboardServer } from '../src/server/server.ts';
import { MAX_BODY_BYTES } from '../src/server/http-util.ts';
import { MAX_UPLOADS } from '../src/server/uploads.ts';
import type { YaffsImageInfo } from '../src/shared/protocol.ts';

let server: DashboardServer;
let buildDir: string;

before(async () => {
  buildDir = mkdtempSync(join(tmpdir(), 'dashboard-edges-'));
  writeFileSync(join(buildDir, 'index.html'), '<!doctype html><title>test page</title>');
  server = await startDashboardServer({ port: 0, buildDir, checkpointDirectory: join(buildDir, 'checkpoints') });
});
after(async () => {
  await server.close();
  rmSync(buildDir, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: Uint8Array | string, headers: Record<string, string> = {}) {
  const response = await fetch(new URL(path, server.url), { method, headers, ...(body !== undefined ? { body: body as BodyInit } : {}) });
  const text = await response.text();
  let json: { error?: { code: string; message: string } } & Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, json, bytes: text };
}

/** A raw request whose body stops after `sent` bytes; resolves with the status line the server answered. */
function stalledRequest(path: string, declared: number, sent: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n${sent}`);
    });
    let answer = '';
    socket.on('data', (d) => (answer += d));
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

describe('HTTP edges', () => {
  test('bad %-encoding in a path parameter is 400, not a server error', async () => {
    const r = await call('GET', 'api/jobs/%E0%A4%A');
    assert.equal(r.status, 400);
    assert.equal(r.json.error?.code, 'BAD_REQUEST');
    assert.match(r.json.error!.message, /malformed %-encoding/);
  });

  test('a wrong method is 405 with Allow', async () => {
    const r = await call('DELETE', 'api/health');
    assert.equal(r.status, 405);
    assert.equal(r.json.error?.code, 'METHOD_NOT_ALLOWED');
    assert.equal(r.headers.get('allow'), 'GET');
  });

  test('Content-Type is compared exactly (parameters aside)', async () => {
    const body = JSON.stringify({ blocks: 8 });
    assert.equal((await call('POST', 'api/yaffs2/images', body, { 'Content-Type': 'application/jsonp' })).status, 400);
    assert.equal((await call('POST', 'api/yaffs2/images', body, { 'Content-Type': 'application/json-patch+json' })).status, 400);
    assert.equal((await call('POST', 'api/yaffs2/images', body, { 'Content-Type': 'Application/JSON; charset=utf-8' })).status, 201);
  });

  test('a request body that stops arriving is answered 408', { timeout: 60_000 }, async () => {
    const { BODY_IDLE_TIMEOUT_MS } = await import('../src/server/http-util.ts');
    assert.ok(BODY_IDLE_TIMEOUT_MS <= 30_000);
    const t0 = Date.now();
    const status = await stalledRequest('/api/uploads?name=x', 1000, 'only this much');
    assert.match(status, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - t0 >= BODY_IDLE_TIMEOUT_MS - 100);
    assert.deepEqual(readdirSync(server.state.uploads.directory).filter((f) => f.endsWith('.part')), []);
  });
});

describe('uploads', () => {
  test('stream to disk, can be deleted, and are limited in number', async () => {
    const ids: string[] = [];
    try {
      const room = MAX_UPLOADS - server.state.uploads.count;
      for (let i = 0; i < room; i++) {
        const r = await call('POST', `api/uploads?name=f${i}.bin`, new Uint8Array(1000).fill(i), { 'Content-Type': 'application/octet-stream' });
        assert.equal(r.status, 201);
        ids.push(r.json.id as string);
      }
      const over = await call('POST', 'api/uploads?name=one-too-many', new Uint8Array(10), { 'Content-Type': 'application/octet-stream' });
      assert.equal(over.status, 413);
      assert.match(over.json.error!.message, /uploads are kept already/);
    } finally {
      for (const id of ids) assert.equal((await call('DELETE', `api/uploads/${id}`)).status, 200);
    }
    assert.equal((await call('DELETE', `api/uploads/${ids[0]}`)).status, 404);
  });

  test('an upload over the size limit is refused at once (413) and keeps nothing', async () => {
    const before = readdirSync(server.state.uploads.directory).length;
    const status = await stalledRequest('/api/uploads?name=huge.bin', MAX_BODY_BYTES + 1, 'x'.repeat(1000));
    assert.equal(status, 'HTTP/1.1 413 Payload Too Large');
    assert.equal(readdirSync(server.state.uploads.directory).length, before);
  });

  test('an upload that hits a full disk (injected ENOSPC) keeps nothing: 507', async () => {
    const before = readdirSync(server.state.uploads.directory).length;
    process.env.FLASHDIFF_WRITE_FAULT = 'ENOSPC';
    try {
      const r = await call('POST', 'api/uploads?name=big.bin', new Uint8Array(100_000), { 'Content-Type': 'application/octet-stream' });
      assert.equal(r.status, 507);
      assert.equal(r.json.error?.code, 'NO_SPACE');
    } finally {
      delete process.env.FLASHDIFF_WRITE_FAULT;
    }
    assert.equal(readdirSync(server.state.uploads.directory).length, before);
  });

  test('uploads of a page session are deleted with it', async () => {
    const r = await call('POST', 'api/uploads?name=s.bin&session=page-one-1', new Uint8Array(10), { 'Content-Type': 'application/octet-stream' });
    assert.equal(r.status, 201);
    const path = server.state.uploads.get(r.json.id as string).path;
    assert.ok(existsSync(path));
    assert.equal(server.state.uploads.deleteSession('page-one-1'), 1);
    assert.equal(existsSync(path), false);
  });
});

describe('YAFFS2 image writes', () => {
  test('a file that does not fit (ENOSPC) leaves the image byte for byte as it was', async () => {
    const created = await call('POST', 'api/yaffs2/images', JSON.stringify({ blocks: 8 }), { 'Content-Type': 'application/json' });
    assert.equal(created.status, 201);
    const id = (created.json as unknown as YaffsImageInfo).id;
    const small = await call('PUT', `api/yaffs2/images/${id}/file?path=/keep.txt`, 'kept\n', { 'Content-Type': 'application/octet-stream' });
    assert.equal(small.status, 201);
    const before = await fetch(new URL(`api/yaffs2/images/${id}/download`, server.url)).then((r) => r.arrayBuffer());
    const info = (await call('GET', `api/yaffs2/images/${id}`)).json as unknown as YaffsImageInfo;
    const tooBig = new Uint8Array(info.freeBytes + 64 * 2048).fill(0x5a);
    const r = await call('PUT', `api/yaffs2/images/${id}/file?path=/keep.txt`, tooBig, { 'Content-Type': 'application/octet-stream' });
    assert.equal(r.status, 507, JSON.stringify(r.json));
    assert.match(r.json.error!.message, /ENOSPC.*the image is unchanged/);
    const after = await fetch(new URL(`api/yaffs2/images/${id}/download`, server.url)).then((res) => res.arrayBuffer());
    assert.ok(Buffer.from(after).equals(Buffer.from(before)), 'image bytes changed');
    const kept = await call('GET', `api/yaffs2/images/${id}/file?path=/keep.txt`);
    assert.equal(kept.bytes, 'kept\n');
    // And the session still works.
    assert.equal((await call('PUT', `api/yaffs2/images/${id}/file?path=/more.txt`, 'more', { 'Content-Type': 'application/octet-stream' })).status, 201);
  });

  test('a file streams to disk before it goes into the image: nothing in the image until the body is whole', async () => {
    const created = await call('POST', 'api/yaffs2/images', JSON.stringify({ blocks: 64 }), { 'Content-Type': 'application/json' });
    const id = (created.json as unknown as YaffsImageInfo).id;
    const uploadsBefore = server.state.uploads.count;
    // 2.5 MiB + 100 bytes: several write windows and a last, partial chunk.
    const content = Buffer.alloc(5 * (1 << 19) + 100);
    for (let i = 0; i < content.length; i++) content[i] = (i * 31 + (i >> 11)) & 0xff;
    const half = 1 << 20;
    const answer = new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () => {
        socket.write(`PUT /api/yaffs2/images/${id}/file?path=/big.bin HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${content.length}\r\nConnection: close\r\n\r\n`);
        socket.write(content.subarray(0, half));
      });
      let text = '';
      socket.on('data', (d) => (text += d));
      socket.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
      socket.on('error', reject);
      // Half the body is on the server's disk (a partial upload), none of it in the image yet.
      const partial = async (): Promise<void> => {
        const deadline = Date.now() + 30_000;
        while (!readdirSync(server.state.uploads.directory).some((f) => f.endsWith('.part'))) {
          if (Date.now() > deadline) throw new Error('no partial upload on disk');
          await new Promise((r) => setTimeout(r, 20));
        }
        const listing = await call('GET', `api/yaffs2/images/${id}/list?path=/`);
        assert.deepEqual(listing.json, []);
        socket.write(content.subarray(half));
      };
      partial().catch(reject);
    });
    assert.equal(await answer, 'HTTP/1.1 201 Created');
    const back = await fetch(new URL(`api/yaffs2/images/${id}/file?path=/big.bin`, server.url)).then((r) => r.arrayBuffer());
    assert.ok(Buffer.from(back).equals(content), 'the file reads back byte for byte');
    assert.equal(server.state.uploads.count, uploadsBefore, 'the staging upload is deleted');
    assert.deepEqual(readdirSync(server.state.uploads.directory).filter((f) => f.includes('.upload')), []);
  });
});
