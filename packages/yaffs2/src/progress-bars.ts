/**
 * The yaffs2 CLI's progress bars (cli-kit's progressBar: stderr, only on a terminal, with ETA):
 * the mount scan of the read commands (ls, info, fsck, extract) in erase blocks examined, and
 * the file contents of import and extract in bytes. A bar appears only once its command has
 * worked for PROGRESS_DELAY_MS: an image of a few MiB is read or written in well under that, and
 * a bar that flashes for a tenth of a second only adds noise to a terminal; a run that lasts long
 * enough to wonder about gets one. Time, not size, decides, because what matters to the user is
 * the wait (a 64 MiB image takes about a second on a loaded 2-core machine, a 1 GiB one many).
 * `--no-progress` turns them off. Upstream counterpart: none (mkyaffs2image and unyaffs are silent).
 */
import { progressBar } from '@flashdiff/cli-kit';
import type { Progress } from '@flashdiff/cli-kit';

/** No bar before a command has worked this long. */
export const PROGRESS_DELAY_MS = 500;

/**
 * The delay in force: YAFFS2_PROGRESS_DELAY_MS (milliseconds, e.g. 0 to see the bar on any run;
 * the tests use it so that a small image shows one) or PROGRESS_DELAY_MS.
 */
export function progressDelayMs(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.YAFFS2_PROGRESS_DELAY_MS;
  const n = Number(text);
  return text !== undefined && /^\d+$/.test(text) && Number.isSafeInteger(n) ? n : PROGRESS_DELAY_MS;
}

export interface CommandProgress {
  /**
   * Whether a bar can be drawn at all (enabled, stderr a terminal): when not, callers pass no
   * progress callbacks, so nothing is counted for a bar no one sees (extract's walk of the tree
   * for its byte total, a call per chunk).
   */
  readonly active: boolean;
  /** The mount scan: blocks examined (see scan()). */
  scan: (done: number, total: number) => void;
  /** Import's or extract's file contents: bytes. */
  bytes: (done: number, total: number) => void;
  /** Ends whichever bar is drawn (its line kept), before the command's own output or error. */
  stop(): void;
}

/**
 * The bars of one command, timed from this call (the command's start): the scan bar ends when
 * the byte bar begins. `bytesLabel` names the byte bar ('import', 'extract').
 */
export function commandProgress(enabled: boolean, bytesLabel = 'files'): CommandProgress {
  const started = performance.now();
  const delay = progressDelayMs();
  const delayMs = () => Math.max(0, delay - (performance.now() - started));
  let scanBar: Progress | null = null;
  let bytesBar: Progress | null = null;
  return {
    active: enabled && process.stderr.isTTY === true,
    scan(done, total) {
      scanBar ??= progressBar('scan', { enabled, delayMs: delayMs() });
      scanBar.update(done, total);
    },
    bytes(done, total) {
      if (!bytesBar) {
        scanBar?.stop();
        bytesBar = progressBar(bytesLabel, { enabled, delayMs: delayMs(), unit: 'bytes' });
      }
      bytesBar.update(done, total);
    },
    stop() {
      scanBar?.stop();
      bytesBar?.stop();
    },
  };
}
