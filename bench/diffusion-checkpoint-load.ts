/**
 * Memory and speed of loading safetensors weights into a model's ParameterStore (issue 14: "loading
 * an fp16 SD-1.5 file (about 2 GB) must not hold more than one extra copy of the weights").
 *
 * Writes a synthetic fp16 file (default ~200 MB: 20 linear [2048, 2048] + 5 conv [640, 640, 3, 3]
 * tensors, SD-like sizes), then in a FRESH child process per method creates a ParameterStore of the
 * same shapes (the model, fp32) and loads the file into it:
 *   lazy  — openSafetensorsFile + loadParameters (positioned reads, one tensor at a time)
 *   whole — the in-memory path: readFileSync + decodeSafetensors + importValues (the reference)
 * and prints, side by side, the RSS growth caused by loading (peak RSS during the load minus RSS
 * with the model built), as a multiple of one fp32 copy of the weights, and the load time.
 *
 * Run: npx tsx bench/diffusion-checkpoint-load.ts [--size-mb 200] [--json]
 *      npx tsx bench/diffusion-checkpoint-load.ts --file sd15.safetensors   (a real file, lazy only:
 *        every tensor read, converted to fp32 and dropped; peak = the largest tensor's copies)
 *      npx tsx bench/diffusion-checkpoint-load.ts --sd15   (minutes, ~2 GB of disk: an fp16 single file
 *        with every tensor of SD-1.5 at its real shape, test/fixtures/sd15-state-dict-shapes.json.gz,
 *        loaded by loadStableDiffusion into the real models in a fresh process: peak RSS against the
 *        fp32 weights)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ParameterStore, Random, conv2dMapping, decodeSafetensors, linearMapping, loadParameters, type ParameterMapping } from '@flashdiff/diffusion';
import { gunzipSync } from 'node:zlib';
import { initBackend, loadStableDiffusion, openSafetensorsFile, writeSafetensorsFile } from '@flashdiff/diffusion/node';

const argv = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
};
const MB = 2 ** 20;
const rssMb = (): number => process.memoryUsage().rss / MB;
const peakRssMb = (): number => process.resourceUsage().maxRSS / 1024;

/** Our parameters (store shapes) for a file of about `sizeMb` MB of fp16. */
function layout(sizeMb: number): Array<{ name: string; ours: number[]; kind: 'linear' | 'conv' }> {
  const scale = sizeMb / 205;
  const linears = Math.max(1, Math.round(20 * scale));
  const convs = Math.max(1, Math.round(5 * scale));
  const out: Array<{ name: string; ours: number[]; kind: 'linear' | 'conv' }> = [];
  for (let i = 0; i < linears; i++) out.push({ name: `blocks.${i}.proj.weight`, ours: [2048, 2048], kind: 'linear' });
  for (let i = 0; i < convs; i++) out.push({ name: `blocks.${i}.conv.weight`, ours: [3, 3, 640, 640], kind: 'conv' });
  return out;
}

const mappingFor = (params: ReturnType<typeof layout>): ParameterMapping[] =>
  params.map((p) => (p.kind === 'linear' ? linearMapping(p.name, p.ours) : conv2dMapping(p.name, p.ours)));

async function child(method: string, file: string, sizeMb: number): Promise<void> {
  const engine = await initBackend('cpu');
  const params = layout(sizeMb);
  const store = new ParameterStore(engine, new Random(0));
  // 'ones', not 'zeros': the model's pages must be touched to count in RSS before the load.
  for (const p of params) store.create(p.name, p.ours, { kind: 'ones' });
  const weightsMb = store.count('all') * 4 / MB;
  (globalThis as { gc?: () => void }).gc?.();
  const before = rssMb();
  // Peak RSS during the load, sampled where the copies coexist (after each conversion, after each
  // assignment), and the kernel's maxRSS (which also covers building the model, so it can only over-state).
  let sampled = before;
  const sample = (): void => {
    sampled = Math.max(sampled, rssMb());
  };
  const mapping = mappingFor(params).map((m) => ({ ...m, convert: (d: Float32Array, s: readonly number[]) => {
    const out = m.convert(d, s);
    sample();
    return out;
  } }));
  const start = performance.now();
  if (method === 'lazy') {
    const source = openSafetensorsFile(file);
    loadParameters(store, source, mapping, { onTensor: sample });
    source.close();
  } else {
    // The reference path: the whole file in memory, every tensor decoded, then converted and assigned.
    const decoded = decodeSafetensors(new Uint8Array(readFileSync(file)), file).tensors;
    const byName = new Map(mapping.map((m) => [m.name, m]));
    const converted = new Map([...decoded].map(([name, t]) => [name, { shape: store.shapeOf(name), data: (byName.get(name) as ParameterMapping).convert(t.data, t.shape) }]));
    store.importValues(converted, file);
    sample();
  }
  const seconds = (performance.now() - start) / 1000;
  sample();
  console.log(JSON.stringify({ method, weightsMb, rssWithModelMb: before, sampledPeakMb: sampled, maxRssMb: peakRssMb(), seconds }));
}

async function realFile(file: string): Promise<void> {
  const source = openSafetensorsFile(file);
  const before = rssMb();
  const start = performance.now();
  let values = 0;
  let largest = 0;
  for (const name of source.names()) {
    const data = source.read(name);
    values += data.length;
    largest = Math.max(largest, data.length);
  }
  const seconds = (performance.now() - start) / 1000;
  source.close();
  console.log(`${file}: ${source.names().length} tensors, ${(values / 1e6).toFixed(1)} M values (${((values * 4) / MB).toFixed(0)} MB as fp32) read in ${seconds.toFixed(1)} s`);
  console.log(`  RSS ${before.toFixed(0)} MB before, peak ${peakRssMb().toFixed(0)} MB; largest tensor ${((largest * 4) / MB).toFixed(0)} MB as fp32; bytes read ${(source.bytesRead / MB).toFixed(0)} MB of ${(statSync(file).size / MB).toFixed(0)} MB`);
}

/** The child of --sd15: the whole pipeline from the single file, RSS sampled at every tensor. */
async function childSd15(file: string): Promise<void> {
  const engine = await initBackend('cpu');
  const start = performance.now();
  let modelsBuiltMb = 0;
  let sampled = 0;
  loadStableDiffusion(engine, file, {
    onTensor: () => {
      const rss = rssMb();
      if (!modelsBuiltMb) modelsBuiltMb = rss;
      sampled = Math.max(sampled, rss);
    },
  });
  const seconds = (performance.now() - start) / 1000;
  console.log(JSON.stringify({ modelsBuiltMb, sampledPeakMb: sampled, rssAfterMb: rssMb(), maxRssMb: peakRssMb(), seconds }));
}

async function sd15(): Promise<void> {
  type Entry = { single_file_name: string; single_file_shape: number[] };
  const fixture = new URL('../packages/diffusion/test/fixtures/sd15-state-dict-shapes.json.gz', import.meta.url);
  const shapes = JSON.parse(gunzipSync(readFileSync(fixture)).toString('utf8')) as Record<string, { tensors: Entry[] }>;
  const entries = ['unet', 'vae', 'text_encoder'].flatMap((c) => shapes[c].tensors.map((t) => ({ name: t.single_file_name, shape: t.single_file_shape })));
  // Extras real SD-1.x files carry, which the loader must skip.
  entries.push({ name: 'cond_stage_model.transformer.text_model.embeddings.position_ids', shape: [1, 77] }, { name: 'alphas_cumprod', shape: [1000] });
  const values = entries.reduce((sum, e) => sum + e.shape.reduce((a, b) => a * b, 1), 0);
  const dir = mkdtempSync(join(tmpdir(), 'bench-sd15-'));
  try {
    const file = join(dir, 'sd15-shapes.fp16.safetensors');
    const random = new Random(2);
    const writeStart = performance.now();
    writeSafetensorsFile(
      file,
      entries.map((e) => ({
        ...e,
        data: () => {
          const data = new Float32Array(e.shape.reduce((a, b) => a * b, 1));
          const v = (random.uniform() - 0.5) * 0.04; // one value per tensor: writing stays I/O-bound
          return data.fill(v);
        },
      })),
      { dtype: 'F16', metadata: { format: 'pt' } },
    );
    const writeSeconds = (performance.now() - writeStart) / 1000;
    const run = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child-sd15', file], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`child failed: ${run.stderr}`);
    const r = JSON.parse(run.stdout.trim().split('\n').pop() as string) as Record<string, number>;
    const weightsMb = (values * 4) / MB;
    console.log(`SD-1.5-shaped fp16 single file: ${entries.length} tensors, ${(statSync(file).size / MB).toFixed(0)} MB (written in ${writeSeconds.toFixed(0)} s); fp32 weights ${weightsMb.toFixed(0)} MB; tfjs cpu engine`);
    console.log(`loadStableDiffusion: ${r.seconds.toFixed(1)} s; RSS with the models built (parameters not yet written) ${r.modelsBuiltMb.toFixed(0)} MB`);
    console.log(`peak RSS ${r.maxRssMb.toFixed(0)} MB (sampled per tensor ${r.sampledPeakMb.toFixed(0)} MB) = fp32 weights + ${(r.maxRssMb - weightsMb).toFixed(0)} MB (runtime and the tensor in flight);`);
    console.log(`goal: ≤ weights + one extra copy = ${(2 * weightsMb).toFixed(0)} MB → peak / that bound ${(r.maxRssMb / (2 * weightsMb)).toFixed(2)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (argv[0] === '--child') return child(argv[1], argv[2], Number(argv[3]));
  if (argv[0] === '--child-sd15') return childSd15(argv[1]);
  if (argv.includes('--sd15')) return sd15();
  if (argv.includes('--file')) return realFile(option('file', ''));
  const sizeMb = Number(option('size-mb', '200'));
  if (!(sizeMb > 0)) {
    console.error('--size-mb: expected a positive number');
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-checkpoint-'));
  try {
    const file = join(dir, 'synthetic.fp16.safetensors');
    const params = layout(sizeMb);
    const random = new Random(1);
    const writeStart = performance.now();
    writeSafetensorsFile(
      file,
      mappingFor(params).map((m) => ({
        name: m.sourceName,
        shape: m.torchShape,
        data: () => {
          const data = new Float32Array(m.torchShape.reduce((a, b) => a * b, 1));
          for (let i = 0; i < data.length; i++) data[i] = (random.uniform() - 0.5) * 0.04;
          return data;
        },
      })),
      { dtype: 'F16', metadata: { format: 'pt' } },
    );
    const fileMb = statSync(file).size / MB;
    const writeSeconds = (performance.now() - writeStart) / 1000;
    const results: Array<Record<string, number | string>> = [];
    for (const method of ['lazy', 'whole']) {
      const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--child', method, file, String(sizeMb)], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`child ${method} failed: ${run.stderr}`);
      results.push(JSON.parse(run.stdout.trim().split('\n').pop() as string) as Record<string, number | string>);
    }
    if (argv.includes('--json')) {
      console.log(JSON.stringify({ fileMb, writeSeconds, results }));
      return;
    }
    const weights = results[0].weightsMb as number;
    console.log(`fp16 file ${fileMb.toFixed(0)} MB (written in ${writeSeconds.toFixed(1)} s); model ${weights.toFixed(0)} MB fp32; tfjs cpu engine; ${new Date().toISOString()}`);
    console.log('method  rss with model  peak during load  extra (MB)  extra / fp32 weights  maxRSS extra / weights  load s');
    for (const r of results) {
      const before = r.rssWithModelMb as number;
      const extra = (r.sampledPeakMb as number) - before;
      const maxExtra = (r.maxRssMb as number) - before;
      r.extraMb = extra;
      console.log(
        `${String(r.method).padEnd(6)}  ${before.toFixed(0).padStart(14)}  ${(r.sampledPeakMb as number).toFixed(0).padStart(16)}  ${extra.toFixed(0).padStart(10)}  ${(extra / weights).toFixed(2).padStart(20)}  ${(maxExtra / weights).toFixed(2).padStart(22)}  ${(r.seconds as number).toFixed(2).padStart(6)}`,
      );
    }
    const [lazy, whole] = results;
    console.log(`lazy / whole extra memory: ${((lazy.extraMb as number) / (whole.extraMb as number)).toFixed(2)}; goal: lazy extra ≤ 1.0 × the fp32 weights`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
