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

// The device's block tables (nand's kernel/metadata-device.ts imports the same globals).
@external("device", "badBlocks") declare const deviceBadBlocks: usize;
@external("device", "eraseCounts") declare const deviceEraseCounts: usize;

/**
 * eraseStats's two passes over the device's blocks 0 … blocks − 1, skipping bad ones, in block
 * order as there (the same sums): with `bins` 0 the first — min, max, sum, sum of squares and the
 * good blocks into `cells` (f64) —, else the second, each good block counted in
 * bins[⌊(count − binStart) / binWidth⌋] (f64, zeroed by the caller). The TypeScript loops call
 * back per block for its badness and run interpreted over most of the 262,144 blocks of MQSim's
 * default 512 GiB device at a report; these take about a millisecond.
 */
// Mirrors: packages/ssd/src/metrics.ts#eraseStats kernel:2e7801e7 source:dabdd1bc
export function eraseTally(blocks: i32, cells: usize, bins: usize, binStart: f64, binWidth: f64): void {
  if (bins == 0) {
    let min = Infinity;
    let max = -Infinity;
    let sum = 0.0;
    let sumSq = 0.0;
    let n = 0.0;
    for (let b = 0; b < blocks; b++) {
      if (load<u8>(deviceBadBlocks + <usize>b) != 0) continue;
      const c = <f64>load<u32>(deviceEraseCounts + (<usize>b << 2));
      if (c < min) min = c;
      if (c > max) max = c;
      sum += c;
      sumSq += c * c;
      n++;
    }
    store<f64>(cells, min);
    store<f64>(cells, max, 8);
    store<f64>(cells, sum, 16);
    store<f64>(cells, sumSq, 24);
    store<f64>(cells, n, 32);
    return;
  }
  for (let b = 0; b < blocks; b++) {
    if (load<u8>(deviceBadBlocks + <usize>b) != 0) continue;
    const at = bins + (<usize>(<i32>Math.floor((<f64>load<u32>(deviceEraseCounts + (<usize>b << 2)) - binStart) / binWidth)) << 3);
    store<f64>(at, load<f64>(at) + 1);
  }
}
