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

export function progressBar(label: string, options: { enabled?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.enabled === false || !stream.isTTY) return SILENT;
  const bar = new cliProgress.SingleBar(
    { stream, format: `${label} [{bar}] {percentage}% {value}/{total} ETA {eta_formatted}`, hideCursor: true, etaBuffer: 50, formatTime },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  // The bar hides the cursor while it draws; a process that ends with a bar still drawn (Ctrl-C's
  // handler exits at once, an error ends the command) would leave the user's terminal without one.
  const showCursor = () => stream.write(SHOW_CURSOR);
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, 0);
        started = true;
        process.once('exit', showCursor);
      }
      bar.setTotal(total);
      bar.update(done);
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
