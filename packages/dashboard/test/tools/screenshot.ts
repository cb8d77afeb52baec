/**
 * Takes screenshots of each view for a look by eye: `npx tsx packages/dashboard/test/tools/screenshot.ts [ssd|yaffs2|diffusion]`.
 * Writes packages/dashboard/screenshots/look-*.png.
 */
import { join } from 'node:path';
import { SCREENSHOT_DIR, startHarness } from '../browser-harness.ts';

const which = process.argv[2] ?? 'ssd';
const harness = await startHarness({ ...(process.env.CHECKPOINTS ? { checkpointDirectory: process.env.CHECKPOINTS } : {}) });
const { page } = harness;
try {
  await page.goto(`${harness.server.url}#${which}`);
  await page.waitForSelector('nav.tabs .tab');
  if (which === 'ssd-large') {
    await page.waitForSelector('select[name=preset] option', { state: 'attached' });
    await page.selectOption('select[name=preset]', process.argv[3] ?? 'ssd-small');
    await page.fill('input[name=writes]', '2x');
    await page.click('[data-testid=ssd-run]');
    await page.waitForTimeout(4000);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'look-ssd-live.png'), fullPage: true });
    await page.waitForSelector('[data-testid=ssd-report] .headline', { timeout: 300_000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'look-ssd-run.png'), fullPage: true });
  } else if (which === 'yaffs2') {
    await page.fill('input[name=blocks]', '48');
    await page.click('[data-testid=yaffs-create]');
    await page.waitForSelector('[data-testid=yaffs-files] tbody tr');
    for (const folder of ['etc', 'var', 'home']) {
      await page.fill('[data-testid=yaffs-mkdir-name]', folder);
      await page.click('[data-testid=yaffs-mkdir]');
      await page.waitForSelector(`[data-testid=yaffs-files] a.dir:has-text("${folder}/")`);
    }
    const files = Array.from({ length: 6 }, (_, i) => ({ name: `log-${i}.bin`, mimeType: 'application/octet-stream', buffer: Buffer.alloc(90_000 + i * 7000, i + 1) }));
    await page.setInputFiles('[data-testid=yaffs-upload]', files);
    await page.click('button:has-text("Upload here")');
    await page.waitForSelector('[data-testid=yaffs-files] tr:has-text("log-5.bin")');
    page.on('dialog', (d) => void d.accept());
    for (const i of [1, 3]) {
      await page.click(`[data-testid=yaffs-files] tr:has-text("log-${i}.bin") button:has-text("delete")`);
      await page.waitForSelector(`[data-testid=yaffs-files] tr:has-text("log-${i}.bin")`, { state: 'detached' });
    }
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'look-yaffs2.png'), fullPage: true });
  } else if (which === 'diffusion') {
    await page.waitForSelector('[data-testid=diffusion-checkpoint] option', { state: 'attached' });
    await page.fill('input[name=class]', process.argv[3] ?? '3');
    await page.click('[data-testid=diffusion-sample]');
    await page.waitForTimeout(2500);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'look-diffusion-live.png'), fullPage: true });
    await page.waitForSelector('[data-testid=diffusion-download]:not([disabled])', { timeout: 300_000 });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'look-diffusion.png'), fullPage: true });
  } else if (which === 'ssd') {
    await page.waitForSelector('select[name=preset] option', { state: 'attached' });
    await page.selectOption('select[name=gcUnit]', 'superblock');
    await page.fill('input[name=writes]', '2x');
    await page.click('[data-testid=ssd-step-start]');
    await page.waitForSelector('[data-testid=ssd-step]:not([disabled])');
    for (let i = 0; i < 30; i++) await page.click('[data-testid=ssd-step]');
    await page.click('button:has-text("Step 10")');
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'look-ssd-step.png'), fullPage: true });
    for (let i = 0; i < 20; i++) await page.click('button:has-text("Step 10")');
    await page.waitForTimeout(1000);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'look-ssd-step2.png'), fullPage: true });
    await page.click('.progress button:has-text("Cancel")');
    await page.selectOption('select[name=preset]', 'ssd-small');
    await page.fill('input[name=writes]', '1x');
    await page.click('[data-testid=ssd-run]');
    await page.waitForSelector('[data-testid=ssd-report] .headline', { timeout: 120_000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'look-ssd-run.png'), fullPage: true });
  } else {
    await page.waitForTimeout(1500);
    await page.screenshot({ path: join(SCREENSHOT_DIR, `look-${which}.png`), fullPage: true });
  }
  if (harness.pageErrors.length) console.log('page errors:', harness.pageErrors);
} finally {
  await harness.close();
}
