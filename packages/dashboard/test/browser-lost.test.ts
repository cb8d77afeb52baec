/**
 * A dashboard server that dies (killed, crashed) while the page follows a job: the page says the
 * server is lost and the job's state unknown — the job list, the view's progress, its Report
 * panel — and never that the job was cancelled or is still running. The server runs as
 * `npm start` does (src/server/main.ts) in a child process killed with SIGKILL, so nothing is
 * sent to the page at the end; Debian's chromium via playwright-core. Fails (never skips)
 * without chromium.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { ensureClientBuilt } from '../src/server/client-build.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH, requireChromium } from './browser-harness.ts';

const MAIN = fileURLToPath(new URL('../src/server/main.ts', import.meta.url));
let server: ChildProcess | undefined;
let browser: Browser | undefined;
let page: Page;
let checkpoints: string;
const pageErrors: string[] = [];

/** Starts `npm start`'s entry point on a free port; resolves with the URL it prints. */
function startServer(): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--port', '0', '--checkpoints', checkpoints], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /flashdiff dashboard: (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`the dashboard exited (${code}) before printing its URL: ${err}`)));
  });
}

describe('a lost dashboard server in chromium', { timeout: 240_000 }, () => {
  before(async () => {
    requireChromium();
    await ensureClientBuilt();
    checkpoints = mkdtempSync(join(tmpdir(), 'dashboard-lost-'));
    const started = await startServer();
    server = started.child;
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${started.url}#ssd`);
    await page.waitForSelector('select[name=preset] option', { state: 'attached' });
  });
  after(async () => {
    server?.kill('SIGKILL');
    await browser?.close();
    rmSync(checkpoints, { recursive: true, force: true });
  });

  test('a killed server: lost, the job’s state unknown — not cancelled, not running', async () => {
    await page.click('[data-testid=ssd-step-start]');
    await page.waitForSelector('section.job-list tr[data-state="running"]');
    await page.waitForSelector('[data-testid=ssd-step]:not([disabled])');
    assert.match((await page.textContent('[data-testid=ssd-report]')) ?? '', /Stepping/);
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    server!.kill('SIGKILL');
    await exited;
    // The job list (polled every second) says the server is lost.
    await page.waitForSelector('section.job-list.job-list-lost', { timeout: 30_000 });
    assert.match((await page.textContent('section.job-list .job-status')) ?? '', /^Server lost: .*Job states are unknown until it answers again\.$/);
    // The view's progress and its Report panel: lost, state unknown.
    await page.waitForFunction(() => /lost the dashboard server/.test(document.querySelector('#view-ssd .actions .progress-text')?.textContent ?? ''), undefined, { timeout: 30_000 });
    const progress = (await page.textContent('#view-ssd .actions .progress-text')) ?? '';
    assert.match(progress, /state is unknown/);
    assert.doesNotMatch(progress, /cancel/i);
    const report = (await page.textContent('[data-testid=ssd-report]')) ?? '';
    assert.match(report, /^No report: lost the dashboard server/);
    assert.doesNotMatch(report, /Running…|Stepping|Cancelled/);
    assert.equal(await page.isDisabled('[data-testid=ssd-step]'), true, 'no step control for a job that may be gone');
    assert.equal(await page.isDisabled('[data-testid=ssd-run]'), false, 'Run is offered again');
    assert.deepEqual(pageErrors, []);
  });
});
