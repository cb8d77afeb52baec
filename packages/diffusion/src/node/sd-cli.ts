/**
 * `diffusion txt2img | img2img | tokenize` — the Stable Diffusion commands. Registered on the main
 * program by src/cli.ts; errors propagate to its handler (one line; exit 2 for bad flags and bad
 * input, 1 for a corrupt checkpoint). Results go to stdout (one JSON line), progress to stderr on a
 * TTY (step i/n and seconds per step). Every output file is written to a temporary file beside it
 * and renamed, after all images are made, so a failure or Ctrl-C leaves earlier files untouched.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { writeFileAtomic } from '@flashdiff/cli-kit';
import { BACKENDS, type BackendName, initBackend } from '../backend-node.ts';
import { openStableDiffusionCheckpoint } from '../checkpoint/diffusers-folder.ts';
import { encodeNpy, parseNpy } from '../data/npy.ts';
import { DiffusionError } from '../errors.ts';
import { imagesToGrid } from '../image/grid.ts';
import { decodePng, encodePng } from '../image/png-node.ts';
import { loadOnnxRuntime } from '../onnx/ort-node.ts';
import { checkpointIdentity, useOnnxTextEncoder, useOnnxUNet, useOnnxVaeDecoder } from '../onnx/sd-unet-ort.ts';
import { bundledClipTokenizerDirectory, loadStableDiffusion } from '../pipelines/load-node.ts';
import type { GeneratedImages, StableDiffusionPipeline, StepInfo } from '../pipelines/stable-diffusion.ts';
import { LATENT_SCHEDULER_KINDS, type LatentSchedulerKind } from '../schedulers/latent-config.ts';
import { loadClipTokenizer } from '../text/clip-tokenizer-node.ts';
import { readModelSettings } from './model-settings.ts';
import { resolveTextToImageModel } from './shipped-model.ts';

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) => (value: string): number => {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
  return n;
};
/** A usage error found after parsing (exit 2, one line). */
const usage = (message: string): DiffusionError => new DiffusionError('INVALID_ARGUMENT', message);

const number = (min: number, max: number) => (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`must be a number in [${min}, ${max}]`);
  return n;
};

/** The model to use: --model (a path, or a shipped model's name), else the default shipped model. */
function modelPath(given: string | undefined): string {
  const model = resolveTextToImageModel(given);
  if (model === null) throw usage('no --model given, and this copy of the package has no shipped text-to-image model');
  return model;
}

/** Progress on a TTY: "step 3/25  1.84 s/step". */
function stepReporter(): { onStep: (info: StepInfo) => void; done: () => void } {
  let last = performance.now();
  let perStep = 0;
  return {
    onStep: ({ step, total }) => {
      const now = performance.now();
      perStep = step === 0 ? (now - last) / 1000 : 0.8 * perStep + 0.2 * ((now - last) / 1000);
      last = now;
      if (process.stderr.isTTY) process.stderr.write(`\rstep ${step + 1}/${total}  ${perStep.toFixed(2)} s/step `);
    },
    done: () => {
      if (process.stderr.isTTY) process.stderr.write('\n');
    },
  };
}

/** The result: one JSON object with --json (nothing else on stdout), else one line for a person. */
function report(o: CommonOptions, result: { files: string[]; backend: string; seconds: number } & Record<string, unknown>): void {
  if (o.json) process.stdout.write(JSON.stringify(result) + '\n');
  else process.stdout.write(`wrote ${result.files.join(', ')} in ${result.seconds} s (${result.backend})\n`);
}

interface CommonOptions {
  json: boolean;
  model?: string;
  negative?: string;
  steps?: number;
  guidance?: number;
  scheduler?: LatentSchedulerKind;
  seed: number;
  n: number;
  clipSkip: number;
  tokenizer?: string;
  backend: BackendName | 'onnx';
  /** --onnx-cache DIR, or false for --no-onnx-cache. */
  onnxCache?: string | false;
  out?: string;
  outDir?: string;
  prompts?: string;
}

function addCommonOptions(command: Command, defaultSteps: number): Command {
  return command
    .option('--model <path>', 'a diffusers folder, an SD-1.x .safetensors file, or a shipped model: shapes-t2i (the default), fashion-t2i')
    .option('--negative <text>', 'negative prompt (default: the empty prompt)')
    .option('--steps <n>', `inference steps (default: the model's flashdiff.json, else ${defaultSteps})`, integer(1, 1000))
    .option('--guidance <w>', "classifier-free guidance scale (≤ 1: none; default: the model's flashdiff.json, else 7.5)", number(0, 100))
    .addOption(new Option('--scheduler <kind>', "sampler (default: the checkpoint's own)").choices(LATENT_SCHEDULER_KINDS))
    .option('--seed <n>', 'seed of the initial noise', integer(0), 0)
    .option('--n <n>', 'images per prompt', integer(1, 64), 1)
    .option('--clip-skip <k>', 'use the text encoder layer N − k', integer(0, 24), 0)
    .option('--tokenizer <dir>', "tokenizer folder (default: the checkpoint's, or the bundled CLIP vocabulary)")
    .option('--prompts <file.txt>', 'one prompt per line (instead of the prompt argument)')
    .option('--out <file>', 'output: .png (a grid when several images: one row per prompt) or .npy (N×H×W×3 floats in [0, 1])')
    .option('--out-dir <dir>', 'also write DIR/<line>-<k>.png for each prompt line and image')
    .option('--json', 'print the result as one JSON object on stdout', false)
    .addOption(
      new Option('--backend <name>', 'tensor backend (onnx: the UNet, the VAE decoder and the text encoder run in onnxruntime-node on graphs exported from the same models; the rest on auto)')
        .choices([...BACKENDS, 'onnx'])
        .default('auto'),
    )
    .option('--onnx-cache <dir>', 'with --backend onnx: keep exported graphs here and reuse them (default: $FLASHDIFF_CACHE_DIR, else $XDG_CACHE_HOME/flashdiff, else ~/.cache/flashdiff; SD-1.5 takes 3.4 GB per image size)')
    .option('--no-onnx-cache', 'with --backend onnx: export into a temporary folder every run');
}

/** The default cache folder of exported graphs. */
function defaultCacheDirectory(): string {
  if (process.env.FLASHDIFF_CACHE_DIR) return process.env.FLASHDIFF_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'flashdiff');
}

function promptsOf(prompt: string | undefined, file: string | undefined): string[] {
  if (prompt !== undefined && file !== undefined) throw usage('give a prompt or --prompts, not both');
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new DiffusionError('DATA_INVALID', `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
    if (lines.length === 0) throw new DiffusionError('DATA_INVALID', `${file}: no prompts (one per line)`);
    return lines;
  }
  if (prompt === undefined) throw usage('no prompt (give one, or --prompts FILE)');
  return [prompt];
}

function checkOutputs(o: CommonOptions): void {
  if (o.out === undefined && o.outDir === undefined) throw usage('--out FILE or --out-dir DIR is required');
  if (o.out !== undefined && !['.png', '.npy'].includes(extname(o.out).toLowerCase())) throw usage(`--out ${o.out}: the file must end in .png or .npy`);
}

/** Write every requested output, only after all images exist. */
function writeOutputs(o: CommonOptions, prompts: string[], result: GeneratedImages): string[] {
  const written: string[] = [];
  const { count, height, width, images } = result;
  const per = height * width * 3;
  if (o.out !== undefined) {
    if (extname(o.out).toLowerCase() === '.npy') writeFileAtomic(o.out, encodeNpy('<f4', [count, height, width, 3], images));
    else writeFileAtomic(o.out, encodePng(imagesToGrid(images.map((v) => 2 * v - 1), count, height, width, 3, count === 1 ? 1 : o.n, count === 1 ? 0 : 1)));
    written.push(o.out);
  }
  if (o.outDir !== undefined) {
    for (let k = 0; k < count; k++) {
      const path = join(o.outDir, `${Math.floor(k / o.n) + 1}-${(k % o.n) + 1}.png`);
      writeFileAtomic(path, encodePng(imagesToGrid(images.subarray(k * per, (k + 1) * per).map((v) => 2 * v - 1), 1, height, width, 3, 1, 0)));
      written.push(path);
    }
  }
  void prompts;
  return written;
}

async function openPipeline(o: CommonOptions): Promise<{ pipe: StableDiffusionPipeline; model: string; backend: string }> {
  const model = modelPath(o.model);
  // The folder's settings card (flashdiff.json, written for the project's own models) fills what the command line leaves out.
  const settings = existsSync(model) && statSync(model).isDirectory() ? readModelSettings(model) : null;
  o.steps ??= settings?.steps ?? 25;
  o.guidance ??= settings?.guidance ?? 7.5;
  if (o.scheduler === undefined && settings?.scheduler !== undefined && settings.scheduler !== 'default') o.scheduler = settings.scheduler;
  if (o.backend === 'onnx') await loadOnnxRuntime(); // fail fast, before loading weights
  const engine = await initBackend(o.backend === 'onnx' ? 'auto' : o.backend);
  const pipe = loadStableDiffusion(engine, model, { scheduler: o.scheduler, tokenizer: o.tokenizer });
  return { pipe, model, backend: o.backend === 'onnx' ? `onnxruntime (UNet, VAE decoder, text encoder) + ${engine.name}` : engine.name };
}

/**
 * --backend onnx: export the UNet, the VAE decoder and the text encoder for this image size (or
 * reuse the cached exports) and run them in onnxruntime-node; what the JSON report says of it.
 */
async function routeToOnnx(o: CommonOptions, model: string, pipe: StableDiffusionPipeline, width: number, height: number): Promise<{ onnx?: { exportSeconds: number; cached: boolean } }> {
  if (o.backend !== 'onnx') return {};
  const f = pipe.vaeScaleFactor;
  const cache = o.onnxCache === false ? undefined : { directory: join(o.onnxCache ?? defaultCacheDirectory(), 'onnx'), weights: checkpointIdentity(model) };
  const size = { height: height / f, width: width / f };
  const unet = await useOnnxUNet(pipe, { ...size, cache });
  const vae = await useOnnxVaeDecoder(pipe, { ...size, cache });
  const text = await useOnnxTextEncoder(pipe, { clipSkip: o.clipSkip, cache });
  return { onnx: { exportSeconds: Math.round((unet.exportSeconds + vae.exportSeconds + text.exportSeconds) * 10) / 10, cached: unet.cached && vae.cached && text.cached } };
}

/** N×4×h×w float32 from a .npy (diffusers' `latents=`). */
function readLatents(path: string, expected: number[]): Float32Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new DiffusionError('DATA_INVALID', `${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const array = parseNpy(bytes, path);
  if (array.shape.length !== 4 || array.shape.some((d, i) => d !== expected[i])) {
    throw new DiffusionError('DATA_INVALID', `${path}: latents of shape [${array.shape.join(', ')}], expected [${expected.join(', ')}] (N × channels × height/8 × width/8)`);
  }
  return Float32Array.from(array.data as ArrayLike<number>);
}

export function registerSdCommands(program: Command): void {
  addCommonOptions(
    program
      .command('txt2img')
      .description('text to image with a Stable Diffusion checkpoint (diffusers folder or SD-1.x .safetensors)')
      .argument('[prompt]', 'the prompt')
      .option('--width <px>', 'width, a multiple of 8 (default: the model’s sample size)', integer(8, 4096))
      .option('--height <px>', 'height, a multiple of 8', integer(8, 4096))
      .option('--latents <init.npy>', 'initial noise N×4×h×w (unit variance, before the scheduler’s scaling), as diffusers’ latents='),
    25,
  ).action(async (prompt: string | undefined, o: CommonOptions & { width?: number; height?: number; latents?: string }) => {
    const prompts = promptsOf(prompt, o.prompts);
    checkOutputs(o);
    const t0 = performance.now();
    const { pipe, model, backend } = await openPipeline(o);
    try {
      const width = o.width ?? pipe.defaultSize;
      const height = o.height ?? pipe.defaultSize;
      const f = pipe.vaeScaleFactor;
      for (const [name, v] of [['--width', width], ['--height', height]] as const) {
        if (v % f !== 0) throw usage(`${name} ${v}: must be a multiple of ${f}`);
      }
      const route = await routeToOnnx(o, model, pipe, width, height);
      const latents = o.latents !== undefined ? readLatents(o.latents, [prompts.length * o.n, pipe.components.unet.config.in_channels, height / f, width / f]) : undefined;
      const progress = stepReporter();
      const result = await pipe.textToImage({ prompt: prompts, negativePrompt: o.negative, steps: o.steps, guidance: o.guidance, seed: o.seed, n: o.n, width, height, latents, clipSkip: o.clipSkip, onStep: progress.onStep });
      progress.done();
      const files = writeOutputs(o, prompts, result);
      report(o, { files, model, prompts: prompts.length, n: o.n, width, height, steps: o.steps, guidance: o.guidance, seed: o.seed, backend, ...route, seconds: Math.round((performance.now() - t0) / 100) / 10 });
    } finally {
      pipe.dispose();
    }
  });

  addCommonOptions(
    program
      .command('img2img')
      .description('image to image: noise an input PNG to a strength, then denoise it under the prompt')
      .argument('[prompt]', 'the prompt')
      .requiredOption('--image <in.png>', 'input image (its width and height must be multiples of 8)')
      .option('--strength <s>', 'how far to noise the input: 0 keeps it, 1 starts from pure noise', number(0, 1), 0.6),
    25,
  ).action(async (prompt: string | undefined, o: CommonOptions & { image: string; strength: number }) => {
    const prompts = promptsOf(prompt, o.prompts);
    checkOutputs(o);
    let png: ReturnType<typeof decodePng>;
    try {
      png = decodePng(readFileSync(o.image));
    } catch (err) {
      throw new DiffusionError('DATA_INVALID', `${o.image}: not a readable PNG (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    const t0 = performance.now();
    const { pipe, model, backend } = await openPipeline(o);
    try {
      const f = pipe.vaeScaleFactor;
      if (png.width % f !== 0 || png.height % f !== 0) throw new DiffusionError('DATA_INVALID', `${o.image}: ${png.width}×${png.height} pixels; width and height must be multiples of ${f}`);
      const data = new Float32Array(png.width * png.height * 3);
      for (let i = 0; i < png.width * png.height; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = png.data[i * 4 + c] / 255;
      const route = await routeToOnnx(o, model, pipe, png.width, png.height);
      const progress = stepReporter();
      const result = await pipe.imageToImage({
        prompt: prompts,
        negativePrompt: o.negative,
        steps: o.steps,
        guidance: o.guidance,
        seed: o.seed,
        n: o.n,
        clipSkip: o.clipSkip,
        strength: o.strength,
        image: { data, width: png.width, height: png.height },
        onStep: progress.onStep,
      });
      progress.done();
      const files = writeOutputs(o, prompts, result);
      report(o, { files, model, image: basename(o.image), strength: o.strength, steps: o.steps, guidance: o.guidance, seed: o.seed, backend, ...route, seconds: Math.round((performance.now() - t0) / 100) / 10 });
    } finally {
      pipe.dispose();
    }
  });

  program
    .command('tokenize')
    .description('the token ids a checkpoint’s CLIP tokenizer gives each prompt (padded and truncated to its length)')
    .argument('<prompts...>', 'one or more prompts')
    .option('--model <path>', 'a diffusers folder (its tokenizer/), a tokenizer folder, or a single file (the bundled CLIP vocabulary)')
    .option('--json', 'print {"inputIds": [[…], …]}', false)
    .action((prompts: string[], o: { model?: string; json: boolean }) => {
      let dir = bundledClipTokenizerDirectory();
      if (o.model !== undefined) {
        let isFolderWithTokenizer = false;
        try {
          isFolderWithTokenizer = readFileSync(join(o.model, 'vocab.json')).length > 0;
        } catch {
          isFolderWithTokenizer = false;
        }
        if (isFolderWithTokenizer) dir = o.model;
        else {
          const checkpoint = openStableDiffusionCheckpoint(o.model);
          dir = checkpoint.tokenizerDir ?? dir;
          checkpoint.close();
        }
      }
      const rows = loadClipTokenizer(dir).call(prompts).inputIds.map((r) => Array.from(r));
      if (o.json) process.stdout.write(JSON.stringify({ inputIds: rows }) + '\n');
      else for (const r of rows) process.stdout.write(r.join(' ') + '\n');
    });
}
