/**
 * The numbers behind the dashboard's live plots, shared by the server's workers (which record
 * them) and the page (which turns them into chart data). Pure functions; no Node, no DOM.
 *
 * Upstream counterpart: @flashdiff/ssd's time series (simulator.ts TimeSeriesPoint: cumulative
 * host and NAND page writes, interval WAF = ΔNAND / Δhost) and its plots (plot/specs.ts).
 */

/**
 * A bounded series of cumulative samples: when it passes `max` points the older half is thinned
 * (every other point dropped). Cumulative counters stay exact under thinning: a quantity derived
 * from two kept samples (a WAF over their interval) is the true one over the merged interval.
 */
export class BoundedSeries<K extends string> {
  readonly columns: Record<K, number[]>;

  constructor(
    names: readonly K[],
    private readonly max = 600,
  ) {
    this.columns = Object.fromEntries(names.map((n) => [n, []])) as unknown as Record<K, number[]>;
  }

  get length(): number {
    const first = Object.values<number[]>(this.columns)[0];
    return first ? first.length : 0;
  }

  push(sample: Readonly<Record<K, number>>): void {
    for (const [name, column] of Object.entries<number[]>(this.columns)) column.push(sample[name as K]);
    if (this.length > this.max) {
      const half = this.length / 2;
      for (const column of Object.values<number[]>(this.columns)) {
        const kept = column.filter((_, i) => i % 2 === 0 || i >= half);
        column.splice(0, column.length, ...kept);
      }
    }
  }

  /** The last sample's value of `name` (undefined when empty). */
  last(name: K): number | undefined {
    return this.columns[name].at(-1);
  }
}

/** One point of the interval-WAF chart (the shape of ssd's intervalWafSpec input). */
export interface IntervalWafPoint {
  readonly hostPageWrites: number;
  readonly intervalWaf: number;
  readonly waf: number;
}

/**
 * Interval WAF over cumulative (host, NAND) page-write samples taken from the start of the
 * measurement (host[0] may be > 0). Interval i is [sample i−1, sample i]; its WAF is
 * ΔNAND / Δhost (simulator.ts recordPoint). Intervals are made at least half the median
 * interval wide, by merging a short one into the next: a run's last, partial interval (or a
 * trace slice of reads with hardly any writes) would otherwise show a WAF of a few writes that
 * happened to miss GC — a false drop. A short interval at the end is merged into the one
 * before it.
 */
export function intervalWafPoints(host: readonly number[], nand: readonly number[]): IntervalWafPoint[] {
  const n = Math.min(host.length, nand.length);
  const widths: number[] = [];
  for (let i = 1; i < n; i++) if (host[i]! > host[i - 1]!) widths.push(host[i]! - host[i - 1]!);
  if (widths.length === 0) return [];
  widths.sort((a, b) => a - b);
  const median = widths[Math.floor((widths.length - 1) / 2)]!;
  const minimum = median / 2;
  const point = (from: number, to: number): IntervalWafPoint => ({
    hostPageWrites: host[to]!,
    intervalWaf: (nand[to]! - nand[from]!) / (host[to]! - host[from]!),
    waf: host[to]! > 0 ? nand[to]! / host[to]! : 0,
  });
  const points: IntervalWafPoint[] = [];
  const starts: number[] = [];
  let start = 0;
  for (let i = 1; i < n; i++) {
    if (host[i]! - host[start]! >= minimum && host[i]! > host[start]!) {
      points.push(point(start, i));
      starts.push(start);
      start = i;
    }
  }
  if (start < n - 1 && host[n - 1]! > host[start]!) {
    // A short tail: widen the last full interval to the end rather than plot a partial one.
    if (points.length > 0) {
      points.pop();
      points.push(point(starts.pop()!, n - 1));
    } else points.push(point(start, n - 1));
  }
  return points;
}

/** Training loss per step, as the page plots it. */
export interface LossPoint {
  readonly step: number;
  readonly loss: number;
}
