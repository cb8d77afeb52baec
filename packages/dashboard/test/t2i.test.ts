/**
 * The text-to-image routes and worker on a tiny random Stable Diffusion checkpoint (the diffusion
 * package's fixtures/sd/pipeline-tiny with the bundled CLIP tokenizer): the model list, a
 * generation job streaming preview frames and ending with a PNG, validation errors and cancel.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodePng } from '@flashdiff/diffusion/node';
import { listT2iModels, resolveT2iModel } from '../src/server/adapters/t2i.ts';
import { startDashboardServer } from '../src/server/server.ts';
import type { DashboardServer } from '../src/server/server.ts';
import type { DiffusionFrame, JobEvent, T2iModelInfo } from '../src/shared/protocol.ts';

const DIFFUSION = fileURLToPath(new URL('../../diffusion/', import.meta.url));
let server: DashboardServer;
let root: string;

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(new URL(path, server.url), {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } } : {}),
  });
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, body: (type.includes('json') ? await response.json() : new Uint8Array(await response.arrayBuffer())) as T };
}

/** A job's Server-Sent Events until it ends. */
async function events(id: string, onEvent?: (event: JobEvent) => void | Promise<void>): Promise<JobEvent[]> {
  const response = await fetch(new URL(`api/jobs/${id}/events`, server.url));
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const out: JobEvent[] = [];
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return out;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const data = buffer.slice(0, end).split('\n').find((l) => l.startsWith('data: '));
      buffer = buffer.slice(end + 2);
      if (!data) continue;
      const event = JSON.parse(data.slice(6)) as JobEvent;
      out.push(event);
      await onEvent?.(event);
    }
  }
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'dashboard-t2i-'));
  const models = join(root, 'models');
  mkdirSync(models);
  const tiny = join(models, 'tiny-sd');
  cpSync(join(DIFFUSION, 'test', 'fixtures', 'sd', 'pipeline-tiny'), tiny, { recursive: true });
  cpSync(join(DIFFUSION, 'assets', 'clip-tokenizer'), join(tiny, 'tokenizer'), { recursive: true });
  writeFileSync(join(tiny, 'flashdiff.json'), JSON.stringify({ steps: 3, guidance: 5, scheduler: 'dpm++2m', examplePrompts: ['a red circle'], description: 'tiny random test model' }));
  mkdirSync(join(models, 'not-a-model'));
  writeFileSync(join(models, 'notes.txt'), 'ignored');
  server = await startDashboardServer({ port: 0, buildDir: join(root, 'build'), modelDirectory: models, shippedT2iModels: [] });
});
after(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('text-to-image routes', () => {
  test('the models folder lists diffusers folders with their recommended settings', async () => {
    const { status, body } = await call<{ models: T2iModelInfo[] }>('GET', 'api/t2i/models');
    assert.equal(status, 200);
    assert.deepEqual(body.models.map((m) => m.name), ['tiny-sd']);
    const [m] = body.models;
    assert.equal(m!.layout, 'diffusers');
    assert.equal(m!.defaultSize, 64);
    assert.deepEqual(m!.defaults, { steps: 3, guidance: 5, scheduler: 'dpm++2m' });
    assert.deepEqual(m!.examplePrompts, ['a red circle']);
  });

  test('shipped models come first, in the order given, and are accepted as chosen', () => {
    const shipped = ['shapes-t2i', 'fashion-t2i'].map((name) => {
      const folder = join(root, 'package-models', name);
      cpSync(join(root, 'models', 'tiny-sd'), folder, { recursive: true });
      return folder;
    });
    const models = listT2iModels(join(root, 'models'), shipped);
    assert.deepEqual(models.map((m) => m.name), ['shapes-t2i (shipped)', 'fashion-t2i (shipped)', 'tiny-sd']);
    assert.deepEqual(models.map((m) => m.shipped), [true, true, false]);
    for (const folder of shipped) assert.equal(resolveT2iModel(join(root, 'models'), folder, shipped), folder);
    // A shipped folder not on the list is outside the models folder: refused.
    assert.throws(() => resolveT2iModel(join(root, 'models'), shipped[1]!, shipped.slice(0, 1)), /is not inside/);
  });

  test('a generation streams previews and ends with the PNG', async () => {
    const created = await call<{ id: string }>('POST', 'api/t2i/generate', { model: 'tiny-sd', prompt: 'a red circle', steps: 4, width: 32, height: 32, count: 2, previewEvery: 1, scheduler: 'euler' });
    assert.equal(created.status, 201);
    const all = await events(created.body.id);
    const frames = all.filter((e) => e.type === 'frame').map((e) => (e as { frame: DiffusionFrame }).frame);
    assert.ok(frames.length >= 2, `${frames.length} frames`);
    const last = frames[frames.length - 1]!;
    assert.deepEqual([last.width, last.height, last.channels], [2 * 32 + 3, 32 + 2, 3]);
    assert.deepEqual(all[all.length - 1], { type: 'state', state: 'done' });
    const png = await call<Uint8Array>('GET', `api/jobs/${created.body.id}/files/image.png`);
    assert.equal(png.status, 200);
    const image = decodePng(Buffer.from(png.body));
    assert.deepEqual([image.width, image.height], [67, 34]);
  });

  test('bad requests are refused with a message; a running generation can be cancelled', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ model: 'tiny-sd', prompt: 'x', width: 60 }, /width: 60 is not a multiple of 8/],
      [{ model: '../../etc', prompt: 'x' }, /is not inside/],
      [{ model: 'tiny-sd', prompt: 'x', scheduler: 'lms' }, /scheduler/],
      [{ model: 'tiny-sd' }, /prompt/],
    ];
    for (const [body, message] of cases) {
      const r = await call<{ error: { message: string } }>('POST', 'api/t2i/generate', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.message, message);
    }
    const created = await call<{ id: string }>('POST', 'api/t2i/generate', { model: 'tiny-sd', prompt: 'x', steps: 200, width: 32, height: 32, previewEvery: 1000 });
    let asked = false;
    const all = await events(created.body.id, async (e) => {
      if (!asked && e.type === 'progress' && e.progress.done >= 1) {
        asked = true;
        await call('POST', `api/jobs/${created.body.id}/cancel`);
      }
    });
    assert.deepEqual(all[all.length - 1], { type: 'state', state: 'cancelled' });
  });
});
