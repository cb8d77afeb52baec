import { SsdError } from './errors.ts';

/** Erase-count distribution over the good blocks. */
export interface EraseStats {
  min: number;
  max: number;
  mean: number;
  stddev: number;
  /** Histogram: counts[i] blocks with erase count in [binStart + i·binWidth, … + binWidth). */
  histogram: { binStart: number; binWidth: number; counts: number[] };
}

/** Bins of the report's erase-count histogram (eraseStats's default; the FTL module's tally counts into as many). */
export const ERASE_HISTOGRAM_BINS = 16;

export function eraseStats(counts: ArrayLike<number>, isBad: (block: number) => boolean, bins = ERASE_HISTOGRAM_BINS): EraseStats {
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
  return eraseStatsOf({ min, max, sum, sumSq, n }, bins, (binStart, binWidth, length) => {
    const histogram = new Array<number>(length).fill(0);
    for (let b = 0; b < counts.length; b++) {
      if (isBad(b)) continue;
      histogram[Math.floor((counts[b]! - binStart) / binWidth)]!++;
    }
    return histogram;
  });
}

/** The first pass of {@link eraseStats} over the good blocks: extremes, sums and how many. */
export interface EraseTally {
  min: number;
  max: number;
  sum: number;
  sumSq: number;
  n: number;
}

/**
 * {@link EraseStats} from the first pass's tally and the second pass (`histogram`: the good blocks
 * counted in `length` bins from `binStart`, `binWidth` wide): eraseStats's arithmetic, shared with
 * the report's pass in the FTL's module (kernel/metrics.ts eraseTally).
 */
export function eraseStatsOf(t: EraseTally, bins: number, histogram: (binStart: number, binWidth: number, length: number) => number[]): EraseStats {
  const { min, max, sum, sumSq, n } = t;
  if (n === 0) return { min: 0, max: 0, mean: 0, stddev: 0, histogram: { binStart: 0, binWidth: 1, counts: [] } };
  const mean = sum / n;
  const stddev = Math.sqrt(Math.max(0, sumSq / n - mean * mean));
  const binWidth = Math.max(1, Math.ceil((max - min + 1) / bins));
  return { min, max, mean, stddev, histogram: { binStart: min, binWidth, counts: histogram(min, binWidth, Math.ceil((max - min + 1) / binWidth)) } };
}

/** Where a {@link LatencyHistogram} keeps its numbers when they live outside it (in a table memory). */
export interface LatencyHistogramStorage {
  /** The bucket counts: {@link LatencyHistogram.BUCKETS} of them. */
  readonly buckets: Float64Array;
  /** count, sum and max, in that order. */
  readonly cells: Float64Array;
}

// One 8-byte scratch seen as a double and as its two 32-bit halves: bucketOf reads a double's
// exponent, and rebuilds its mantissa as a number in [1, 2), from the bits (exact, no log2).
const scratch = new Float64Array(1);
const scratchWords = new Uint32Array(scratch.buffer);
/** Index of the half holding the sign, exponent and top of the mantissa (1 on little-endian hosts). */
const HIGH_WORD = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * Latency histogram with logarithmic buckets (8 per power of two: a bucket spans 9 %, so a
 * percentile is reported within ±4.5 %) — constant memory however many operations are recorded.
 * The numbers live in the histogram, or in a {@link LatencyHistogramStorage} given to the
 * constructor (the SSD simulator's kernel records into the same bins).
 */
export class LatencyHistogram {
  private static readonly PER_OCTAVE = 8;
  /** Number of buckets: 64 octaves. */
  static readonly BUCKETS = 64 * LatencyHistogram.PER_OCTAVE;
  /**
   * The bucket edges within an octave: 2^(k/8) for k = 0 … 7, as doubles. {@link bucketOf}
   * compares with these; the simulator's kernel gets a copy of this table, so both bin alike.
   */
  static readonly OCTAVE_EDGES: Float64Array = Float64Array.from({ length: LatencyHistogram.PER_OCTAVE }, (_, k) => 2 ** (k / LatencyHistogram.PER_OCTAVE));
  private readonly buckets: Float64Array;
  /** count, sum, max. */
  private readonly cells: Float64Array;

  constructor(storage?: LatencyHistogramStorage) {
    if (storage !== undefined && (storage.buckets.length !== LatencyHistogram.BUCKETS || storage.cells.length < 3)) {
      throw new SsdError('INVALID_CONFIG', `latency histogram storage needs ${LatencyHistogram.BUCKETS} buckets and 3 cells`);
    }
    this.buckets = storage?.buckets ?? new Float64Array(LatencyHistogram.BUCKETS);
    this.cells = storage?.cells ?? new Float64Array(3);
  }

  /** Latencies recorded. */
  get count(): number {
    return this.cells[0]!;
  }
  /** Their sum (ns). */
  get sum(): number {
    return this.cells[1]!;
  }
  /** The largest (ns). */
  get max(): number {
    return this.cells[2]!;
  }

  record(ns: number): void {
    this.recordInBucket(this.bucketOf(ns), ns);
  }

  /**
   * The bucket a latency falls in: floor(8 · log2(v)) with v = max(ns, 1), capped at 511, defined
   * exactly without log2 (whose last bit differs between Math.log2 and a WebAssembly port):
   * v = m · 2^e with e from the double's exponent bits and m in [1, 2) (the same mantissa with a
   * zero exponent), and the bucket is 8e + the number of k in 1 … 7 with m ≥ OCTAVE_EDGES[k]. The
   * edges are those of floor(8 · log2(v)) up to the rounding of 2^(k/8). Also used to record one
   * latency in several histograms with one computation.
   */
  bucketOf(ns: number): number {
    const v = ns < 1 ? 1 : ns;
    scratch[0] = v;
    const high = scratchWords[HIGH_WORD]!;
    const e = (high >>> 20) - 1023;
    scratchWords[HIGH_WORD] = (high & 0x000fffff) | 0x3ff00000;
    const m = scratch[0]!;
    // The largest k with OCTAVE_EDGES[k] ≤ m (edge 0 is 1 ≤ m): a binary search over the 8 edges.
    const edges = LatencyHistogram.OCTAVE_EDGES;
    let k = m >= edges[4]! ? 4 : 0;
    if (m >= edges[k + 2]!) k += 2;
    if (m >= edges[k + 1]!) k += 1;
    const bucket = 8 * e + k;
    return bucket < LatencyHistogram.BUCKETS - 1 ? bucket : LatencyHistogram.BUCKETS - 1;
  }

  /** {@link record} with the bucket already computed by {@link bucketOf}. */
  recordInBucket(i: number, ns: number): void {
    const cells = this.cells;
    this.buckets[i]!++;
    cells[0]!++;
    cells[1]! += ns;
    if (ns > cells[2]!) cells[2] = ns;
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

  /** The bucket counts (a copy). */
  /** Copies the buckets, then count, sum and max, into `out` at `at` (BUCKETS + 3 numbers). */
  saveTo(out: Float64Array, at: number): void {
    out.set(this.buckets, at);
    out.set(this.cells.subarray(0, 3), at + LatencyHistogram.BUCKETS);
  }

  /** Takes the buckets, count, sum and max from `source` at `at` (saveTo's layout). */
  loadFrom(source: Float64Array, at: number): void {
    this.buckets.set(source.subarray(at, at + LatencyHistogram.BUCKETS));
    this.cells.set(source.subarray(at + LatencyHistogram.BUCKETS, at + LatencyHistogram.BUCKETS + 3));
  }

  bucketCounts(): Float64Array {
    return this.buckets.slice();
  }

  reset(): void {
    this.buckets.fill(0);
    this.cells.fill(0);
  }
}
