/**
 * Jobs and page sessions: the job list (GET /api/jobs) says who started what and how far it is;
 * a page that goes away for longer than the grace period has its jobs cancelled (not its
 * background jobs) and its uploads deleted; a reload within the grace period cancels nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDashboardServer } from '../src/server/server.ts';
import type { DashboardServer } from '../src/server/server.ts';
import type { JobSummary } from '../src/shared/protocol.ts';

const GRACE_MS = 400;
let server: DashboardServer;
let buildDir: string;

before(async () => {
  buildDir = mkdtempSync(join(tmpdir(), 'dashboard-sessions-'));
  writeFileSync(join(buildDir, 'index.html'), '<!doctype html><title>test page</title>');
  server = await startDashboardServer({ port: 0, buildDir, checkpointDirectory: join(buildDir, 'checkpoints'), orphanGraceMs: GRACE_MS });
});
after(async () => {
  await server.close();
  rmSync(buildDir, { recursive: true, force: true });
});

/** A stepped run on the seed mini SSD: it waits for "step" controls, so it runs until cancelled. */
const steppedRun = {
  preset: 'seed-mini', overProvisioning: 0.2, gcPolicy: 'greedy', gcUnit: 'superblock', dynamicWearLeveling: true, staticWearLeveling: false,
  workload: 'seq', writes: 50, writesAreMultiple: false, precondition: false, seed: 1, stepped: true,
};

async function startRun(session: string, background = false): Promise<string> {
  const r = await fetch(new URL('api/ssd/runs', server.url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Flashdiff-Session': session, ...(background ? { 'X-Flashdiff-Background': '1' } : {}) },
    body: JSON.stringify(steppedRun),
  });
  assert.equal(r.status, 201, await r.clone().text());
  return ((await r.json()) as { id: string }).id;
}

async function jobs(): Promise<Map<string, JobSummary>> {
  const list = (await (await fetch(new URL('api/jobs', server.url))).json()) as JobSummary[];
  return new Map(list.map((j) => [j.id, j]));
}

/** Opens the page's presence stream; resolves once the server has answered. */
async function presence(session: string): Promise<AbortController> {
  const controller = new AbortController();
  const response = await fetch(new URL(`api/sessions/${session}/presence`, server.url), { signal: controller.signal });
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  const first = await reader.read();
  assert.match(new TextDecoder().decode(first.value), /event: hello/);
  void reader.read().catch(() => undefined);
  return controller;
}

async function waitFor(what: string, f: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('page sessions and orphaned jobs', { timeout: 120_000 }, () => {
  test('a page that goes away: its jobs are cancelled after the grace period, its background job and uploads as said', async () => {
    const page = await presence('page-closing-1');
    const foreground = await startRun('page-closing-1');
    const background = await startRun('page-closing-1', true);
    const upload = await fetch(new URL('api/uploads?name=t.trace', server.url), {
      method: 'POST', headers: { 'Content-Type': 'application/octet-stream', 'X-Flashdiff-Session': 'page-closing-1' }, body: '0 0 0 8 0\n',
    });
    const uploadPath = server.state.uploads.get(((await upload.json()) as { id: string }).id).path;
    const listed = await jobs();
    assert.equal(listed.get(foreground)?.state, 'running');
    assert.equal(listed.get(foreground)?.owner, 'page-closing-1');
    assert.equal(listed.get(foreground)?.background, false);
    assert.equal(listed.get(background)?.background, true);
    assert.ok(typeof listed.get(foreground)?.startedAt === 'number');

    page.abort(); // the tab is closed
    await new Promise((r) => setTimeout(r, GRACE_MS / 2));
    assert.equal((await jobs()).get(foreground)?.state, 'running', 'cancelled before the grace period ended');
    await waitFor('the orphaned job to be cancelled', async () => (await jobs()).get(foreground)?.state === 'cancelled');
    assert.equal((await jobs()).get(background)?.state, 'running');
    assert.equal(existsSync(uploadPath), false, 'the page session’s upload is deleted');
    const cancel = await fetch(new URL(`api/jobs/${background}/cancel`, server.url), { method: 'POST' });
    assert.equal(cancel.status, 202);
    await waitFor('the background job to be cancelled', async () => (await jobs()).get(background)?.state === 'cancelled');
  });

  test('a reload within the grace period cancels nothing', async () => {
    const first = await presence('page-reload-1');
    const job = await startRun('page-reload-1');
    first.abort();
    const second = await presence('page-reload-1');
    await new Promise((r) => setTimeout(r, GRACE_MS * 3));
    assert.equal((await jobs()).get(job)?.state, 'running');
    second.abort();
    await waitFor('the job to be cancelled once the page is really gone', async () => (await jobs()).get(job)?.state === 'cancelled');
  });

  test('a malformed session id is refused', async () => {
    const r = await fetch(new URL('api/jobs', server.url), { headers: { 'X-Flashdiff-Session': 'x' } });
    assert.equal(r.status, 400);
  });
});
