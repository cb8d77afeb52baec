/** Erase-count distribution over the good blocks. */
export interface EraseStats {
  min: number;
  max: number;
  mean: number;
  stddev: number;
  /** Histogram: counts[i] blocks with erase count in [binStart + i·binWidth, … + binWidth). */
  histogram: { binStart: number; binWidth: number; counts: number[] };
}

export function eraseStats(counts: ArrayLike<number>, isBad: (block: number) => boolean, bins = 16): EraseStats {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let b = 0; b < counts.length; b++) {
    if (isBad(b)) continue;
    const c = counts[b]!;
    if (c < min) min = c;
    if (c > max) max = c;
    sum += c;
    sumSq += c * c;
    n++;
  }
  if (n === 0) return { min: 0, max: 0, mean: 0, stddev: 0, histogram: { binStart: 0, binWidth: 1, counts: [] } };
  const mean = sum / n;
  const stddev = Math.sqrt(Math.max(0, sumSq / n - mean * mean));
  const binWidth = Math.max(1, Math.ceil((max - min + 1) / bins));
  const histogram = new Array<number>(Math.ceil((max - min + 1) / binWidth)).fill(0);
  for (let b = 0; b < counts.length; b++) {
    if (isBad(b)) continue;
    histogram[Math.floor((counts[b]! - min) / binWidth)]!++;
  }
  return { min, max, mean, stddev, histogram: { binStart: min, binWidth, counts: histogram } };
}

/**
 * Latency histogram with logarithmic buckets (8 per power of two: a bucket spans 9 %, so a
 * percentile is reported within ±4.5 %) — constant memory however many operations are recorded.
 */
export class LatencyHistogram {
  private static readonly PER_OCTAVE = 8;
  private readonly buckets = new Float64Array(64 * LatencyHistogram.PER_OCTAVE);
  count = 0;
  sum = 0;
  max = 0;

  record(ns: number): void {
    this.recordInBucket(this.bucketOf(ns), ns);
  }

  /** The bucket a latency falls in (to record one latency in several histograms with one log2). */
  bucketOf(ns: number): number {
    const v = ns < 1 ? 1 : ns;
    return Math.min(this.buckets.length - 1, Math.floor(Math.log2(v) * LatencyHistogram.PER_OCTAVE));
  }

  /** {@link record} with the bucket already computed by {@link bucketOf}. */
  recordInBucket(i: number, ns: number): void {
    this.buckets[i]!++;
    this.count++;
    this.sum += ns;
    if (ns > this.max) this.max = ns;
  }

  /** The q-quantile (0 < q ≤ 1) in ns: the geometric middle of the bucket holding it. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const target = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= target) return Math.min(this.max, 2 ** ((i + 0.5) / LatencyHistogram.PER_OCTAVE));
    }
    return this.max;
  }

  reset(): void {
    this.buckets.fill(0);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }
}
