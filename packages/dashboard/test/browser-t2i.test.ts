/**
 * The Text to image view in Debian's chromium (playwright-core): pick the tiny random Stable
 * Diffusion model, take an example prompt, generate, see the preview drawn on the canvas, and
 * download the PNG. Fails (never skips) without chromium.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { SCREENSHOT_DIR, startHarness } from './browser-harness.ts';
import type { Harness } from './browser-harness.ts';

const DIFFUSION = fileURLToPath(new URL('../../diffusion/', import.meta.url));
let harness: Harness;
let root: string;

describe('Text to image in chromium', { timeout: 180_000 }, () => {
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dashboard-t2i-browser-'));
    const tiny = join(root, 'models', 'tiny-sd');
    mkdirSync(join(root, 'models'));
    cpSync(join(DIFFUSION, 'test', 'fixtures', 'sd', 'pipeline-tiny'), tiny, { recursive: true });
    cpSync(join(DIFFUSION, 'assets', 'clip-tokenizer'), join(tiny, 'tokenizer'), { recursive: true });
    writeFileSync(join(tiny, 'flashdiff.json'), JSON.stringify({ steps: 4, guidance: 3, examplePrompts: ['a small red circle', 'a blue square'] }));
    harness = await startHarness({ modelDirectory: join(root, 'models') });
    await harness.page.goto(`${harness.server.url}#t2i`);
    await harness.page.waitForSelector('[data-testid="t2i-model"] option[value$="tiny-sd"]', { state: 'attached' });
  });
  after(async () => {
    await harness?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('generate from an example prompt, watch the preview, download the PNG', async () => {
    const page = harness.page;
    // The model's recommended settings and first example are filled in.
    assert.equal(await page.inputValue('#view-t2i input[name="steps"]'), '4');
    assert.equal(await page.inputValue('[data-testid="t2i-prompt"]'), 'a small red circle');
    await page.click('[data-testid="t2i-examples"] button:has-text("a blue square")');
    assert.equal(await page.inputValue('[data-testid="t2i-prompt"]'), 'a blue square');
    await page.fill('#view-t2i input[name="width"]', '32');
    await page.fill('#view-t2i input[name="height"]', '32');
    await page.fill('#view-t2i input[name="previewEvery"]', '1');
    // Enter in a field submits the form.
    await page.press('#view-t2i input[name="height"]', 'Enter');
    await page.waitForSelector('[data-testid="t2i-download"]:not([disabled])', { timeout: 120_000 });
    const caption = await page.textContent('[data-testid="t2i-caption"]');
    assert.match(caption ?? '', /the final image for “a blue square”/);
    const drawn = await page.$eval('[data-testid="t2i-canvas"]', (canvas) => {
      const c = canvas as HTMLCanvasElement;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let nonBlack = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i]! + data[i + 1]! + data[i + 2]! > 0) nonBlack++;
      return { width: c.width, height: c.height, nonBlack, label: c.getAttribute('aria-label') };
    });
    assert.deepEqual([drawn.width, drawn.height], [32, 32]);
    assert.ok(drawn.nonBlack > 0, 'the canvas shows the image');
    assert.match(drawn.label ?? '', /a blue square/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="t2i-download"]')]);
    const saved = join(root, 'image.png');
    await download.saveAs(saved);
    const png = PNG.sync.read(readFileSync(saved));
    assert.deepEqual([png.width, png.height], [32, 32]);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 't2i.png') });
    assert.deepEqual(harness.pageErrors, []);
  });

  test('Enter in the prompt generates; Shift+Enter breaks the line', async () => {
    const page = harness.page;
    const generations = (): number => harness.server.state.jobs.list().filter((j) => j.kind === 't2i-generate').length;
    const before = generations();
    await page.fill('[data-testid="t2i-prompt"]', 'a green');
    await page.press('[data-testid="t2i-prompt"]', 'Shift+Enter');
    await page.type('[data-testid="t2i-prompt"]', 'triangle');
    assert.equal(await page.inputValue('[data-testid="t2i-prompt"]'), 'a green\ntriangle');
    assert.equal(generations(), before, 'Shift+Enter does not generate');
    await page.press('[data-testid="t2i-prompt"]', 'Enter');
    assert.equal(await page.inputValue('[data-testid="t2i-prompt"]'), 'a green\ntriangle', 'Enter adds no line');
    await page.waitForFunction(() => document.querySelector('[data-testid="t2i-caption"]')?.textContent?.includes('triangle'), undefined, { timeout: 120_000 });
    await page.waitForSelector('[data-testid="t2i-download"]:not([disabled])', { timeout: 120_000 });
    assert.equal(generations(), before + 1);
    assert.deepEqual(harness.pageErrors, []);
  });
});
