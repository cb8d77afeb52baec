/**
 * The dashboard's forms in Debian's chromium (playwright-core): Enter in a field submits the form
 * it belongs to on every view (SSD Run, YAFFS2 Create and Make folder, Diffusion Sample and — in
 * its own form — Train), each model's defaults (the shipped model's guidance 1.4), η and steps
 * disabled for DDPM, and "DDPM (all steps)" running all T steps of the checkpoint.
 * (The Text to image view's Enter is in browser-t2i.test.ts, which has a tiny model.)
 * Fails (never skips) without chromium.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobKind } from '../src/shared/protocol.ts';
import { startHarness } from './browser-harness.ts';
import type { Harness } from './browser-harness.ts';
import { makeTinyCheckpoint } from './tiny-checkpoint.ts';

let harness: Harness;
let checkpoints: string;

function jobsOf(kind: JobKind): { id: string; state: string }[] {
  return harness.server.state.jobs.list().filter((j) => j.kind === kind);
}

async function waitFor(what: string, f: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Under a minute on a quiet machine; the limit leaves room for a 2-core machine at load 16.
describe('dashboard forms in chromium', { timeout: 360_000 }, () => {
  before(async () => {
    checkpoints = mkdtempSync(join(tmpdir(), 'dashboard-forms-'));
    await makeTinyCheckpoint(checkpoints);
    harness = await startHarness({ checkpointDirectory: checkpoints, width: 1400, height: 900 });
    await harness.page.goto(harness.server.url);
    await harness.page.waitForSelector('section.job-list');
  });
  after(async () => {
    await harness?.close();
    rmSync(checkpoints, { recursive: true, force: true });
  });

  test('SSD: Enter in a field runs', async () => {
    const { page } = harness;
    await page.click('#tab-ssd');
    await page.waitForSelector('select[name=preset] option', { state: 'attached' });
    assert.equal(jobsOf('ssd-run').length, 0);
    await page.press('#view-ssd input[name=seed]', 'Enter');
    await waitFor('an SSD run started by Enter', () => jobsOf('ssd-run').length === 1);
    const cancel = '#view-ssd .actions .progress button:has-text("Cancel"):not([disabled])';
    await page.waitForSelector(cancel, { timeout: 30_000 });
    // Cancel it unless it already ended (the seed mini SSD at 100 writes / s takes seconds).
    if (jobsOf('ssd-run')[0]!.state === 'running') await page.click(cancel).catch(() => undefined);
    await page.waitForSelector('[data-testid=ssd-run]:not([disabled])', { timeout: 30_000 });
  });

  test('YAFFS2: Enter in Blocks creates the image; Enter in the folder name makes the folder', async () => {
    const { page } = harness;
    await page.click('#tab-yaffs2');
    await page.fill('input[name=blocks]', '16');
    await page.press('input[name=blocks]', 'Enter');
    await page.waitForSelector('[data-testid=yaffs-files] tbody tr');
    assert.match((await page.textContent('#view-yaffs2 .image-info')) ?? '', /16 blocks/);
    await page.fill('[data-testid=yaffs-mkdir-name]', 'by-enter');
    await page.press('[data-testid=yaffs-mkdir-name]', 'Enter');
    await page.waitForSelector('[data-testid=yaffs-files] a.dir:has-text("by-enter/")');
    assert.equal(await page.inputValue('[data-testid=yaffs-mkdir-name]'), '');
  });

  test('Diffusion: the shipped model’s guidance 1.4 by default; η and steps disabled for DDPM', async () => {
    const { page } = harness;
    await page.click('#tab-diffusion');
    const tinyOption = '[data-testid=diffusion-checkpoint] option[value$="tiny"]';
    await page.waitForSelector(tinyOption, { state: 'attached' });
    const chosen = await page.$eval('[data-testid=diffusion-checkpoint]', (s) => (s as HTMLSelectElement).selectedOptions[0]?.textContent ?? '');
    assert.match(chosen, /\(shipped\)$/, 'the shipped model is chosen first');
    assert.equal(await page.inputValue('#view-diffusion input[name=guidance]'), '1.4');
    // A checkpoint of the user's own starts from guidance 1 (no evaluated default).
    await page.selectOption('[data-testid=diffusion-checkpoint]', { value: await page.$eval(tinyOption, (o) => (o as HTMLOptionElement).value) });
    assert.equal(await page.inputValue('#view-diffusion input[name=guidance]'), '1');
    // The shipped model's class 3 is out of the tiny model's two classes: brought into range.
    assert.equal(await page.inputValue('#view-diffusion input[name=class]'), '1');
    const labels = await page.$$eval('select[name=sampler] option', (os) => os.map((o) => [(o as HTMLOptionElement).value, o.textContent]));
    assert.deepEqual(labels, [['ddim', 'DDIM'], ['ddpm', 'DDPM (all steps)']]);
    assert.equal(await page.isDisabled('input[name=eta]'), false);
    assert.equal(await page.isDisabled('#view-diffusion input[name=steps]'), false);
    await page.selectOption('select[name=sampler]', 'ddpm');
    assert.equal(await page.isDisabled('input[name=eta]'), true, 'η is disabled for DDPM');
    assert.equal(await page.isDisabled('#view-diffusion input[name=steps]'), true, 'steps are disabled for DDPM (it runs all T)');
    await page.selectOption('select[name=sampler]', 'ddim');
    assert.equal(await page.isDisabled('input[name=eta]'), false, 'η comes back for DDIM');
    await page.selectOption('select[name=sampler]', 'ddpm');
  });

  test('Diffusion: Enter in a sampling field samples, and "DDPM (all steps)" runs all T = 50 steps', async () => {
    const { page } = harness;
    // Steps says 25 (DDIM's default) but is disabled: DDPM must not take it.
    assert.equal(await page.inputValue('#view-diffusion input[name=steps]'), '25');
    await page.fill('#view-diffusion input[name=count]', '1');
    await page.fill('#view-diffusion input[name=frameEvery]', '10');
    await page.press('#view-diffusion input[name=seed]', 'Enter');
    await waitFor('a sampling job started by Enter', () => jobsOf('diffusion-sample').length === 1);
    assert.equal(jobsOf('diffusion-train').length, 0, 'Enter in a sampling field does not train');
    await waitFor('the sampling job to end', () => jobsOf('diffusion-sample')[0]!.state !== 'running', 120_000);
    assert.equal(jobsOf('diffusion-sample')[0]!.state, 'done', JSON.stringify(harness.server.state.jobs.list().filter((j) => j.kind === 'diffusion-sample')));
    await page.waitForSelector('[data-testid=diffusion-download]:not([disabled])', { timeout: 30_000 });
    assert.match((await page.textContent('#view-diffusion .caption')) ?? '', /^x after step 50 of 50 \(the step from t = 0\): the samples$/);
    const result = Object.fromEntries(
      await page.$$eval('#view-diffusion table.kv tr', (rows) => rows.map((r) => [r.querySelector('th')?.textContent ?? '', r.querySelector('td')?.textContent ?? ''])),
    );
    assert.equal(result.sampler, 'ddpm');
    assert.equal(result.steps, '50', 'all T = 50 steps of the tiny checkpoint');
  });

  test('Diffusion: Enter in a training field trains (its own form), not samples', async () => {
    const { page } = harness;
    await page.click('#view-diffusion details.train summary');
    await page.fill('input[name=trainName]', 'by-enter');
    await page.fill('input[name=trainImages]', '20');
    await page.fill('input[name=batch]', '10');
    await page.fill('input[name=nFeat]', '8');
    await page.fill('input[name=timesteps]', '20');
    await page.press('input[name=trainName]', 'Enter');
    await waitFor('a training job started by Enter', () => jobsOf('diffusion-train').length === 1);
    assert.equal(jobsOf('diffusion-sample').length, 1, 'Enter in a training field does not sample');
    const trainCancel = '#view-diffusion .actions .action-job:has-text("Training") button:has-text("Cancel"):not([disabled])';
    await page.waitForSelector(trainCancel, { timeout: 60_000 });
    if (jobsOf('diffusion-train')[0]!.state === 'running') await page.click(trainCancel).catch(() => undefined);
    await page.waitForSelector('[data-testid=diffusion-train]:not([disabled])', { timeout: 60_000 });
    await waitFor('the training job to end', () => jobsOf('diffusion-train')[0]!.state !== 'running');
    assert.deepEqual(harness.pageErrors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});
