/**
 * The dashboard server without a browser: origin and host refusal, static files, the job
 * machinery (worker threads, SSE, controls, cancel) on real SSD runs, and the YAFFS2 routes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRequestOrigin, loopbackPolicy } from '../src/server/security.ts';
import { SHIPPED_MODEL_NAME, shippedModelDirectory } from '@flashdiff/diffusion/shipped-model';
import { startDashboardServer } from '../src/server/server.ts';
import type { DashboardServer } from '../src/server/server.ts';
import { clientBuildIsStale } from '../src/server/client-build.ts';
import type { DiffusionTrainFrame, JobEvent, SsdFrame, YaffsBlockInfo, YaffsEntry, YaffsImageInfo } from '../src/shared/protocol.ts';
import { PAGE_INVALID, PAGE_VALID } from '../src/shared/protocol.ts';
import type { IncomingMessage } from 'node:http';

let server: DashboardServer;
let buildDir: string;

async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body instanceof Uint8Array) {
    init.body = body as Uint8Array<ArrayBuffer>;
    (init.headers as Record<string, string>)['Content-Type'] = 'application/octet-stream';
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
  }
  const response = await fetch(new URL(path, server.url), init);
  const type = response.headers.get('content-type') ?? '';
  const parsed = type.includes('json') ? await response.json() : new Uint8Array(await response.arrayBuffer());
  return { status: response.status, body: parsed as T };
}

/** Reads a job's SSE stream until the job ends; `onFrame` may send controls. */
async function followJob(id: string, onEvent?: (event: JobEvent) => void | Promise<void>): Promise<JobEvent[]> {
  const response = await fetch(new URL(`api/jobs/${id}/events`, server.url));
  assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: JobEvent[] = [];
  let buffer = '';
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split('\n').find((l) => l.startsWith('data: '));
      if (!data) continue;
      const event = JSON.parse(data.slice(6)) as JobEvent;
      events.push(event);
      await onEvent?.(event);
    }
  }
  return events;
}

function finalState(events: JobEvent[]): { state: string; error?: string } {
  const last = events.filter((e) => e.type === 'state').at(-1);
  assert.ok(last && last.type === 'state', 'the stream ends with a state event');
  return { state: last.state, ...(last.error !== undefined ? { error: last.error } : {}) };
}

function frames(events: JobEvent[]): SsdFrame[] {
  return events.flatMap((e) => (e.type === 'frame' ? [e.frame as SsdFrame] : []));
}

function pageStates(frame: SsdFrame): Uint8Array {
  return new Uint8Array(Buffer.from(frame.pageStates!, 'base64'));
}

const seedMiniRun = {
  preset: 'seed-mini',
  overProvisioning: 0.2,
  gcPolicy: 'greedy',
  gcUnit: 'superblock',
  dynamicWearLeveling: true,
  staticWearLeveling: false,
  workload: 'seq',
  writes: 50,
  writesAreMultiple: false,
  precondition: false,
  seed: 1,
  stepped: false,
};

// About 40 s on a quiet machine; the limit leaves room for a loaded one.
describe('dashboard server', { timeout: 300_000 }, () => {
  before(async () => {
    buildDir = mkdtempSync(join(tmpdir(), 'dashboard-build-'));
    writeFileSync(join(buildDir, 'index.html'), '<!doctype html><title>test page</title>');
    server = await startDashboardServer({ port: 0, buildDir, checkpointDirectory: join(buildDir, 'checkpoints') });
  });
  after(async () => {
    await server?.close();
    rmSync(buildDir, { recursive: true, force: true });
  });

  test('the origin policy accepts only our own loopback host and origin', () => {
    const policy = loopbackPolicy(5178);
    const req = (headers: Record<string, string>, url = '/api/health') => ({ headers, url }) as unknown as IncomingMessage;
    assert.equal(checkRequestOrigin(req({ host: '127.0.0.1:5178' }), policy), null);
    assert.equal(checkRequestOrigin(req({ host: 'localhost:5178', origin: 'http://localhost:5178' }), policy), null);
    assert.match(checkRequestOrigin(req({ host: 'evil.example:5178' }), policy) ?? '', /Host/);
    assert.match(checkRequestOrigin(req({ host: '127.0.0.1:5179' }), policy) ?? '', /Host/);
    assert.match(checkRequestOrigin(req({ host: '127.0.0.1:5178', origin: 'http://evil.example' }), policy) ?? '', /Origin/);
    assert.match(checkRequestOrigin(req({ host: '127.0.0.1:5178', origin: 'null' }), policy) ?? '', /Origin/);
    assert.match(checkRequestOrigin(req({ host: '127.0.0.1:5178', 'sec-fetch-site': 'cross-site' }), policy) ?? '', /another site/);
  });

  test('a foreign Origin or Host gets 403 with a JSON error; our own origin is served', async () => {
    const foreign = await call<{ error: { code: string; message: string } }>('GET', 'api/health', undefined, { Origin: 'http://evil.example' });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error.code, 'FORBIDDEN');
    const own = await call<{ ok: boolean }>('GET', 'api/health', undefined, { Origin: server.url.slice(0, -1) });
    assert.equal(own.status, 200);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(new URL('/', server.url), { headers: { Host: `attacker.example:${server.port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 403);
  });

  test('static files: the page with a CSP, no way out of the build folder, JSON 404s', async () => {
    const page = await fetch(server.url);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.match(await page.text(), /test page/);
    const traversal = await fetch(new URL('/..%2f..%2fpackage.json', server.url));
    assert.equal(traversal.status, 404);
    const missing = await call<{ error: { code: string } }>('GET', 'api/nothing-here');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'NOT_FOUND');
    const badJson = await fetch(new URL('api/ssd/runs', server.url), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{not json' });
    assert.equal(badJson.status, 400);
  });

  test('SSD options list the seed mini SSD first', async () => {
    const options = await call<{ presets: { name: string; geometry: { channels: number; blocksPerDie: number; pagesPerBlock: number } }[]; gcPolicies: string[] }>('GET', 'api/ssd/options');
    assert.equal(options.status, 200);
    const first = options.body.presets[0]!;
    assert.equal(first.name, 'seed-mini');
    assert.deepEqual([first.geometry.channels, first.geometry.blocksPerDie, first.geometry.pagesPerBlock], [4, 6, 9]);
    assert.ok(options.body.gcPolicies.includes('greedy') && options.body.gcPolicies.includes('cost-benefit'));
  });

  test('SSD run requests are validated field by field', async () => {
    const op = await call<{ error: { code: string; message: string } }>('POST', 'api/ssd/runs', { ...seedMiniRun, overProvisioning: 0 });
    assert.equal(op.status, 400);
    assert.match(op.body.error.message, /overProvisioning/);
    const preset = await call<{ error: { message: string } }>('POST', 'api/ssd/runs', { ...seedMiniRun, preset: 'no-such-drive' });
    assert.equal(preset.status, 400);
    assert.match(preset.body.error.message, /preset/);
    const policy = await call<{ error: { message: string } }>('POST', 'api/ssd/runs', { ...seedMiniRun, gcPolicy: 'lottery' });
    assert.equal(policy.status, 400);
    assert.match(policy.body.error.message, /gcPolicy/);
    const pace = await call<{ error: { message: string } }>('POST', 'api/ssd/runs', { ...seedMiniRun, writesPerSecond: -1 });
    assert.equal(pace.status, 400);
    assert.match(pace.body.error.message, /writesPerSecond/);
  });

  test('a sequential run on the empty seed mini SSD streams frames and ends with WAF 1', async () => {
    const created = await call<{ id: string }>('POST', 'api/ssd/runs', seedMiniRun);
    assert.equal(created.status, 201);
    const events = await followJob(created.body.id);
    assert.equal(finalState(events).state, 'done');
    const last = frames(events).at(-1)!;
    assert.equal(last.hostPageWrites, 50);
    assert.equal(last.blocks, 24);
    const states = pageStates(last);
    assert.equal(states.length, 216);
    assert.equal(states.filter((s) => s === PAGE_VALID).length, 50, 'every written page is valid: nothing was overwritten');
    assert.equal(states.filter((s) => s === PAGE_INVALID).length, 0);
    const valid = new Uint16Array(new Uint8Array(Buffer.from(last.validPerBlock, 'base64')).buffer);
    assert.equal(valid.reduce((a, b) => a + b, 0), 50);
    // The plots' numbers: the time series from 0 to the end (no GC: NAND = host writes), the erase
    // histogram over all 24 blocks (none erased yet), one write latency per host write, no reads.
    assert.equal(last.series.host[0], 0);
    assert.equal(last.series.host.at(-1), 50);
    assert.deepEqual(last.series.nand, last.series.host);
    assert.ok(last.series.host.every((h, i) => i === 0 || h > last.series.host[i - 1]!), 'samples ascend');
    assert.deepEqual(last.eraseHistogram, { binStart: 0, binWidth: 1, counts: [24] });
    assert.equal(last.writeLatency.buckets.reduce((n, [, c]) => n + c, 0), 50);
    assert.deepEqual(last.readLatency.buckets, []);
    const result = events.find((e) => e.type === 'result');
    assert.ok(result && result.type === 'result');
    const report = result.result as { waf: number; hostPageWrites: number; gcRuns: number };
    assert.equal(report.hostPageWrites, 50);
    assert.equal(report.waf, 1);
    assert.equal(report.gcRuns, 0);
  });

  test('stepping: each "step" control writes one host page; overwrites leave invalid pages; cancel ends the job', async () => {
    const created = await call<{ id: string }>('POST', 'api/ssd/runs', { ...seedMiniRun, writes: 3, writesAreMultiple: true, stepped: true });
    const id = created.body.id;
    const seen: SsdFrame[] = [];
    let sent = false;
    const events = await followJob(id, async (event) => {
      if (event.type !== 'frame') return;
      const frame = event.frame as SsdFrame;
      seen.push(frame);
      if (frame.hostPageWrites === 0 && !sent) {
        sent = true;
        // 180 user pages: 181 writes overwrite LBA 0 once.
        await call('POST', `api/jobs/${id}/control`, { action: 'step', count: 181 });
      } else if (frame.hostPageWrites === 181) {
        await call('POST', `api/jobs/${id}/control`, { action: 'step', count: 1 });
      } else if (frame.hostPageWrites === 182) {
        await call('POST', `api/jobs/${id}/cancel`);
      }
    });
    assert.equal(finalState(events).state, 'cancelled');
    const at181 = seen.find((f) => f.hostPageWrites === 181)!;
    assert.ok(at181, 'a frame after 181 steps');
    assert.equal(pageStates(at181).filter((s) => s === PAGE_INVALID).length, 1, 'LBA 0 rewritten: its old page is invalid');
    assert.match(seen.find((f) => f.hostPageWrites === 182)!.lastEvent ?? '', /host write of LBA 1 /);
    const control = await call<{ error: { code: string } }>('POST', `api/jobs/${id}/control`, { action: 'step', count: 1 });
    assert.equal(control.status, 409, 'a finished job takes no more controls');
  });

  test('a long free run can be cancelled while it runs', async () => {
    const created = await call<{ id: string }>('POST', 'api/ssd/runs', { ...seedMiniRun, preset: 'ssd-small', gcUnit: 'block', workload: 'uniform', writes: 200, writesAreMultiple: true, precondition: true });
    let cancelled = false;
    const events = await followJob(created.body.id, async (event) => {
      if (event.type === 'frame' && !cancelled) {
        cancelled = true;
        await call('POST', `api/jobs/${created.body.id}/cancel`);
      }
    });
    assert.equal(finalState(events).state, 'cancelled');
    assert.ok(!events.some((e) => e.type === 'result'), 'a cancelled run has no final report');
  });

  test('an uploaded DiskSim trace is replayed; a malformed one fails naming its line', async () => {
    const trace = ['0 0 0 8 0', '1000 0 8 8 0', '2000 0 0 8 1', '3000 0 0 8 0'].join('\n');
    const upload = await call<{ id: string }>('POST', 'api/uploads?name=small.trace', new TextEncoder().encode(trace));
    assert.equal(upload.status, 201);
    const created = await call<{ id: string }>('POST', 'api/ssd/runs', { ...seedMiniRun, traceUpload: upload.body.id });
    const events = await followJob(created.body.id);
    assert.equal(finalState(events).state, 'done');
    const result = events.find((e) => e.type === 'result');
    assert.ok(result && result.type === 'result');
    // 8 sectors of 512 B = one 4 KiB page per write request: 3 writes.
    assert.equal((result.result as { hostPageWrites: number }).hostPageWrites, 3);
    // The latency CDFs' numbers: one read request and three write requests.
    const last = frames(events).at(-1)!;
    const operations = (h: SsdFrame['readLatency']): number => h.buckets.reduce((n, [, c]) => n + c, 0);
    assert.deepEqual([operations(last.readLatency), operations(last.writeLatency)], [1, 3]);
    const bad = await call<{ id: string }>('POST', 'api/uploads?name=broken.trace', new TextEncoder().encode('0 0 0 8 0\n1 2 3\n'));
    const failed = await followJob((await call<{ id: string }>('POST', 'api/ssd/runs', { ...seedMiniRun, traceUpload: bad.body.id })).body.id);
    const state = finalState(failed);
    assert.equal(state.state, 'failed');
    assert.match(state.error ?? '', /broken\.trace:2/);
  });

  test('YAFFS2: create, write, list, read back, delete, and reopen the downloaded image', async () => {
    for (const layout of ['yaffs1', 'yaffs1-mtd', 'nand']) {
      const refused = await call<{ error: { message: string } }>('POST', 'api/yaffs2/images', { blocks: 16, layout });
      assert.equal(refused.status, 400, layout);
      assert.match(refused.body.error.message, /layout.*mkyaffs2, mtd/, layout);
    }
    const created = await call<YaffsImageInfo>('POST', 'api/yaffs2/images', { blocks: 16, layout: 'mkyaffs2' });
    assert.equal(created.status, 201);
    const id = created.body.id;
    assert.equal(created.body.blocks, 16);
    assert.equal((await call('POST', `api/yaffs2/images/${id}/mkdir`, { path: '/etc' })).status, 201);
    const content = new Uint8Array(3000).map((_, i) => (i * 13) & 0xff);
    assert.equal((await call('PUT', `api/yaffs2/images/${id}/file?path=/etc/config.bin`, content)).status, 201);
    assert.equal((await call('PUT', `api/yaffs2/images/${id}/file?path=/gone.txt`, new TextEncoder().encode('bye'))).status, 201);
    const root = await call<YaffsEntry[]>('GET', `api/yaffs2/images/${id}/list?path=/`);
    assert.deepEqual(root.body.map((e) => [e.name, e.type]), [['etc', 'directory'], ['gone.txt', 'file']]);
    const inEtc = await call<YaffsEntry[]>('GET', `api/yaffs2/images/${id}/list?path=/etc`);
    assert.deepEqual(inEtc.body.map((e) => [e.name, e.size]), [['config.bin', 3000]]);
    const read = await call<Uint8Array>('GET', `api/yaffs2/images/${id}/file?path=/etc/config.bin`);
    assert.deepEqual(read.body, content);
    assert.equal((await call('DELETE', `api/yaffs2/images/${id}/file?path=/gone.txt`)).status, 200);
    const missing = await call<{ error: { code: string } }>('GET', `api/yaffs2/images/${id}/file?path=/gone.txt`);
    assert.equal(missing.status, 404);
    const escape = await call<{ error: { code: string } }>('GET', `api/yaffs2/images/${id}/list?path=/../..`);
    assert.equal(escape.status, 400);
    const blocks = await call<YaffsBlockInfo[]>('GET', `api/yaffs2/images/${id}/blocks`);
    assert.equal(blocks.body.length, 16);
    const used = blocks.body.filter((b) => b.state !== 'empty');
    assert.ok(used.length >= 1 && used.every((b) => b.sequence >= 0x1000), 'written blocks carry sequence numbers');
    // The image as a file: upload it again and the tree is there.
    const image = await call<Uint8Array>('GET', `api/yaffs2/images/${id}/download`);
    assert.equal(image.body.length, 16 * 64 * (2048 + 64));
    const upload = await call<{ id: string }>('POST', 'api/uploads?name=round-trip.img', image.body);
    const reopened = await call<YaffsImageInfo>('POST', 'api/yaffs2/images/open', { upload: upload.body.id });
    assert.equal(reopened.status, 201, JSON.stringify(reopened.body));
    const again = await call<Uint8Array>('GET', `api/yaffs2/images/${reopened.body.id}/file?path=/etc/config.bin`);
    assert.deepEqual(again.body, content);
    const notAnImage = await call<{ id: string }>('POST', 'api/uploads?name=junk.img', new Uint8Array(5000).fill(7));
    const refused = await call<{ error: { code: string; message: string } }>('POST', 'api/yaffs2/images/open', { upload: notAnImage.body.id });
    assert.ok(refused.status >= 400 && refused.status < 500, `junk is refused: ${refused.status} ${JSON.stringify(refused.body)}`);
  });

  test('diffusion: checkpoints are listed from the known folder only; requests are validated', async () => {
    const listing = await call<{ directory: string; checkpoints: { name: string; path: string; shipped: boolean }[] }>('GET', 'api/diffusion/checkpoints');
    assert.equal(listing.status, 200);
    // A missing folder adds nothing: only the model shipped with @flashdiff/diffusion is offered.
    const shipped = shippedModelDirectory();
    assert.ok(shipped, 'the diffusion package ships its trained model');
    assert.deepEqual(listing.body.checkpoints.map((c) => [c.name, c.path, c.shipped]), [[`${SHIPPED_MODEL_NAME} (shipped)`, shipped, true]]);
    const escape = await call<{ error: { message: string } }>('POST', 'api/diffusion/sample', { checkpoint: '../../etc', sampler: 'ddim', steps: 5 });
    assert.equal(escape.status, 400);
    assert.match(escape.body.error.message, /not inside/);
    const missing = await call<{ error: { code: string } }>('POST', 'api/diffusion/sample', { checkpoint: 'nothing-here', sampler: 'ddim', steps: 5 });
    assert.equal(missing.status, 404);
    // The shipped model samples by its path (it lies outside the checkpoint folder).
    const fromShipped = await call<{ id: string }>('POST', 'api/diffusion/sample', { checkpoint: shipped, sampler: 'ddim', steps: 2, classLabel: 3, guidance: 2, count: 2, frameEvery: 1 });
    assert.equal(fromShipped.status, 201, JSON.stringify(fromShipped.body));
    assert.equal(finalState(await followJob(fromShipped.body.id)).state, 'done');
    const badName = await call<{ error: { message: string } }>('POST', 'api/diffusion/train', { name: '../up' });
    assert.equal(badName.status, 400);
    assert.match(badName.body.error.message, /name/);
    const badFeatures = await call<{ error: { message: string } }>('POST', 'api/diffusion/train', { name: 'ok', nFeat: 12 });
    assert.equal(badFeatures.status, 400);
    assert.match(badFeatures.body.error.message, /nFeat/);
  });

  test('diffusion: a tiny MNIST training job reports progress per step and leaves a checkpoint the list shows', async () => {
    const created = await call<{ id: string }>('POST', 'api/diffusion/train', { name: 'tiny-mnist', epochs: 1, trainImages: 20, batchSize: 10, nFeat: 8, timesteps: 20, learningRate: 0.001, seed: 3 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const events = await followJob(created.body.id);
    assert.equal(finalState(events).state, 'done', JSON.stringify(events.filter((e) => e.type === 'state')));
    const steps = events.filter((e) => e.type === 'progress' && e.progress.total === 2).map((e) => (e.type === 'progress' ? e.progress.done : 0));
    assert.ok(steps.includes(2), `per-step progress up to 2 of 2: ${JSON.stringify(steps)}`);
    // The loss curve's frames carry every step's loss so far; the last one matches the progress line.
    const lossFrame = events.filter((e) => e.type === 'frame').at(-1);
    assert.ok(lossFrame && lossFrame.type === 'frame', 'the training job streams loss frames');
    const curve = lossFrame.frame as DiffusionTrainFrame;
    assert.deepEqual([curve.totalSteps, curve.steps], [2, [1, 2]]);
    assert.ok(curve.losses.every((l) => Number.isFinite(l) && l > 0), JSON.stringify(curve.losses));
    const lastProgress = events.filter((e) => e.type === 'progress').at(-1);
    assert.ok(lastProgress && lastProgress.type === 'progress');
    assert.match(lastProgress.progress.message, new RegExp(`loss ${curve.losses[1]!.toFixed(4)}`));
    const listing = await call<{ checkpoints: { name: string; classes: number; imageSize: number }[] }>('GET', 'api/diffusion/checkpoints');
    const entry = listing.body.checkpoints.find((c) => c.name === 'tiny-mnist');
    assert.ok(entry, 'the new checkpoint is listed');
    assert.equal(entry.classes, 10);
    assert.equal(entry.imageSize, 16);
    // Sampling it: a class outside the checkpoint's 10 fails with a message naming the range.
    const sample = await call<{ id: string }>('POST', 'api/diffusion/sample', { checkpoint: 'tiny-mnist', sampler: 'ddim', steps: 3, classLabel: 12, count: 2, frameEvery: 1 });
    const failed = finalState(await followJob(sample.body.id));
    assert.equal(failed.state, 'failed');
    assert.match(failed.error ?? '', /0–9/);
    // A mix of classes (the course's "0.6 of one, 1.0 of another") samples and leaves grid.png.
    const mixed = await call<{ id: string }>('POST', 'api/diffusion/sample', { checkpoint: 'tiny-mnist', sampler: 'ddim', steps: 2, mix: { 3: 1, 7: 0.6 }, guidance: 2, count: 2, frameEvery: 1 });
    const mixedEvents = await followJob(mixed.body.id);
    assert.equal(finalState(mixedEvents).state, 'done');
    const result = mixedEvents.find((e) => e.type === 'result');
    assert.ok(result && result.type === 'result');
    assert.equal((result.result as { context: string }).context, '3:1, 7:0.6');
    assert.equal(mixedEvents.filter((e) => e.type === 'frame').length, 2, 'one frame per step');
    const png = await call<Uint8Array>('GET', `api/jobs/${mixed.body.id}/files/grid.png`);
    assert.equal(png.status, 200);
    assert.deepEqual([...png.body.subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG');
    // DDPM over every step, cancelled after its first frame.
    const long = await call<{ id: string }>('POST', 'api/diffusion/sample', { checkpoint: 'tiny-mnist', sampler: 'ddpm', steps: 20, classLabel: null, count: 2, frameEvery: 1 });
    let cancelled = false;
    const longEvents = await followJob(long.body.id, async (event) => {
      if (event.type === 'frame' && !cancelled) {
        cancelled = true;
        await call('POST', `api/jobs/${long.body.id}/cancel`);
      }
    });
    assert.equal(finalState(longEvents).state, 'cancelled');
    assert.ok(longEvents.filter((e) => e.type === 'frame').length < 20, 'stopped before the last step');
  });

  test('a build folder without its stamp counts as stale', () => {
    assert.equal(clientBuildIsStale(buildDir), true);
  });
});
