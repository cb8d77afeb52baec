/**
 * Node-only: Stable Diffusion checkpoints on disk — diffusers pipeline folders (read and written)
 * and original single `.safetensors` files — as StableDiffusionCheckpoint (sd-pipeline.ts).
 * Upstream counterpart: diffusers' `DiffusionPipeline.from_pretrained` / `save_pretrained` layout:
 *   model_index.json         {"_class_name": "StableDiffusionPipeline", "<component>": ["<library>", "<class>"], …}
 *   text_encoder/            config.json + model.safetensors            (transformers' names)
 *   tokenizer/               vocab.json, merges.txt, special_tokens_map.json, tokenizer_config.json
 *   unet/, vae/              config.json + diffusion_pytorch_model.safetensors (diffusers' names)
 *   scheduler/               scheduler_config.json
 * Weights may be the `.fp16.safetensors` variant. PyTorch pickles (.bin/.ckpt/.pt) are never
 * unpickled (loading one can run arbitrary code): the user is told to convert them to safetensors.
 */
import { parseDiffusersJson } from '../schedulers/latent-config.ts';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ensureDirectory } from '@flashdiff/cli-kit';
import { DiffusionError } from '../errors.ts';
import { type SafetensorsWriteDtype, type TensorToWrite, openSafetensorsFile, writeSafetensorsFile } from './safetensors-file.ts';
import { type ComponentWeights, EXPECTED_COMPONENT_CLASSES, SUPPORTED_PIPELINES, type StableDiffusionCheckpoint } from './sd-pipeline.ts';
import { RenamedTensorSource, isPositionIds, singleFileCheckpoint } from './single-file.ts';
import type { TensorSource } from './tensor-source.ts';

const WEIGHT_FILES = {
  diffusers: { safetensors: 'diffusion_pytorch_model', pickle: 'diffusion_pytorch_model' },
  transformers: { safetensors: 'model', pickle: 'pytorch_model' },
} as const;
const PICKLE_EXTENSIONS = ['.bin', '.ckpt', '.pt', '.pth', '.pkl'];
const TOKENIZER_FILES = ['vocab.json', 'merges.txt'];
const TOKENIZER_OPTIONAL_FILES = ['special_tokens_map.json', 'tokenizer_config.json'];

const CONVERT_HINT =
  'convert it to safetensors first (e.g. in Python: safetensors.torch.save_file(state_dict, "….safetensors"), or diffusers\' save_pretrained(…, safe_serialization=True)); pickles are not loaded because unpickling can run arbitrary code';

export interface OpenCheckpointOptions {
  /**
   * Prefer `<weights>.<variant>.safetensors` (diffusers' variants: "fp16", "non_ema", …). Without it,
   * or when a folder lacks that variant: the plain file, then the fp16 one.
   */
  variant?: string;
}

/** Parse JSON; a syntax error is CHECKPOINT_CORRUPT naming the file, the line and column. */
export function parseJsonFile(text: string, path: string): unknown {
  try {
    // Python's json writes -Infinity / Infinity / NaN (e.g. DPM-Solver's lambda_min_clipped).
    return parseDiffusersJson(text);
  } catch (err) {
    const message = (err as Error).message;
    const m = /at position (\d+)/.exec(message);
    const position = m ? Number(m[1]) : text.length;
    const before = text.slice(0, position).split('\n');
    throw new DiffusionError(
      'CHECKPOINT_CORRUPT',
      `${path}: malformed JSON at line ${before.length}, column ${before[before.length - 1].length + 1} (byte ${position}): ${message.replace(/ in JSON at position \d+.*$/, '')}`,
    );
  }
}

function readJsonObject(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new DiffusionError('CHECKPOINT_MISSING', `${path}: missing`);
  const value = parseJsonFile(readFileSync(path, 'utf8'), path);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DiffusionError('CHECKPOINT_CORRUPT', `${path}: not a JSON object`);
  return value as Record<string, unknown>;
}

/** True when the file starts like a PyTorch checkpoint: a zip archive (torch.save ≥ 1.6) or a raw pickle. */
function looksLikePickle(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = new Uint8Array(2);
    const n = readSync(fd, head, 0, 2, 0);
    return n === 2 && ((head[0] === 0x50 && head[1] === 0x4b) || (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5));
  } finally {
    closeSync(fd);
  }
}

/**
 * The safetensors weights file of one component folder. `kind` picks the file names (diffusers'
 * `diffusion_pytorch_model` or transformers' `model`); a pickle alone is refused with a hint.
 */
export function findWeightsFile(folder: string, kind: 'diffusers' | 'transformers', options: OpenCheckpointOptions = {}): string {
  const names = WEIGHT_FILES[kind];
  const full = join(folder, `${names.safetensors}.safetensors`);
  const half = join(folder, `${names.safetensors}.fp16.safetensors`);
  if (options.variant !== undefined && !/^[\w-]+$/.test(options.variant)) throw new DiffusionError('INVALID_ARGUMENT', `variant ${JSON.stringify(options.variant)}: expected a name like fp16`);
  const order = options.variant ? [join(folder, `${names.safetensors}.${options.variant}.safetensors`), full, half] : [full, half];
  for (const path of order) if (existsSync(path)) return path;
  if (existsSync(join(folder, `${names.safetensors}.safetensors.index.json`))) {
    throw new DiffusionError('CHECKPOINT_CORRUPT', `${join(folder, `${names.safetensors}.safetensors.index.json`)}: sharded weights are not supported; save the model as one safetensors file`);
  }
  for (const stem of [names.pickle, `${names.pickle}.fp16`]) {
    const pickle = join(folder, `${stem}.bin`);
    if (existsSync(pickle)) throw new DiffusionError('CHECKPOINT_MISSING', `${pickle}: a PyTorch pickle with no safetensors beside it; ${CONVERT_HINT}`);
  }
  throw new DiffusionError('CHECKPOINT_MISSING', `${folder}: no weights (expected ${basename(full)} or ${basename(half)})`);
}

/** diffusers < 0.14 names of the VAE's mid-block attention (AttentionBlock), still in many hub files. */
const DEPRECATED_ATTENTION = /^(.*\.attentions\.\d+\.)(query|key|value|proj_attn)\.(weight|bias)$/;
const MODERN_ATTENTION: Record<string, string> = { query: 'to_q', key: 'to_k', value: 'to_v', proj_attn: 'to_out.0' };

/**
 * The names today's diffusers and transformers models have, as their loaders make them: the VAE
 * attention's query/key/value/proj_attn become to_q/to_k/to_v/to_out.0 (diffusers'
 * `_convert_deprecated_attention_blocks`), and a text encoder's stale position_ids buffer (saved by
 * transformers < 4.31; its value is arange(77)) is dropped into `ignored`.
 */
function modernNames(file: TensorSource, ignored: string[]): TensorSource {
  const names = file.names();
  if (!names.some((n) => isPositionIds(n) || DEPRECATED_ATTENTION.test(n))) return file;
  const table = new Map<string, { from: string; shape: number[] }>();
  for (const name of names) {
    if (isPositionIds(name)) {
      ignored.push(name);
      continue;
    }
    const m = DEPRECATED_ATTENTION.exec(name);
    const target = m ? `${m[1]}${MODERN_ATTENTION[m[2]]}.${m[3]}` : name;
    if (table.has(target)) throw new DiffusionError('CHECKPOINT_CORRUPT', `${file.source}: tensors "${table.get(target)?.from}" and "${name}" are both "${target}"`);
    table.set(target, { from: name, shape: (file.info(name) as { shape: number[] }).shape });
  }
  return new RenamedTensorSource(file.source, file, table);
}

function componentFolder(dir: string, name: string): string {
  const folder = join(dir, name);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new DiffusionError('CHECKPOINT_MISSING', `${folder}: missing (model_index.json lists a ${name})`);
  return folder;
}

/**
 * Open a diffusers Stable Diffusion folder: model_index.json is checked (pipeline class, component
 * classes), each model's config.json is parsed and its weights opened lazily (header only).
 */
export function openDiffusersPipeline(dir: string, options: OpenCheckpointOptions = {}): StableDiffusionCheckpoint {
  if (!existsSync(dir)) throw new DiffusionError('CHECKPOINT_MISSING', `${dir}: no such folder`);
  const indexPath = join(dir, 'model_index.json');
  if (!existsSync(indexPath)) throw new DiffusionError('CHECKPOINT_MISSING', `${indexPath}: missing (is ${dir} a diffusers pipeline folder?)`);
  const index = readJsonObject(indexPath);
  const pipeline = index._class_name;
  if (typeof pipeline !== 'string' || !(SUPPORTED_PIPELINES as readonly string[]).includes(pipeline)) {
    throw new DiffusionError('CHECKPOINT_CORRUPT', `${indexPath}: unsupported pipeline class ${JSON.stringify(pipeline)} (supported: ${SUPPORTED_PIPELINES.join(', ')})`);
  }
  const classOf = (component: string): string | undefined => {
    const entry = index[component];
    if (entry === undefined) throw new DiffusionError('CHECKPOINT_CORRUPT', `${indexPath}: no "${component}" component`);
    if (!Array.isArray(entry) || entry.length !== 2) throw new DiffusionError('CHECKPOINT_CORRUPT', `${indexPath}: "${component}" is not a [library, class] pair`);
    if (entry[1] === null) return undefined;
    const className = String(entry[1]);
    const expected = EXPECTED_COMPONENT_CLASSES[component];
    const ok = expected ? expected.includes(className) : className.endsWith('Scheduler');
    if (!ok) throw new DiffusionError('CHECKPOINT_CORRUPT', `${indexPath}: unsupported ${component} class "${className}" (supported: ${expected ? expected.join(', ') : 'a diffusers *Scheduler'})`);
    return className;
  };

  const opened: TensorSource[] = [];
  const ignored: string[] = [];
  try {
    const model = (component: 'text_encoder' | 'unet' | 'vae'): ComponentWeights => {
      const className = classOf(component);
      if (className === undefined) throw new DiffusionError('CHECKPOINT_CORRUPT', `${indexPath}: the ${component} is null; a text-to-image pipeline needs one`);
      const folder = componentFolder(dir, component);
      const configSource = join(folder, 'config.json');
      const config = readJsonObject(configSource);
      const declared = component === 'text_encoder' ? (Array.isArray(config.architectures) ? config.architectures[0] : config.model_type === 'clip_text_model' ? 'CLIPTextModel' : undefined) : config._class_name;
      if (declared !== undefined && declared !== className) {
        throw new DiffusionError('CHECKPOINT_CORRUPT', `${configSource}: declares ${JSON.stringify(declared)} but model_index.json lists ${className}`);
      }
      const weightsPath = findWeightsFile(folder, component === 'text_encoder' ? 'transformers' : 'diffusers', options);
      const file = openSafetensorsFile(weightsPath);
      opened.push(file);
      return { className, config, configSource, weights: modernNames(file, ignored) };
    };
    const textEncoder = model('text_encoder');
    const unet = model('unet');
    const vae = model('vae');
    const schedulerClass = classOf('scheduler');
    if (schedulerClass === undefined) throw new DiffusionError('CHECKPOINT_CORRUPT', `${indexPath}: the scheduler is null`);
    const schedulerConfigPath = join(componentFolder(dir, 'scheduler'), 'scheduler_config.json');
    const schedulerConfig = readJsonObject(schedulerConfigPath);
    let tokenizerDir: string | undefined;
    if (classOf('tokenizer') !== undefined) {
      tokenizerDir = componentFolder(dir, 'tokenizer');
      for (const file of TOKENIZER_FILES) {
        if (!existsSync(join(tokenizerDir, file))) throw new DiffusionError('CHECKPOINT_MISSING', `${join(tokenizerDir, file)}: missing (the CLIP tokenizer needs vocab.json and merges.txt)`);
      }
    }
    return {
      source: dir,
      layout: 'diffusers',
      textEncoder,
      unet,
      vae,
      scheduler: { className: schedulerClass, config: schedulerConfig, configSource: schedulerConfigPath },
      tokenizerDir,
      ignored,
      close: () => {
        for (const s of opened) s.close();
      },
    };
  } catch (err) {
    for (const s of opened) s.close();
    throw err;
  }
}

/** Open an original SD-1.x `.safetensors` single file; pickles (.ckpt/.pt/.bin) are refused with a hint. */
export function openSingleFileCheckpoint(path: string): StableDiffusionCheckpoint {
  if (!existsSync(path)) throw new DiffusionError('CHECKPOINT_MISSING', `${path}: no such file`);
  const refuse = (): never => {
    throw new DiffusionError('CHECKPOINT_MISSING', `${path}: a PyTorch pickle checkpoint, not safetensors; ${CONVERT_HINT}`);
  };
  if (PICKLE_EXTENSIONS.includes(extname(path).toLowerCase())) refuse();
  let file: TensorSource;
  try {
    file = openSafetensorsFile(path);
  } catch (err) {
    // The magic bytes decide only once the file failed as safetensors: a valid header length can
    // begin with the same two bytes.
    if (err instanceof DiffusionError && err.code === 'CHECKPOINT_CORRUPT' && looksLikePickle(path)) refuse();
    throw err;
  }
  return singleFileCheckpoint(file);
}

/** A diffusers folder or an original single file, whichever `path` is. */
export function openStableDiffusionCheckpoint(path: string, options: OpenCheckpointOptions = {}): StableDiffusionCheckpoint {
  if (!existsSync(path)) throw new DiffusionError('CHECKPOINT_MISSING', `${path}: no such file or folder`);
  return statSync(path).isDirectory() ? openDiffusersPipeline(path, options) : openSingleFileCheckpoint(path);
}

/** One model to save: its config.json object and its tensors under diffusers/transformers names, PyTorch layout. */
export interface ComponentToSave {
  config: Record<string, unknown>;
  tensors: Iterable<TensorToWrite>;
}

export interface PipelineToSave {
  textEncoder: ComponentToSave;
  unet: ComponentToSave;
  vae: ComponentToSave;
  scheduler: { className: string; config: Record<string, unknown> };
  /** A folder with vocab.json and merges.txt (and optionally special_tokens_map.json, tokenizer_config.json) to copy. */
  tokenizerDir?: string;
  /** Default StableDiffusionPipeline. */
  pipelineClass?: (typeof SUPPORTED_PIPELINES)[number];
}

export interface SavePipelineOptions {
  /** Stored dtype (default F32). F16 files are named `.fp16.safetensors` (diffusers' fp16 variant) unless `variantNames: false`. */
  dtype?: SafetensorsWriteDtype;
  variantNames?: boolean;
  /** Written into model_index.json and the diffusers configs (default "0.27.2"). */
  diffusersVersion?: string;
}

/**
 * Write a diffusers folder that diffusers' `from_pretrained` and openDiffusersPipeline read.
 * Atomic: everything goes into a sibling temp folder which then replaces `dir`; an existing `dir`
 * is replaced only if it is empty or holds a model_index.json (never an unrelated folder).
 */
export function saveDiffusersPipeline(dir: string, parts: PipelineToSave, options: SavePipelineOptions = {}): void {
  const target = resolve(dir);
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) throw new DiffusionError('INVALID_ARGUMENT', `${dir}: exists and is not a folder`);
    if (readdirSync(target).length > 0 && !existsSync(join(target, 'model_index.json'))) {
      throw new DiffusionError('INVALID_ARGUMENT', `${dir}: exists and is not a diffusers pipeline folder; refusing to replace it`);
    }
  }
  const dtype = options.dtype ?? 'F32';
  const version = options.diffusersVersion ?? '0.27.2';
  const suffix = dtype === 'F16' && options.variantNames !== false ? '.fp16' : '';
  const temp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  const tokenizerPresent = parts.tokenizerDir !== undefined;
  try {
    ensureDirectory(temp);
    const json = (path: string, value: unknown): void => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
    const index = {
      _class_name: parts.pipelineClass ?? 'StableDiffusionPipeline',
      _diffusers_version: version,
      feature_extractor: [null, null],
      requires_safety_checker: false,
      safety_checker: [null, null],
      scheduler: ['diffusers', parts.scheduler.className],
      text_encoder: ['transformers', 'CLIPTextModel'],
      tokenizer: tokenizerPresent ? ['transformers', 'CLIPTokenizer'] : [null, null],
      unet: ['diffusers', 'UNet2DConditionModel'],
      vae: ['diffusers', 'AutoencoderKL'],
    };
    // transformers refuses safetensors files without {"format": "pt"} metadata.
    const metadata = { format: 'pt' };
    const models: Array<[string, ComponentToSave, Record<string, unknown>, string]> = [
      ['text_encoder', parts.textEncoder, { architectures: ['CLIPTextModel'], model_type: 'clip_text_model' }, `model${suffix}.safetensors`],
      ['unet', parts.unet, { _class_name: 'UNet2DConditionModel', _diffusers_version: version }, `diffusion_pytorch_model${suffix}.safetensors`],
      ['vae', parts.vae, { _class_name: 'AutoencoderKL', _diffusers_version: version }, `diffusion_pytorch_model${suffix}.safetensors`],
    ];
    for (const [name, part, identity, file] of models) {
      mkdirSync(join(temp, name));
      json(join(temp, name, 'config.json'), { ...part.config, ...identity });
      writeSafetensorsFile(join(temp, name, file), part.tensors, { dtype, metadata });
    }
    mkdirSync(join(temp, 'scheduler'));
    json(join(temp, 'scheduler', 'scheduler_config.json'), { ...parts.scheduler.config, _class_name: parts.scheduler.className, _diffusers_version: version });
    if (parts.tokenizerDir !== undefined) {
      mkdirSync(join(temp, 'tokenizer'));
      for (const file of [...TOKENIZER_FILES, ...TOKENIZER_OPTIONAL_FILES]) {
        const from = join(parts.tokenizerDir, file);
        if (existsSync(from)) copyFileSync(from, join(temp, 'tokenizer', file));
        else if (TOKENIZER_FILES.includes(file)) throw new DiffusionError('CHECKPOINT_MISSING', `${from}: missing (the tokenizer needs vocab.json and merges.txt)`);
      }
    }
    json(join(temp, 'model_index.json'), index); // last, like a commit record
    if (existsSync(target)) {
      const old = `${temp}-old`;
      renameSync(target, old);
      renameSync(temp, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(temp, target);
    }
  } catch (err) {
    rmSync(temp, { recursive: true, force: true });
    throw err;
  }
}
