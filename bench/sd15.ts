/**
 * Stable Diffusion 1.5 at its real sizes on random weights, this package against PyTorch + diffusers
 * in ONE run: a UNet step at 512×512 (latent 2×4×64×64 with classifier-free guidance, 77×768 text),
 * a VAE decode to 512×512 and the text encoder on 2 prompts; best of --iters, and each process's
 * peak RSS. The reference (packages/diffusion/reference/sd15_reference.py) runs where `python3 -c "import diffusers,
 * transformers"` works (set PYTHON and PYTHONPATH for it); otherwise only our figures print.
 * The same figures come from `npx diffusion bench --sd15 [--onnx] --json`.
 *
 * Run: npx tsx bench/sd15.ts [--backend native] [--unet tfjs|onnx] [--iters 2] [--no-torch] [--json]
 *   --unet onnx: the three models on onnxruntime-node (graphs exported from the same models; the
 *   UNet's one-off export and session times are printed too), what `txt2img --backend onnx` runs.
 * Goal (issue 14): each figure ≤ 1.0× PyTorch's, peak RSS of a 512×512 txt2img ≤ 6 GiB.
 */
import { type BackendName, initBackend, runSd15Bench, runSd15Reference, sd15Ratios } from '@flashdiff/diffusion/node';

const argv = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
};
const iters = Number(option('iters', '2'));
if (!Number.isInteger(iters) || iters < 1) {
  console.error(`--iters: expected a positive integer, got ${option('iters', '2')}`);
  process.exit(2);
}
const json = argv.includes('--json');
const log = (line: string) => {
  if (!json) console.error(line);
};

const engine = await initBackend(option('backend', 'native') as BackendName);
const route = option('unet', 'tfjs');
if (route !== 'tfjs' && route !== 'onnx') {
  console.error(`--unet: expected tfjs or onnx, got ${route}`);
  process.exit(2);
}
const ours = await runSd15Bench(engine, iters, log, route);

let reference: ReturnType<typeof runSd15Reference>['reference'] = null;
let why = '--no-torch';
if (!argv.includes('--no-torch')) {
  log('PyTorch reference (diffusers) …');
  ({ reference, why } = runSd15Reference(iters));
}

const keys = ['unetStepMs', 'vaeDecodeMs', 'textEncoderMs', 'peakRssMb'] as const;
const ratios = reference ? sd15Ratios(ours, reference) : null;
if (json) console.log(JSON.stringify({ ...ours, reference, ratios }));
else {
  console.log(`figure            ${`${ours.backend}/${ours.unetRoute}`.padEnd(14)} PyTorch        ratio`);
  for (const k of keys) {
    const ref = reference ? String(reference[k]) : '—';
    console.log(`${k.padEnd(17)} ${String(ours[k]).padEnd(14)} ${ref.padEnd(14)} ${ratios ? `${ratios[k]}×` : ''}`);
  }
  if (ours.unetExportSeconds !== undefined) console.log(`(UNet export ${ours.unetExportSeconds.toFixed(1)} s, ORT session ${ours.unetSessionSeconds?.toFixed(1)} s, once per model and size)`);
  if (!reference) console.log(`(no PyTorch figures: ${why})`);
}
