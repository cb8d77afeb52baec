/**
 * The sweep's progress bar (cli-kit's: cli-progress on stderr, only when stderr is a terminal):
 * "<label> [bar] pct% done/total ETA t". It is started at 0 of the points as the sweep starts,
 * not at the first finished point: cli-progress estimates the ETA from the rate between its
 * first and latest samples, so a bar started at the first result would leave out the time that
 * point took and say "ETA 0s" after it. Upstream counterpart: none (cli-progress's SingleBar).
 */
import { progressBar } from '@flashdiff/cli-kit';
import type { Progress } from '@flashdiff/cli-kit';

export interface SweepProgressOptions {
  /** Where the bar goes (default process.stderr); nothing is drawn unless it is a terminal. */
  stream?: NodeJS.WriteStream;
  /** false: no bar at all (e.g. --json). */
  enabled?: boolean;
  label?: string;
}

/** A bar for `total` points, drawn at 0/total now; update(done) after each point, stop() at the end. */
export function sweepProgress(total: number, options: SweepProgressOptions = {}): Progress {
  const { label = 'ssdsim sweep', ...rest } = options;
  // An empty shard has nothing to show (and cli-progress would draw NaN %).
  const bar = progressBar(label, total > 0 ? rest : { ...rest, enabled: false });
  bar.update(0, total);
  return {
    update: (done: number) => bar.update(done, total),
    stop: () => bar.stop(),
  };
}
