/**
 * Kernel timings of the native addon's two convolution routes (im2col + OpenBLAS sgemm vs oneDNN)
 * on the convolutions of the reference ContextUnet (16×16×3, n_feat 64): all convolutions of a
 * batch-32 forward pass, and forward + backward (input and filter gradients) at batch 100.
 * Run: npx tsx bench/native-kernels.ts [--repeats 5] [--routes blas,onednn]
 * FLASHDIFF_DNNL_ACTIVATIONS=nhwc|blocked picks oneDNN's activation layout (default: NHWC on AVX-512, blocked + reorders below).
 */
import { CONV_ROUTES, type ConvRoute, loadAddon, addonUnavailableReason } from '../packages/diffusion-native/src/addon.ts';

const addon = loadAddon();
if (!addon) {
  console.error(`native-kernels: ${addonUnavailableReason()}`);
  process.exit(1);
}
const repeatsFlag = process.argv.indexOf('--repeats');
const repeats = repeatsFlag > 0 ? Number(process.argv[repeatsFlag + 1]) : 5;

interface ConvSpec {
  name: string;
  /** input side, in channels, kernel, out channels, stride, padding per side, how many in the model */
  side: number;
  inC: number;
  k: number;
  outC: number;
  stride: number;
  pad: number;
  count: number;
  /** true for a transposed convolution: its forward is the backprop-input kernel. */
  transposed?: boolean;
}

const nFeat = 64;
// Geometry of the *convolution* (for a transposed convolution: the conv whose input gradient it is).
const specs: ConvSpec[] = [
  { name: 'init 3→64 3×3 @16', side: 16, inC: 3, k: 3, outC: nFeat, stride: 1, pad: 1, count: 1 },
  { name: 'shortcut 1×1 3→64 @16', side: 16, inC: 3, k: 1, outC: nFeat, stride: 1, pad: 0, count: 1 },
  { name: '64→64 3×3 @16', side: 16, inC: nFeat, k: 3, outC: nFeat, stride: 1, pad: 1, count: 1 + 4 + 4 },
  { name: '64→128 3×3 @8', side: 8, inC: nFeat, k: 3, outC: 2 * nFeat, stride: 1, pad: 1, count: 1 },
  { name: '128→128 3×3 @8', side: 8, inC: 2 * nFeat, k: 3, outC: 2 * nFeat, stride: 1, pad: 1, count: 3 },
  { name: '64→64 3×3 @8', side: 8, inC: nFeat, k: 3, outC: nFeat, stride: 1, pad: 1, count: 4 },
  { name: 'out 128→64 3×3 @16', side: 16, inC: 2 * nFeat, k: 3, outC: nFeat, stride: 1, pad: 1, count: 1 },
  { name: 'out 64→3 3×3 @16', side: 16, inC: nFeat, k: 3, outC: 3, stride: 1, pad: 1, count: 1 },
  { name: 'convT up0 128→128 k4 s4', side: 4, inC: 2 * nFeat, k: 4, outC: 2 * nFeat, stride: 4, pad: 0, count: 1, transposed: true },
  { name: 'convT up1 256→64 k2 s2', side: 8, inC: nFeat, k: 2, outC: 4 * nFeat, stride: 2, pad: 0, count: 1, transposed: true },
  { name: 'convT up2 128→64 k2 s2', side: 16, inC: nFeat, k: 2, outC: 2 * nFeat, stride: 2, pad: 0, count: 1, transposed: true },
];

function geometry(s: ConvSpec, batch: number): Int32Array {
  const out = Math.floor((s.side + 2 * s.pad - s.k) / s.stride) + 1;
  return Int32Array.from([batch, s.side, s.side, s.inC, s.k, s.k, s.outC, out, out, s.stride, s.stride, s.pad, s.pad, s.pad, s.pad, 1, 1]);
}

function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    a[i] = ((state >>> 0) / 4294967296 - 0.5) * 0.2;
  }
  return a;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeIt(fn: () => void): number {
  fn(); // warm-up (creates cached primitives)
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

const native = addon;
function runSpec(s: ConvSpec, batch: number, route: number, training: boolean): () => void {
  const g = geometry(s, batch);
  const inSize = g[0] * g[1] * g[2] * g[3];
  const outSize = g[0] * g[7] * g[8] * g[6];
  const x = filled(inSize, 1);
  const f = filled(g[4] * g[5] * g[3] * g[6], 2);
  const y = filled(outSize, 3);
  const dx = new Float32Array(inSize);
  const dFilter = new Float32Array(f.length);
  return () => {
    for (let c = 0; c < s.count; c++) {
      // Forward: a convolution runs convForward; a transposed one runs backprop-input.
      if (s.transposed) native.convBackpropInput(y, f, dx, g, route);
      else native.convForward(x, f, y, g, route);
      if (training) {
        if (s.transposed) native.convForward(x, f, y, g, route);
        else native.convBackpropInput(y, f, dx, g, route);
        native.convBackpropFilter(x, y, dFilter, g, route);
      }
    }
  };
}

const info = native.info();
console.log(`native-kernels: threads ${info.threads}, oneDNN ${info.dnnl ? 'built in' : 'absent'}, median of ${repeats}`);
const routesFlag = process.argv.indexOf('--routes');
const wanted = routesFlag > 0 ? process.argv[routesFlag + 1].split(',') : Object.keys(CONV_ROUTES);
const routes = (Object.keys(CONV_ROUTES) as ConvRoute[]).filter((r) => wanted.includes(r) && (r === 'blas' || info.dnnl));
const header = ['convolution (×count)', ...routes.flatMap((r) => [`${r} fwd b32`, `${r} f+b b100`])];
console.log(header.join(' | '));
const totals = new Map<string, number>();
for (const s of specs) {
  const row: string[] = [`${s.name} (×${s.count})`];
  for (const r of routes) {
    const forward = timeIt(runSpec(s, 32, CONV_ROUTES[r], false));
    const training = timeIt(runSpec(s, 100, CONV_ROUTES[r], true));
    totals.set(`${r} fwd`, (totals.get(`${r} fwd`) ?? 0) + forward);
    totals.set(`${r} train`, (totals.get(`${r} train`) ?? 0) + training);
    row.push(forward.toFixed(1), training.toFixed(1));
  }
  console.log(row.join(' | '));
}
console.log(['TOTAL ms', ...routes.flatMap((r) => [totals.get(`${r} fwd`)!.toFixed(1), totals.get(`${r} train`)!.toFixed(1)])].join(' | '));
if (info.dnnl) {
  for (const s of specs) console.log(`oneDNN impl for ${s.name}: ${native.dnnlForwardImpl(geometry(s, 32))}`);
}
console.log('command: npx tsx bench/native-kernels.ts');
