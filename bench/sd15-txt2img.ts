/**
 * A whole 512×512 text-to-image run at Stable Diffusion 1.5's size, this package against diffusers
 * in ONE run, each as a user runs it: from loading the diffusers folder to the finished image, and
 * each process's peak RSS.
 *
 *   ours, first run   `diffusion txt2img --backend onnx` with an empty export cache (exports the
 *                     UNet, VAE decoder and text encoder, then samples)
 *   ours, cached      the same command again (the graphs come from the cache)
 *   diffusers         StableDiffusionPipeline on the same folder (packages/diffusion/reference/
 *                     sd15_txt2img_reference.py, PyTorch float32, 2 threads), where
 *                     `python3 -c "import diffusers, transformers"` works (set PYTHON / PYTHONPATH)
 *
 * Without --model it first writes SD-1.5-sized random weights (fp16, 2 GB) into a temporary
 * diffusers folder with the bundled CLIP tokenizer. Peak RSS comes from /usr/bin/time.
 *
 * Run: npx tsx bench/sd15-txt2img.ts [--model DIR] [--steps 25] [--json] [--no-torch]
 * Goals (issue 14): the whole run within 1.0× diffusers' time; peak RSS ≤ 6 GiB.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AutoencoderKL,
  ClipTextModel,
  Random,
  SD15_TEXT_ENCODER_CONFIG,
  SD15_UNET_CONFIG,
  SD15_VAE_CONFIG,
  UNet2DConditionModel,
  readAutoencoderConfig,
  readClipTextConfig,
  readUNetConfig,
  torchStateDict,
} from '@flashdiff/diffusion';
import { bundledClipTokenizerDirectory, fillRandomWeights, initBackend, referenceUnavailable, saveDiffusersPipeline } from '@flashdiff/diffusion/node';

const argv = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
};
const steps = Number(option('steps', '25'));
const json = argv.includes('--json');
const log = (line: string) => {
  if (!json) console.error(line);
};
if (!existsSync('/usr/bin/time')) {
  console.error('bench/sd15-txt2img: needs /usr/bin/time for peak RSS (apt-get install time)');
  process.exit(2);
}

const scratch = mkdtempSync(join(tmpdir(), 'sd15-txt2img-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

/** SD-1.5-sized random weights in a diffusers folder (fp16, as SD-1.5's fp16 variant). */
async function randomSd15Folder(dir: string): Promise<void> {
  const e = await initBackend('auto');
  const random = new Random(0);
  const zeros = { initialise: false };
  const text = new ClipTextModel(e, random, readClipTextConfig(SD15_TEXT_ENCODER_CONFIG), zeros);
  const unet = new UNet2DConditionModel(e, random, readUNetConfig(SD15_UNET_CONFIG), zeros);
  const vae = new AutoencoderKL(e, random, readAutoencoderConfig(SD15_VAE_CONFIG), zeros);
  [text, unet, vae].forEach((model, k) => fillRandomWeights(e, model, k + 1));
  saveDiffusersPipeline(
    dir,
    {
      textEncoder: { config: SD15_TEXT_ENCODER_CONFIG, tensors: torchStateDict(text) },
      unet: { config: SD15_UNET_CONFIG, tensors: torchStateDict(unet) },
      vae: { config: SD15_VAE_CONFIG, tensors: torchStateDict(vae) },
      scheduler: { className: 'PNDMScheduler', config: { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000, set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1, prediction_type: 'epsilon', timestep_spacing: 'leading' } },
      tokenizerDir: bundledClipTokenizerDirectory(),
    },
    { dtype: 'F16', variantNames: false },
  );
  for (const model of [text, unet, vae]) model.params.dispose();
}

/** Runs a command under /usr/bin/time: wall seconds, peak RSS (MiB) and its last stdout line. */
function timed(label: string, command: string[], env: NodeJS.ProcessEnv = process.env): { seconds: number; peakRssMb: number; stdout: string } {
  log(`${label} …`);
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', 'peak-rss-kb %M', ...command], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  const seconds = Math.round((performance.now() - t0) / 100) / 10;
  if (r.status !== 0) throw new Error(`${label} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const kb = Number(/peak-rss-kb (\d+)/.exec(r.stderr)?.[1]);
  log(`${label}: ${seconds} s, peak RSS ${Math.round(kb / 1024)} MiB`);
  return { seconds, peakRssMb: Math.round(kb / 1024), stdout: r.stdout.trim().split('\n').pop() ?? '' };
}

let model = option('model', '');
if (model === '') {
  model = join(scratch, 'sd15-random');
  log('writing SD-1.5-sized random weights (fp16) …');
  await randomSd15Folder(model);
}
const prompt = 'a photograph of an astronaut riding a horse';
const cache = join(scratch, 'onnx-cache');
const bin = fileURLToPath(new URL('../packages/diffusion/bin/diffusion.js', import.meta.url));
const ours = (label: string) =>
  timed(label, [process.execPath, bin, 'txt2img', '--model', model, prompt, '--steps', String(steps), '--guidance', '7.5', '--seed', '0', '--width', '512', '--height', '512', '--backend', 'onnx', '--onnx-cache', cache, '--json', '--out', join(scratch, 'ours.png')]);
const first = ours('ours, first run (exports)');
const cached = ours('ours, cached graphs');

let reference: { seconds: number; peakRssMb: number; samplingSeconds: number; loadSeconds: number } | null = null;
let why = '--no-torch';
if (!argv.includes('--no-torch')) {
  const python = process.env.PYTHON ?? '/usr/bin/python3';
  why = referenceUnavailable(python);
  if (why === '') {
    const script = fileURLToPath(new URL('../packages/diffusion/reference/sd15_txt2img_reference.py', import.meta.url));
    const r = timed('diffusers (PyTorch)', [python, script, '--model', model, '--steps', String(steps), '--threads', '2']);
    reference = { ...(JSON.parse(r.stdout) as { samplingSeconds: number; loadSeconds: number }), seconds: r.seconds, peakRssMb: r.peakRssMb };
  }
}

const oursReport = (r: { seconds: number; peakRssMb: number; stdout: string }) => ({ seconds: r.seconds, peakRssMb: r.peakRssMb, onnx: (JSON.parse(r.stdout) as { onnx?: unknown }).onnx });
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const result = {
  model: option('model', '') || 'SD-1.5-sized random fp16 weights',
  steps,
  first: oursReport(first),
  cached: oursReport(cached),
  reference,
  ratios: reference ? { firstSeconds: ratio(first.seconds, reference.seconds), cachedSeconds: ratio(cached.seconds, reference.seconds), peakRss: ratio(Math.max(first.peakRssMb, cached.peakRssMb), reference.peakRssMb) } : null,
  goals: { peakRssMbAtMost: 6144, peakRssMet: Math.max(first.peakRssMb, cached.peakRssMb) <= 6144 },
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(`run                        wall s   peak RSS MiB   × diffusers`);
  const row = (name: string, r: { seconds: number; peakRssMb: number }, x: string) => console.log(`${name.padEnd(26)} ${String(r.seconds).padStart(6)}   ${String(r.peakRssMb).padStart(12)}   ${x}`);
  row('ours, first run (exports)', first, result.ratios ? `${result.ratios.firstSeconds}×` : '');
  row('ours, cached graphs', cached, result.ratios ? `${result.ratios.cachedSeconds}×` : '');
  if (reference) row('diffusers (PyTorch 2 thr.)', reference, '1×');
  else console.log(`(no diffusers figures: ${why})`);
  console.log(`peak RSS goal ≤ 6144 MiB: ${result.goals.peakRssMet ? 'met' : 'NOT met'}`);
}
