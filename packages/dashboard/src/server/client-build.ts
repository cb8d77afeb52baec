import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DashboardError } from './errors.ts';

/** The dashboard package's root directory (holds index.html and vite.config.ts). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where the built client lives (gitignored). */
export const DEFAULT_BUILD_DIR = join(PACKAGE_ROOT, 'build');
const STAMP = '.built';

/** Sources whose change makes the built client stale. */
function sourcePaths(): string[] {
  return [
    join(PACKAGE_ROOT, 'index.html'),
    join(PACKAGE_ROOT, 'vite.config.ts'),
    join(PACKAGE_ROOT, 'src', 'client'),
    join(PACKAGE_ROOT, 'src', 'shared'),
    join(PACKAGE_ROOT, 'package.json'),
  ];
}

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = s.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** True when the build is missing or older than any client source. */
export function clientBuildIsStale(buildDir = DEFAULT_BUILD_DIR): boolean {
  const stamp = join(buildDir, STAMP);
  if (!existsSync(stamp) || !existsSync(join(buildDir, 'index.html'))) return true;
  const built = statSync(stamp).mtimeMs;
  return sourcePaths().some((p) => newestMtime(p) > built);
}

/**
 * Builds the client with Vite's JS API when it is missing or stale. The bundle goes to a
 * temporary sibling directory first and is renamed into place, so a server never serves a
 * half-written build and two processes starting at once do not corrupt each other's.
 */
export async function ensureClientBuilt(
  options: { buildDir?: string; force?: boolean; log?: (line: string) => void } = {},
): Promise<{ built: boolean; buildDir: string }> {
  const buildDir = options.buildDir ?? DEFAULT_BUILD_DIR;
  if (!options.force && !clientBuildIsStale(buildDir)) return { built: false, buildDir };
  options.log?.('building the dashboard client (vite build)…');
  const temporary = `${buildDir}.tmp-${process.pid}-${Date.now()}`;
  try {
    const vite = await import('vite');
    await vite.build({
      configFile: join(PACKAGE_ROOT, 'vite.config.ts'),
      root: PACKAGE_ROOT,
      logLevel: 'warn',
      build: { outDir: temporary, emptyOutDir: true },
    });
    writeFileSync(join(temporary, STAMP), new Date().toISOString());
    mkdirSync(dirname(buildDir), { recursive: true });
    const old = `${buildDir}.old-${process.pid}-${Date.now()}`;
    if (existsSync(buildDir)) renameSync(buildDir, old);
    try {
      renameSync(temporary, buildDir);
    } catch (e) {
      // Another process put its build in place first: keep theirs.
      if (!existsSync(join(buildDir, 'index.html'))) throw e;
      rmSync(temporary, { recursive: true, force: true });
    }
    rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(temporary, { recursive: true, force: true });
    throw new DashboardError('BUILD_FAILED', `building the client failed: ${(e as Error).message}`, { cause: e });
  }
  return { built: true, buildDir };
}
