/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core opens the page,
 * runs a small SSD simulation, creates and browses a small YAFFS2 image, samples from a tiny
 * diffusion checkpoint, and checks from the canvas pixels that the pictures were drawn.
 * Screenshots go to packages/dashboard/screenshots/. Fails (never skips) without chromium.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GC_HIGHLIGHT, PAGE_COLORS, YAFFS_BLOCK_COLORS } from '../src/shared/colors.ts';
import { SCREENSHOT_DIR, startHarness } from './browser-harness.ts';
import { makeTinyCheckpoint } from './tiny-checkpoint.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PNG } from 'pngjs';
import type { Harness } from './browser-harness.ts';

/** Counts the canvas's pixels of each given exact colour. */
async function countColours(harness: Harness, selector: string, colours: Record<string, readonly number[]>): Promise<Record<string, number>> {
  return harness.page.$eval(
    selector,
    (canvas, wanted) => {
      const c = canvas as HTMLCanvasElement;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const counts: Record<string, number> = {};
      for (const name of Object.keys(wanted)) counts[name] = 0;
      for (let i = 0; i < data.length; i += 4) {
        for (const [name, rgb] of Object.entries(wanted)) {
          if (data[i] === rgb[0] && data[i + 1] === rgb[1] && data[i + 2] === rgb[2]) counts[name]!++;
        }
      }
      return counts;
    },
    colours as Record<string, number[]>,
  );
}

let harness: Harness;
let checkpoints: string;

// About a minute on a quiet machine; the limit leaves room for a loaded one (185 s at load 16 on 2 cores).
describe('dashboard in chromium', { timeout: 360_000 }, () => {
  before(async () => {
    checkpoints = mkdtempSync(join(tmpdir(), 'dashboard-checkpoints-'));
    await makeTinyCheckpoint(checkpoints);
    harness = await startHarness({ checkpointDirectory: checkpoints });
    // The canvases' own texts (the heatmap's axis labels) are recorded as they are drawn.
    await harness.page.addInitScript(() => {
      const texts: string[] = [];
      (window as unknown as { canvasTexts: string[] }).canvasTexts = texts;
      const fillText = CanvasRenderingContext2D.prototype.fillText;
      CanvasRenderingContext2D.prototype.fillText = function (text: string, ...rest: [number, number, number?]) {
        texts.push(String(text));
        return fillText.call(this, text, ...rest);
      };
    });
    await harness.page.goto(harness.server.url);
    await harness.page.waitForSelector('#tab-ssd');
  });
  after(async () => {
    await harness?.close();
    rmSync(checkpoints, { recursive: true, force: true });
  });

  test('the page loads with its four tabs and no script errors', async () => {
    const tabs = await harness.page.$$eval('nav.tabs .tab', (els) => els.map((e) => e.textContent));
    assert.deepEqual(tabs, ['SSD', 'YAFFS2', 'Diffusion', 'Text to image']);
    assert.deepEqual(harness.pageErrors, []);
  });

  test('SSD: stepping the seed mini SSD one host write at a time', async () => {
    const { page } = harness;
    await page.click('#tab-ssd');
    await page.waitForSelector('select[name=preset] option[value=seed-mini]', { state: 'attached' });
    assert.equal(await page.inputValue('select[name=preset]'), 'seed-mini', 'the seed mini SSD is the first preset');
    await page.click('[data-testid=ssd-step-start]');
    await page.waitForSelector('[data-testid=ssd-step]:not([disabled])');
    await page.click('[data-testid=ssd-step]');
    await page.waitForFunction(() => document.querySelector('[data-testid=ssd-status]')?.textContent?.includes('host writes 1 '));
    const status = await page.textContent('[data-testid=ssd-status]');
    assert.match(status ?? '', /host write of LBA 0 → page 0/);
    const afterOne = await countColours(harness, '[data-testid=block-map]', { valid: PAGE_COLORS.valid, invalid: PAGE_COLORS.invalid });
    assert.ok(afterOne.valid > 0, 'one valid page is drawn after one write');
    assert.equal(afterOne.invalid, 0, 'nothing is invalid after one write to an empty drive');
    // 24 × 10 writes: the user space (180 pages) fills and its first pages are rewritten into OP.
    for (let i = 0; i < 24; i++) await page.click('button:has-text("Step 10")');
    await page.waitForFunction(() => document.querySelector('[data-testid=ssd-status]')?.textContent?.includes('host writes 241 '), undefined, { timeout: 30_000 });
    const colours = await countColours(harness, '[data-testid=block-map]', { valid: PAGE_COLORS.valid, invalid: PAGE_COLORS.invalid, free: PAGE_COLORS.free, gc: GC_HIGHLIGHT });
    assert.ok(colours.valid > 0 && colours.invalid > 0, `valid and invalid pages drawn: ${JSON.stringify(colours)}`);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'ssd-stepping.png'), fullPage: true });
    await page.click('#view-ssd .progress button:has-text("Cancel")');
    await page.waitForSelector('[data-testid=ssd-run]:not([disabled])');
  });

  test('SSD: a live run of random writes ends with a report and a WAF above 1', async () => {
    const { page } = harness;
    await page.selectOption('select[name=workload]', 'uniform');
    await page.selectOption('select[name=gcUnit]', 'block');
    await page.check('input[name=precondition]');
    await page.fill('input[name=writes]', '4x');
    await page.selectOption('select[name=speed]', '0');
    await page.click('[data-testid=ssd-run]');
    await page.waitForSelector('[data-testid=ssd-report] .headline', { timeout: 60_000 });
    const waf = Number(await page.textContent('[data-testid=ssd-report] .metric:first-child .metric-value'));
    assert.ok(waf > 1 && waf < 10, `WAF ${waf} after random overwrites with 20 % OP`);
    const colours = await countColours(harness, '[data-testid=block-map]', { valid: PAGE_COLORS.valid, invalid: PAGE_COLORS.invalid, gc: GC_HIGHLIGHT });
    assert.ok(colours.valid > 0 && colours.invalid > 0 && colours.gc > 0, `valid, invalid and the GC victim drawn: ${JSON.stringify(colours)}`);
    const heat = await harness.page.$eval('[data-testid=erase-heatmap]', (c) => (c as HTMLCanvasElement).width);
    assert.ok(heat > 0);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'ssd-run.png'), fullPage: true });
  });

  test('SSD: the plots of that run — axis titles with units, a data table of the same numbers, values on hover', async () => {
    const { page } = harness;
    const axes: Record<string, string[]> = {
      'chart-interval-waf': ['host page writes (measured)', 'write amplification', 'interval WAF', 'cumulative WAF'],
      'chart-free-blocks': ['host page writes (measured)', 'free blocks'],
      'chart-erase-histogram': ['erase count', 'blocks'],
      'chart-latency-cdf': ['latency (µs, log scale)', 'fraction of operations ≤ latency', 'writes'],
    };
    const tables: Record<string, string[][]> = {};
    // The run is over: every chart has drawn its last frame (redraws are throttled to 4 a second).
    await page.waitForFunction((ids) => ids.every((id) => document.querySelector(`[data-testid=${id}]`)?.closest('.chart')?.getAttribute('data-state') === 'drawn'), Object.keys(axes));
    for (const [id, titles] of Object.entries(axes)) {
      // Vega's SVG (the CLI's chart spec), with its texts and an accessible description.
      await page.waitForSelector(`[data-testid=${id}] svg`);
      const texts = await page.$$eval(`[data-testid=${id}] svg text`, (els) => els.map((e) => e.textContent ?? ''));
      for (const title of titles) assert.ok(texts.includes(title), `${id}: '${title}' is drawn (${JSON.stringify(texts.filter((t) => t.length > 5))})`);
      assert.ok(await page.$(`[data-testid=${id}] svg [aria-label], [data-testid=${id}] svg[aria-label]`), `${id}: the SVG carries aria labels`);
      await page.click(`[data-testid=${id}] ~ details.chart-data summary`);
      // The table is built on the disclosure's 'toggle' event, which the browser fires after the click.
      await page.waitForSelector(`[data-testid=${id}-table] tbody tr`, { state: 'attached' });
      tables[id] = await page.$$eval(`[data-testid=${id}-table] tbody tr`, (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      assert.ok(tables[id]!.length > 0, `${id}: its data table has rows`);
      // The hover readout names the values under the pointer.
      await page.hover(`[data-testid=${id}] svg`);
      const readout = (await page.textContent(`[data-testid=${id}-readout]`))?.trim() ?? '';
      assert.ok(readout.length > 5, `${id}: a value shown on hover`);
    }
    const number = (text: string): number => Number(text.replace(/,/g, ''));
    // Interval WAF: the table's last cumulative WAF is the report's WAF; the series spans the run.
    const reportWaf = Number(await page.textContent('[data-testid=ssd-report] .metric:first-child .metric-value'));
    const lastWaf = tables['chart-interval-waf']!.at(-1)!;
    assert.equal(number(lastWaf[0]!), 720, 'the last point is the run’s end: 4 × 180 user pages');
    assert.ok(Math.abs(number(lastWaf[2]!) - reportWaf) < 0.001, `cumulative WAF ${lastWaf[2]} vs the report's ${reportWaf}`);
    const intervalWafs = tables['chart-interval-waf']!.map((r) => number(r[1]!));
    assert.ok(intervalWafs.every((w) => w >= 1), `every interval WAF ≥ 1: ${intervalWafs.join(' ')}`);
    // Free blocks: the last row is what the status line says.
    const status = (await page.textContent('[data-testid=ssd-status]')) ?? '';
    assert.equal(tables['chart-free-blocks']!.at(-1)![1], /free blocks (\d+)/.exec(status)![1]);
    // The erase-count histogram (server side, @flashdiff/ssd eraseStats) bins the heatmap's per-block counts.
    await page.click('[data-testid=erase-heatmap] ~ details.chart-data summary');
    await page.waitForSelector('[data-testid=erase-heatmap-table] tbody tr', { state: 'attached' });
    const perBlock = await page.$$eval('[data-testid=erase-heatmap-table] tbody tr', (rows) => rows.map((r) => Number(r.querySelectorAll('td')[2]!.textContent)));
    assert.equal(perBlock.length, 24);
    for (const [range, count] of tables['chart-erase-histogram']!) {
      const [from, to] = range!.split('–').map(Number) as [number, number?];
      assert.equal(perBlock.filter((e) => e >= from && e <= (to ?? from)).length, Number(count), `blocks with erase count ${range}`);
    }
    assert.equal(tables['chart-erase-histogram']!.reduce((n, r) => n + Number(r[1]), 0), 24);
    await page.hover('[data-testid=erase-heatmap]', { position: { x: 56, y: 8 } });
    assert.equal(await page.textContent('[data-testid=erase-heatmap-readout]'), `die 0, block 0: ${perBlock[0]} erases`);
    // The heatmap's axes: die numbers on one, blocks within the die on the other, both titled.
    const canvasTexts = await page.evaluate(() => (window as unknown as { canvasTexts: string[] }).canvasTexts);
    for (const text of ['die', 'block within the die', '0', '3', '5']) assert.ok(canvasTexts.includes(text), `the heatmap draws '${text}'`);
    // The block map's text alternative: every block's pages by state; the valid pages are the
    // 180 user pages (the drive was filled first), one block is the last GC victim.
    await page.click('[data-testid=block-map] ~ details.chart-data summary');
    await page.waitForSelector('[data-testid=block-map-table] tbody tr', { state: 'attached' });
    const blockRows = await page.$$eval('[data-testid=block-map-table] tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    assert.equal(blockRows.length, 24);
    assert.equal(blockRows.reduce((n, r) => n + Number(r[2]), 0), 180, 'valid pages over all blocks');
    assert.ok(blockRows.every((r) => Number(r[2]) + Number(r[3]) + Number(r[4]) === 9), 'each block: 9 pages');
    assert.ok(blockRows.some((r) => r[5] === 'last GC victim'));
    // Latency: writes only (the workload writes), the CDF climbing to 1.
    const cdf = tables['chart-latency-cdf']!;
    assert.ok(cdf.every((r) => r[0] === 'writes'));
    assert.equal(Number(cdf.at(-1)![2]), 1);
    const fractions = cdf.map((r) => Number(r[2]));
    assert.ok(fractions.every((f, i) => i === 0 || f >= fractions[i - 1]!), 'the CDF never falls');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'ssd-plots.png'), fullPage: true });
  });

  test('SSD: a bad setting is answered by a message on the page', async () => {
    const { page } = harness;
    await page.fill('input[name=overProvisioning]', '0');
    await page.click('[data-testid=ssd-run]');
    const message = await page.waitForSelector('#view-ssd .message-error');
    assert.match((await message.textContent()) ?? '', /overProvisioning/);
    await page.fill('input[name=overProvisioning]', '0.2');
  });

  test('YAFFS2: create an image, make a folder, upload, browse and download a file', async () => {
    const { page } = harness;
    await page.click('#tab-yaffs2');
    await page.fill('input[name=blocks]', '32');
    await page.click('[data-testid=yaffs-create]');
    await page.waitForSelector('[data-testid=yaffs-files] tbody tr');
    await page.fill('[data-testid=yaffs-mkdir-name]', 'docs');
    await page.click('[data-testid=yaffs-mkdir]');
    await page.waitForSelector('[data-testid=yaffs-files] a.dir:has-text("docs/")');
    await page.click('[data-testid=yaffs-files] a.dir:has-text("docs/")');
    await page.waitForFunction(() => document.querySelector('[data-testid=yaffs-path]')?.textContent?.includes('docs'));
    // 5000 bytes span three 2048-byte chunks, the last one partly.
    const content = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7 + 3) & 0xff));
    await page.setInputFiles('[data-testid=yaffs-upload]', { name: 'notes.bin', mimeType: 'application/octet-stream', buffer: content });
    await page.click('button:has-text("Upload here")');
    const row = await page.waitForSelector('[data-testid=yaffs-files] tr:has-text("notes.bin")');
    assert.match((await row.textContent()) ?? '', /5,000/);
    const [download] = await Promise.all([page.waitForEvent('download'), row.$('button:has-text("download")').then((b) => b!.click())]);
    const path = await download.path();
    assert.deepEqual(readFileSync(path), content, 'the file reads back byte for byte');
    const blocks = await countColours(harness, '[data-testid=yaffs-blocks]', {
      empty: YAFFS_BLOCK_COLORS.empty!,
      allocating: YAFFS_BLOCK_COLORS.allocating!,
    });
    assert.ok(blocks.empty > 0 && blocks.allocating > 0, `empty and allocating blocks drawn: ${JSON.stringify(blocks)}`);
    // Making the same folder twice is an error shown on the page.
    await page.click('[data-testid=yaffs-path] a:has-text("root")');
    await page.fill('[data-testid=yaffs-mkdir-name]', 'docs');
    await page.click('[data-testid=yaffs-mkdir]');
    const message = await page.waitForSelector('#view-yaffs2 .message-error');
    assert.match((await message.textContent()) ?? '', /EEXIST/);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'yaffs2.png'), fullPage: true });
  });

  test('Diffusion: sample from a tiny checkpoint, watch the frames, download the grid', async () => {
    const { page } = harness;
    await page.click('#tab-diffusion');
    const tinyOption = '[data-testid=diffusion-checkpoint] option[value$="tiny"]';
    await page.waitForSelector(tinyOption, { state: 'attached' });
    // The model shipped with @flashdiff/diffusion is offered first and chosen by default.
    const chosen = await page.$eval('[data-testid=diffusion-checkpoint]', (select) => (select as HTMLSelectElement).selectedOptions[0]?.textContent ?? '');
    assert.match(chosen, /\(shipped\)$/);
    await page.selectOption('[data-testid=diffusion-checkpoint]', { value: await page.$eval(tinyOption, (o) => (o as HTMLOptionElement).value) });
    await page.selectOption('select[name=sampler]', 'ddim');
    await page.fill('input[name=steps]', '10');
    await page.fill('input[name=class]', '0');
    await page.fill('input[name=count]', '4');
    await page.fill('input[name=guidance]', '2');
    await page.click('[data-testid=diffusion-sample]');
    await page.waitForSelector('[data-testid=diffusion-download]:not([disabled])', { timeout: 60_000 });
    const stats = await page.$eval('[data-testid=diffusion-frame]', (canvas) => {
      const c = canvas as HTMLCanvasElement;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const values = new Set<number>();
      for (let i = 0; i < data.length; i += 4) values.add(data[i]!);
      return { width: c.width, height: c.height, distinct: values.size };
    });
    // 4 images of 8 × 8 in a 2 × 2 grid with 1-pixel gaps: 19 × 19.
    assert.deepEqual([stats.width, stats.height], [19, 19]);
    assert.ok(stats.distinct > 8, `the sampled image has ${stats.distinct} distinct grey levels: not blank or constant`);
    const thumbnails = await page.$$eval('[data-testid=diffusion-strip] canvas', (els) => els.length);
    assert.ok(thumbnails >= 2, 'the progression strip shows several frames');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=diffusion-download]')]);
    const png = PNG.sync.read(readFileSync(await download.path()));
    assert.deepEqual([png.width, png.height], [19, 19]);
    const greys = new Set<number>();
    for (let i = 0; i < png.data.length; i += 4) greys.add(png.data[i]!);
    assert.ok(greys.size > 8, 'the downloaded grid is not constant');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'diffusion.png'), fullPage: true });
  });

  test('the server refuses other origins and hosts with 403', async () => {
    const url = new URL('api/capabilities', harness.server.url);
    const foreign = await fetch(url, { headers: { Origin: 'http://evil.example' } });
    assert.equal(foreign.status, 403);
    assert.equal(((await foreign.json()) as { error: { code: string } }).error.code, 'FORBIDDEN');
    const post = await fetch(new URL('api/ssd/runs', harness.server.url), {
      method: 'POST',
      headers: { Origin: 'http://evil.example', 'Content-Type': 'application/json' },
      body: '{}',
    });
    assert.equal(post.status, 403);
    const own = await fetch(url, { headers: { Origin: harness.server.url.replace(/\/$/, '') } });
    assert.equal(own.status, 200);
    // DNS rebinding: the right address under another name.
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(url, { headers: { Host: `rebind.example:${harness.server.port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 403);
  });
});
