/**
 * Shared by the browser test and the screenshot script: starts the dashboard in-process on a
 * free port and Debian's chromium through playwright-core with a fresh profile.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { ensureClientBuilt } from '../src/server/client-build.ts';
import { startDashboardServer } from '../src/server/server.ts';
import type { DashboardServer } from '../src/server/server.ts';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = fileURLToPath(new URL('../screenshots/', import.meta.url));
/** Headless, no sandbox (root in CI), nothing fetched from outside. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Fails (the test never skips) when chromium is not installed. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`chromium is missing at ${CHROMIUM_PATH}: install it (apt-get install chromium; .ci/run does) — the browser test cannot run without it`);
  }
}

export interface Harness {
  readonly server: DashboardServer;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Page errors and console errors seen so far. */
  readonly pageErrors: string[];
  close(): Promise<void>;
}

export async function startHarness(options: { checkpointDirectory?: string; modelDirectory?: string; width?: number; height?: number } = {}): Promise<Harness> {
  requireChromium();
  await ensureClientBuilt();
  const server = await startDashboardServer({
    port: 0,
    ...(options.checkpointDirectory ? { checkpointDirectory: options.checkpointDirectory } : {}),
    ...(options.modelDirectory ? { modelDirectory: options.modelDirectory, shippedT2iModels: [] } : {}),
  });
  const profile = mkdtempSync(join(tmpdir(), 'flashdiff-chromium-'));
  let context: BrowserContext;
  try {
    // A fresh profile directory per run (playwright passes it as --user-data-dir).
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: options.width ?? 1400, height: options.height ?? 1000 },
      acceptDownloads: true,
    });
  } catch (e) {
    await server.close();
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return {
    server,
    context,
    page,
    pageErrors,
    async close() {
      await context.close().catch(() => undefined);
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
