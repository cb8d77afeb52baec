/**
 * Progress bars: on stderr, with percentage and ETA, and only when stderr is a terminal (piped or
 * redirected output, CI logs and `--json` consumers see none).
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

const SILENT: Progress = { update() {}, stop() {} };

/** DECTCEM: show the cursor (cli-progress's hideCursor writes ESC[?25l). */
const SHOW_CURSOR = '\x1B[?25h';

/**
 * cli-progress's time format, except for an ETA not known yet: before any progress its ETA is the
 * string 'NULL' (or 'INF' at zero rate), which the default format cuts to two characters ("ETA LLs").
 */
const formatTime: cliProgress.TimeFormatter = (t, options, roundToMultipleOf) =>
  typeof t === 'number' && Number.isFinite(t) ? cliProgress.Format.TimeFormat(t, options, roundToMultipleOf) : '--';

export interface ProgressOptions {
  /** false: no bar at all (`--no-progress`). */
  enabled?: boolean;
  stream?: NodeJS.WriteStream;
  /**
   * Draw nothing until this many milliseconds after progressBar() was called, so that a command
   * that ends sooner leaves a terminal as quiet as a pipe (default 0: draw from the first update).
   */
  delayMs?: number;
  /** 'bytes': value and total in MiB ("12.5/70.1 MiB"); default: plain counts ("3/50"). */
  unit?: 'bytes';
  /** Milliseconds clock (tests); default performance.now. */
  now?: () => number;
}

const MIB = 1024 * 1024;

export function progressBar(label: string, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.enabled === false || !stream.isTTY) return SILENT;
  const now = options.now ?? (() => performance.now());
  const showFrom = now() + (options.delayMs ?? 0);
  const shown = options.unit === 'bytes' ? (n: number) => (n / MIB).toFixed(1) : (n: number) => String(n);
  const suffix = options.unit === 'bytes' ? ' MiB' : '';
  const bar = new cliProgress.SingleBar(
    { stream, format: `${label} [{bar}] {percentage}% {shownValue}/{shownTotal}${suffix} ETA {eta_formatted}`, hideCursor: true, etaBuffer: 50, formatTime },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  // The bar hides the cursor while it draws; a process that ends with a bar still drawn (Ctrl-C's
  // handler exits at once, an error ends the command) would leave the user's terminal without one.
  const showCursor = () => stream.write(SHOW_CURSOR);
  return {
    update(done, total) {
      const payload = { shownValue: shown(done), shownTotal: shown(total) };
      if (!started) {
        if (now() < showFrom) return;
        bar.start(total, done, payload);
        started = true;
        process.once('exit', showCursor);
      }
      bar.setTotal(total);
      bar.update(done, payload);
    },
    stop() {
      if (started) {
        bar.stop();
        process.removeListener('exit', showCursor);
      }
      started = false;
    },
  };
}
