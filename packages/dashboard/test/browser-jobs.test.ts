/**
 * The job list and orphan cancellation in a real browser (Debian's chromium via playwright-core):
 * a job the page starts appears in the list with a Cancel button that cancels it; after a reload
 * (within the grace period) the job still runs; when the tab is closed it is cancelled; the page
 * has an h1 and keyboard-navigable tabs; a file too big for a YAFFS2 image is refused with the
 * image unchanged. Fails (never skips) without chromium.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ORPHAN_GRACE_MS } from '../src/server/page-sessions.ts';
import { startHarness } from './browser-harness.ts';
import type { Harness } from './browser-harness.ts';

let harness: Harness;

const steppedRun = {
  preset: 'seed-mini', overProvisioning: 0.2, gcPolicy: 'greedy', gcUnit: 'superblock', dynamicWearLeveling: true, staticWearLeveling: false,
  workload: 'seq', writes: 50, writesAreMultiple: false, precondition: false, seed: 1, stepped: true,
};

/** Starts a stepped SSD run (it waits for controls, so it runs until cancelled) as the page would: with the page's session. */
async function startFromPage(background = false): Promise<string> {
  return harness.page.evaluate(async ([body, background]) => {
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'X-Flashdiff-Session': document.body.dataset.session! };
    if (background) headers['X-Flashdiff-Background'] = '1';
    const r = await fetch('api/ssd/runs', { method: 'POST', headers, body: JSON.stringify(body) });
    return ((await r.json()) as { id: string }).id;
  }, [steppedRun, background] as const);
}

function stateOf(id: string): string | undefined {
  return harness.server.state.jobs.list().find((j) => j.id === id)?.state;
}

async function waitFor(what: string, f: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('dashboard jobs in a browser', { timeout: 180_000 }, () => {
  before(async () => {
    harness = await startHarness({ width: 1400, height: 900 });
    await harness.page.goto(harness.server.url);
    await harness.page.waitForSelector('section.job-list');
  });
  after(async () => harness?.close());

  test('the page has one h1 and tabs that the arrow keys move between', async () => {
    assert.equal(await harness.page.locator('h1').count(), 1);
    await harness.page.focus('#tab-ssd');
    await harness.page.keyboard.press('ArrowRight');
    assert.equal(await harness.page.getAttribute('#tab-yaffs2', 'aria-selected'), 'true');
    assert.equal(await harness.page.evaluate(() => document.activeElement?.id), 'tab-yaffs2');
    await harness.page.keyboard.press('Home');
    assert.equal(await harness.page.getAttribute('#tab-ssd', 'aria-selected'), 'true');
  });

  test('a running job is listed with Cancel, in sight at 1400×900; Cancel cancels it', async () => {
    const id = await startFromPage();
    const row = harness.page.locator(`tr[data-job="${id}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-state'), 'running');
    const cancel = row.locator('button.job-cancel');
    const box = await cancel.boundingBox();
    assert.ok(box && box.y + box.height <= 900, `Cancel is below the fold: ${JSON.stringify(box)}`);
    await cancel.click();
    await harness.page.locator(`tr[data-job="${id}"][data-state="cancelled"]`).waitFor({ timeout: 30_000 });
    assert.equal(stateOf(id), 'cancelled');
  });

  test('a reloaded page’s job is cancelled after the grace period; a background job outlives its closed tab', async () => {
    const id = await startFromPage();
    await harness.page.reload();
    await harness.page.waitForSelector('section.job-list');
    assert.equal(stateOf(id), 'running', 'cancelled before the grace period');
    await waitFor('the reloaded page’s job to be cancelled', () => stateOf(id) === 'cancelled', ORPHAN_GRACE_MS + 20_000);
    await harness.page.locator(`tr[data-job="${id}"][data-state="cancelled"]`).waitFor({ timeout: 10_000 });
    const background = await startFromPage(true);
    const foreground = await startFromPage();
    assert.equal(harness.pageErrors.filter((e) => !/Failed to load resource/.test(e)).length, 0, harness.pageErrors.join('\n'));
    await harness.page.close();
    await waitFor('the closed tab’s job to be cancelled', () => stateOf(foreground) === 'cancelled', ORPHAN_GRACE_MS + 20_000);
    assert.equal(stateOf(background), 'running');
    harness.server.state.jobs.get(background).cancel();
  });

  test('SSD: after Cancel the Report panel says cancelled, not "Running…"', async () => {
    const page = await harness.context.newPage();
    await page.goto(`${harness.server.url}#ssd`);
    await page.click('[data-testid=ssd-step-start]');
    const row = page.locator('tr[data-state="running"] button.job-cancel');
    await row.first().waitFor();
    await row.first().click();
    await page.waitForFunction(() => document.querySelector('[data-testid=ssd-report]')?.textContent?.includes('Cancelled: no report.'), undefined, { timeout: 30_000 });
    assert.doesNotMatch((await page.textContent('[data-testid=ssd-report]')) ?? '', /Running…|Stepping/);
    await page.close();
  });

  test('YAFFS2: an upload that hits ENOSPC inside the image leaves the image unchanged', async () => {
    const page = await harness.context.newPage();
    await page.goto(`${harness.server.url}#yaffs2`);
    await page.fill('input[name=blocks]', '8');
    await page.click('[data-testid=yaffs-create]');
    await page.waitForSelector('[data-testid=yaffs-files] tbody tr');
    await page.setInputFiles('[data-testid=yaffs-upload]', { name: 'keep.bin', mimeType: 'application/octet-stream', buffer: Buffer.from('kept\n') });
    await page.click('button:has-text("Upload here")');
    await page.waitForSelector('[data-testid=yaffs-files] tr:has-text("keep.bin")');
    const download = async (): Promise<Buffer> => {
      const [file] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Download image")')]);
      return readFileSync(await file.path());
    };
    const before = await download();
    await page.setInputFiles('[data-testid=yaffs-upload]', { name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(8 * 64 * 2048, 0x5a) });
    await page.click('button:has-text("Upload here")');
    const message = await page.waitForSelector('#view-yaffs2 .message-error');
    assert.match((await message.textContent()) ?? '', /ENOSPC.*unchanged/);
    assert.equal(await page.locator('[data-testid=yaffs-files] tr:has-text("huge.bin")').count(), 0);
    assert.ok((await download()).equals(before), 'the image changed');
    await page.close();
  });
});
