// The kernel replay's latency histograms (AssemblyScript, part of the FTL's WebAssembly module; see
// kernel/simulator/replay.ts): a histogram is HISTOGRAM_BUCKETS f64 bucket counts then its count,
// sum and max (metrics.ts LatencyHistogramStorage), the octave edges after the block's histograms.
// Counterpart of src/metrics.ts (LatencyHistogram).
import { HISTOGRAM_BUCKETS } from '../src/simulator/replay-abi';

/** Bytes of one histogram: its buckets, count, sum, max. */
export const HISTOGRAM_BYTES: i32 = (HISTOGRAM_BUCKETS + 3) * 8;

/**
 * LatencyHistogram.bucketOf: v = max(ns, 1) = m · 2^e with e from the exponent bits and m in
 * [1, 2) the same mantissa with a zero exponent; the bucket is 8e + the largest k with edge[k] ≤ m
 * (`edges`: the 8 octave edges, the same doubles), capped at the last bucket.
 */
// Mirrors: packages/ssd/src/metrics.ts#LatencyHistogram.bucketOf kernel:4026160f source:905c8812
export function bucketOf(ns: f64, edges: usize): i32 {
  const v = ns < 1 ? 1.0 : ns;
  const bits = reinterpret<u64>(v);
  const e = <i32>(bits >> 52) - 1023;
  const m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000);
  let k = m >= load<f64>(edges, 32) ? 4 : 0;
  if (m >= load<f64>(edges + (<usize>(k + 2) << 3))) k += 2;
  if (m >= load<f64>(edges + (<usize>(k + 1) << 3))) k += 1;
  const bucket = 8 * e + k;
  return bucket < HISTOGRAM_BUCKETS - 1 ? bucket : HISTOGRAM_BUCKETS - 1;
}

/** LatencyHistogram.recordInBucket into the histogram at `h`. */
// Mirrors: packages/ssd/src/metrics.ts#LatencyHistogram.recordInBucket kernel:62092855 source:84ffcb95
export function recordInBucket(h: usize, i: i32, ns: f64): void {
  const at = h + (<usize>i << 3);
  store<f64>(at, load<f64>(at) + 1);
  const cells = h + (<usize>HISTOGRAM_BUCKETS << 3);
  store<f64>(cells, load<f64>(cells) + 1);
  store<f64>(cells, load<f64>(cells, 8) + ns, 8);
  if (ns > load<f64>(cells, 16)) store<f64>(cells, ns, 16);
}
