/**
 * Original (CompVis/LDM, "single-file") Stable Diffusion 1.x checkpoints presented as three
 * TensorSources under diffusers/transformers names, with configs inferred from the tensor shapes.
 * Browser-safe: it renames any TensorSource (the Node file opener is in diffusers-folder.ts).
 *
 * The name correspondence is the one diffusers' converters implement
 * (scripts/convert_original_stable_diffusion_to_diffusers.py, loaders/single_file_utils.py:
 * convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint, LDM_CLIP_PREFIX_TO_REMOVE), written here
 * as rules in both directions:
 *
 * UNet, `model.diffusion_model.` + (L = layers_per_block; down block i, layer j; up block i, layer j)
 *   time_embed.0 / .2                 time_embedding.linear_1 / linear_2
 *   input_blocks.0.0                  conv_in
 *   input_blocks.{(L+1)i+j+1}.0 / .1  down_blocks.i.resnets.j / down_blocks.i.attentions.j   (j < L)
 *   input_blocks.{(L+1)(i+1)}.0.op    down_blocks.i.downsamplers.0.conv
 *   middle_block.0 / .1 / .2          mid_block.resnets.0 / mid_block.attentions.0 / mid_block.resnets.1
 *   output_blocks.{(L+1)i+j}.0 / .1   up_blocks.i.resnets.j / up_blocks.i.attentions.j        (j ≤ L)
 *   output_blocks.{(L+1)i+L}.{1|2}    up_blocks.i.upsamplers.0 (position 2 when the block has attention)
 *   out.0 / out.2                     conv_norm_out / conv_out
 *   inside resnets: in_layers.0 norm1, in_layers.2 conv1, emb_layers.1 time_emb_proj,
 *                   out_layers.0 norm2, out_layers.3 conv2, skip_connection conv_shortcut;
 *   inside attentions (SpatialTransformer = Transformer2DModel) the names are the same.
 * VAE, `first_stage_model.` + (n levels)
 *   encoder.down.i.block.j / .downsample      encoder.down_blocks.i.resnets.j / .downsamplers.0
 *   decoder.up.k.block.j / .upsample          decoder.up_blocks.{n−1−k}.resnets.j / .upsamplers.0
 *   {en,de}coder.mid.block_1 / block_2        mid_block.resnets.0 / .1
 *   {en,de}coder.mid.attn_1.norm/q/k/v/proj_out   mid_block.attentions.0.group_norm/to_q/to_k/to_v/to_out.0
 *        (q, k, v, proj_out weights are 1×1 convs [C, C, 1, 1] there, Linear [C, C] in diffusers)
 *   {en,de}coder.norm_out                      conv_norm_out; nin_shortcut → conv_shortcut in resnets;
 *   conv_in, conv_out, quant_conv, post_quant_conv unchanged.
 * Text encoder, `cond_stage_model.transformer.` + the transformers CLIPTextModel name
 *   (`text_model.…`; files from older transformers omit `text_model.`, which is added back).
 * Everything else (model_ema.*, the DDPM schedule buffers betas/alphas_cumprod/…, `logvar`,
 * position_ids) belongs to no model and is listed in `ignored`.
 */
import { DiffusionError } from '../errors.ts';
import {
  type ComponentWeights,
  type SdModelComponent,
  SD15_SCHEDULER_CONFIG,
  SD15_TEXT_ENCODER_CONFIG,
  SD15_UNET_CONFIG,
  SD15_VAE_CONFIG,
  type StableDiffusionCheckpoint,
  copyConfig,
} from './sd-pipeline.ts';
import type { TensorInfo, TensorSource } from './tensor-source.ts';

export const SINGLE_FILE_PREFIXES: Readonly<Record<SdModelComponent, string>> = {
  unet: 'model.diffusion_model.',
  vae: 'first_stage_model.',
  text_encoder: 'cond_stage_model.transformer.',
};

/** What the index arithmetic of the renaming needs to know about the models. */
export interface SingleFileLayout {
  /** UNet `layers_per_block` (2 in SD-1.x). */
  unetLayersPerBlock: number;
  /** Whether each UNet up block has attention (decides the upsampler's position; diffusers → original only). */
  unetUpBlockHasAttention: boolean[];
  /** VAE resolution levels (4 in SD-1.x): the decoder's up blocks are numbered in reverse. */
  vaeLevels: number;
}

export const SD1_LAYOUT: SingleFileLayout = { unetLayersPerBlock: 2, unetUpBlockHasAttention: [false, true, true, true], vaeLevels: 4 };

const RESNET_RENAMES: ReadonlyArray<readonly [string, string]> = [
  ['in_layers.0.', 'norm1.'],
  ['in_layers.2.', 'conv1.'],
  ['emb_layers.1.', 'time_emb_proj.'],
  ['out_layers.0.', 'norm2.'],
  ['out_layers.3.', 'conv2.'],
  ['skip_connection.', 'conv_shortcut.'],
];
const VAE_ATTENTION_RENAMES: ReadonlyArray<readonly [string, string]> = [
  ['norm', 'group_norm'],
  ['q', 'to_q'],
  ['k', 'to_k'],
  ['v', 'to_v'],
  ['proj_out', 'to_out.0'],
];

function renamePrefix(rest: string, table: ReadonlyArray<readonly [string, string]>, reverse: boolean): string | undefined {
  for (const [original, diffusers] of table) {
    const [from, to] = reverse ? [diffusers, original] : [original, diffusers];
    if (rest.startsWith(from)) return to + rest.slice(from.length);
  }
  return undefined;
}

const vaeResnet = (rest: string, reverse: boolean): string => {
  const [from, to] = reverse ? ['conv_shortcut.', 'nin_shortcut.'] : ['nin_shortcut.', 'conv_shortcut.'];
  return rest.startsWith(from) ? to + rest.slice(from.length) : rest;
};

/** An original UNet name (without `model.diffusion_model.`) → its diffusers name, or undefined. */
export function unetNameToDiffusers(rest: string, layersPerBlock: number): string | undefined {
  const per = layersPerBlock + 1;
  let m = /^time_embed\.([02])\.(.+)$/.exec(rest);
  if (m) return `time_embedding.linear_${m[1] === '0' ? 1 : 2}.${m[2]}`;
  m = /^out\.([02])\.(.+)$/.exec(rest);
  if (m) return `${m[1] === '0' ? 'conv_norm_out' : 'conv_out'}.${m[2]}`;
  m = /^middle_block\.([012])\.(.+)$/.exec(rest);
  if (m) {
    if (m[1] === '1') return `mid_block.attentions.0.${m[2]}`;
    const inner = renamePrefix(m[2], RESNET_RENAMES, false);
    return inner && `mid_block.resnets.${m[1] === '0' ? 0 : 1}.${inner}`;
  }
  m = /^input_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(rest);
  if (m) {
    const [k, position, inner] = [Number(m[1]), Number(m[2]), m[3]];
    if (k === 0) return position === 0 ? `conv_in.${inner}` : undefined;
    const block = Math.floor((k - 1) / per);
    const layer = (k - 1) % per;
    if (layer === layersPerBlock) {
      return position === 0 && inner.startsWith('op.') ? `down_blocks.${block}.downsamplers.0.conv.${inner.slice(3)}` : undefined;
    }
    if (position === 1) return `down_blocks.${block}.attentions.${layer}.${inner}`;
    const resnet = position === 0 ? renamePrefix(inner, RESNET_RENAMES, false) : undefined;
    return resnet && `down_blocks.${block}.resnets.${layer}.${resnet}`;
  }
  m = /^output_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(rest);
  if (m) {
    const [k, position, inner] = [Number(m[1]), Number(m[2]), m[3]];
    const block = Math.floor(k / per);
    const layer = k % per;
    if (position === 0) {
      const resnet = renamePrefix(inner, RESNET_RENAMES, false);
      return resnet && `up_blocks.${block}.resnets.${layer}.${resnet}`;
    }
    // The upsampler is the block's last layer's last module: a bare `conv`.
    const isUpsampler = layer === layersPerBlock && inner.startsWith('conv.');
    if (isUpsampler && (position === 1 || position === 2)) return `up_blocks.${block}.upsamplers.0.${inner}`;
    if (position === 1) return `up_blocks.${block}.attentions.${layer}.${inner}`;
    return undefined;
  }
  return undefined;
}

/** A diffusers UNet name → its original name (without the prefix), or undefined. */
export function unetNameToOriginal(name: string, layout: SingleFileLayout): string | undefined {
  const per = layout.unetLayersPerBlock + 1;
  let m = /^time_embedding\.linear_([12])\.(.+)$/.exec(name);
  if (m) return `time_embed.${m[1] === '1' ? 0 : 2}.${m[2]}`;
  m = /^(conv_in|conv_norm_out|conv_out)\.(.+)$/.exec(name);
  if (m) return `${{ conv_in: 'input_blocks.0.0', conv_norm_out: 'out.0', conv_out: 'out.2' }[m[1]]}.${m[2]}`;
  m = /^mid_block\.(resnets|attentions)\.(\d+)\.(.+)$/.exec(name);
  if (m) {
    if (m[1] === 'attentions') return m[2] === '0' ? `middle_block.1.${m[3]}` : undefined;
    const inner = renamePrefix(m[3], RESNET_RENAMES, true);
    return inner && (m[2] === '0' || m[2] === '1') ? `middle_block.${m[2] === '0' ? 0 : 2}.${inner}` : undefined;
  }
  m = /^(down|up)_blocks\.(\d+)\.(resnets|attentions|downsamplers|upsamplers)\.(\d+)\.(.+)$/.exec(name);
  if (!m) return undefined;
  const [down, block, kind, layer, inner] = [m[1] === 'down', Number(m[2]), m[3], Number(m[4]), m[5]];
  if (down) {
    if (kind === 'downsamplers') return layer === 0 && inner.startsWith('conv.') ? `input_blocks.${per * (block + 1)}.0.op.${inner.slice(5)}` : undefined;
    const k = per * block + layer + 1;
    if (kind === 'attentions') return `input_blocks.${k}.1.${inner}`;
    const resnet = kind === 'resnets' ? renamePrefix(inner, RESNET_RENAMES, true) : undefined;
    return resnet && `input_blocks.${k}.0.${resnet}`;
  }
  if (kind === 'upsamplers') {
    if (layer !== 0) return undefined;
    return `output_blocks.${per * block + layout.unetLayersPerBlock}.${layout.unetUpBlockHasAttention[block] ? 2 : 1}.${inner}`;
  }
  const k = per * block + layer;
  if (kind === 'attentions') return `output_blocks.${k}.1.${inner}`;
  const resnet = kind === 'resnets' ? renamePrefix(inner, RESNET_RENAMES, true) : undefined;
  return resnet && `output_blocks.${k}.0.${resnet}`;
}

/** An original VAE name (without `first_stage_model.`) → its diffusers name, or undefined. */
export function vaeNameToDiffusers(rest: string, levels: number): string | undefined {
  let m = /^(encoder|decoder)\.(conv_in|conv_out)\.(.+)$/.exec(rest);
  if (m) return rest;
  m = /^(quant_conv|post_quant_conv)\.(.+)$/.exec(rest);
  if (m) return rest;
  m = /^(encoder|decoder)\.norm_out\.(.+)$/.exec(rest);
  if (m) return `${m[1]}.conv_norm_out.${m[2]}`;
  m = /^encoder\.down\.(\d+)\.block\.(\d+)\.(.+)$/.exec(rest);
  if (m) return `encoder.down_blocks.${m[1]}.resnets.${m[2]}.${vaeResnet(m[3], false)}`;
  m = /^encoder\.down\.(\d+)\.downsample\.conv\.(.+)$/.exec(rest);
  if (m) return `encoder.down_blocks.${m[1]}.downsamplers.0.conv.${m[2]}`;
  m = /^decoder\.up\.(\d+)\.block\.(\d+)\.(.+)$/.exec(rest);
  if (m) return Number(m[1]) < levels ? `decoder.up_blocks.${levels - 1 - Number(m[1])}.resnets.${m[2]}.${vaeResnet(m[3], false)}` : undefined;
  m = /^decoder\.up\.(\d+)\.upsample\.conv\.(.+)$/.exec(rest);
  if (m) return Number(m[1]) < levels ? `decoder.up_blocks.${levels - 1 - Number(m[1])}.upsamplers.0.conv.${m[2]}` : undefined;
  m = /^(encoder|decoder)\.mid\.block_([12])\.(.+)$/.exec(rest);
  if (m) return `${m[1]}.mid_block.resnets.${Number(m[2]) - 1}.${vaeResnet(m[3], false)}`;
  m = /^(encoder|decoder)\.mid\.attn_1\.(norm|q|k|v|proj_out)\.(weight|bias)$/.exec(rest);
  if (m) return `${m[1]}.mid_block.attentions.0.${renamePrefix(m[2], VAE_ATTENTION_RENAMES, false)}.${m[3]}`;
  return undefined;
}

/** A diffusers VAE name → its original name (without the prefix), or undefined. */
export function vaeNameToOriginal(name: string, levels: number): string | undefined {
  let m = /^(encoder|decoder)\.(conv_in|conv_out)\.(.+)$/.exec(name);
  if (m) return name;
  m = /^(quant_conv|post_quant_conv)\.(.+)$/.exec(name);
  if (m) return name;
  m = /^(encoder|decoder)\.conv_norm_out\.(.+)$/.exec(name);
  if (m) return `${m[1]}.norm_out.${m[2]}`;
  m = /^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(name);
  if (m) return `encoder.down.${m[1]}.block.${m[2]}.${vaeResnet(m[3], true)}`;
  m = /^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)$/.exec(name);
  if (m) return `encoder.down.${m[1]}.downsample.conv.${m[2]}`;
  m = /^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(name);
  if (m) return Number(m[1]) < levels ? `decoder.up.${levels - 1 - Number(m[1])}.block.${m[2]}.${vaeResnet(m[3], true)}` : undefined;
  m = /^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)$/.exec(name);
  if (m) return Number(m[1]) < levels ? `decoder.up.${levels - 1 - Number(m[1])}.upsample.conv.${m[2]}` : undefined;
  m = /^(encoder|decoder)\.mid_block\.resnets\.([01])\.(.+)$/.exec(name);
  if (m) return `${m[1]}.mid.block_${Number(m[2]) + 1}.${vaeResnet(m[3], true)}`;
  m = /^(encoder|decoder)\.mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/.exec(name);
  if (m) return `${m[1]}.mid.attn_1.${renamePrefix(m[2], VAE_ATTENTION_RENAMES, true)}.${m[3]}`;
  return undefined;
}

/** An original text-encoder name (without `cond_stage_model.transformer.`) → transformers' name, or undefined. */
export function textEncoderNameToDiffusers(rest: string): string | undefined {
  if (rest.startsWith('text_model.')) return rest;
  if (/^(embeddings|encoder|final_layer_norm)\./.test(rest)) return `text_model.${rest}`;
  return undefined;
}

/** The VAE attention's 1×1 conv weights: [C, C, 1, 1] in the original file, Linear [C, C] in diffusers. */
const isVaeAttentionWeight = (diffusersName: string): boolean => /mid_block\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(diffusersName);

/** Any position_ids buffer: transformers ≥ 4.31 no longer keeps it (its value is arange(77)). */
export const isPositionIds = (name: string): boolean => name.endsWith('embeddings.position_ids');

/**
 * A view of `base` under other names. Shapes may differ only by squeezed trailing 1s (same data).
 * Closing every view of a shared base closes the base.
 */
export class RenamedTensorSource implements TensorSource {
  private closed = false;
  constructor(
    readonly source: string,
    private readonly base: TensorSource,
    /** new name → the base's name and the shape presented. */
    private readonly table: Map<string, { from: string; shape: number[] }>,
    private readonly onClose: () => void = () => base.close(),
  ) {}
  names(): string[] {
    return [...this.table.keys()];
  }
  info(name: string): TensorInfo | undefined {
    const t = this.table.get(name);
    const info = t && this.base.info(t.from);
    return t && info && { shape: t.shape.slice(), dtype: info.dtype };
  }
  read(name: string): Float32Array {
    const t = this.table.get(name);
    if (!t) throw new DiffusionError('INVALID_ARGUMENT', `${this.source}: no tensor "${name}"`);
    return this.base.read(t.from);
  }
  /** The base's name for `name` (for messages and tests). */
  originalName(name: string): string | undefined {
    return this.table.get(name)?.from;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }
}

function unsupported(source: string, why: string): never {
  throw new DiffusionError('CHECKPOINT_CORRUPT', `${source}: ${why}`);
}

/** Smallest k ≥ 1 with a downsampler at input_blocks.k (= layers_per_block + 1); SD-1.x: 3. */
function inferUnetLayersPerBlock(names: readonly string[], source: string): number {
  const prefix = SINGLE_FILE_PREFIXES.unet;
  let first = Infinity;
  for (const n of names) {
    const m = /^input_blocks\.(\d+)\.0\.op\.weight$/.exec(n.slice(prefix.length));
    if (n.startsWith(prefix) && m) first = Math.min(first, Number(m[1]));
  }
  if (first === Infinity) {
    // One level (no downsampler): every input block after conv_in is a layer.
    const indices = new Set(names.filter((n) => n.startsWith(`${prefix}input_blocks.`)).map((n) => n.split('.')[3]));
    if (indices.size < 2) unsupported(source, `no UNet input blocks (${prefix}input_blocks.*) — not a Stable Diffusion checkpoint`);
    return indices.size - 1;
  }
  if (first < 2) unsupported(source, `unexpected UNet layout: a downsampler at ${prefix}input_blocks.${first}`);
  return first - 1;
}

function inferVaeLevels(names: readonly string[]): number {
  let levels = 0;
  for (const n of names) {
    const m = /^first_stage_model\.(?:encoder\.down|decoder\.up)\.(\d+)\./.exec(n);
    if (m) levels = Math.max(levels, Number(m[1]) + 1);
  }
  return levels;
}

/**
 * Check that `file` is an SD-1.x single-file checkpoint (CLIP ViT-L text encoder under
 * cond_stage_model.transformer.*) and split it into three renamed sources; anything else is a
 * CHECKPOINT_CORRUPT error saying what it is instead (SD-2.x, SDXL, not Stable Diffusion).
 */
export function splitSingleFile(file: TensorSource): { sources: Record<SdModelComponent, RenamedTensorSource>; ignored: string[]; layout: SingleFileLayout } {
  const names = file.names();
  const has = (prefix: string): boolean => names.some((n) => n.startsWith(prefix));
  if (has('conditioner.embedders.')) {
    unsupported(file.source, 'an SDXL single-file checkpoint (conditioner.embedders.*) — only Stable Diffusion 1.x single files are supported');
  }
  if (has('cond_stage_model.model.')) {
    unsupported(file.source, 'a Stable Diffusion 2.x single-file checkpoint (OpenCLIP text encoder, cond_stage_model.model.*) — only SD-1.x (CLIP, cond_stage_model.transformer.*) is supported');
  }
  for (const component of ['unet', 'vae', 'text_encoder'] as const) {
    if (!has(SINGLE_FILE_PREFIXES[component])) {
      unsupported(file.source, `not a Stable Diffusion 1.x single-file checkpoint: no ${component} tensors (${SINGLE_FILE_PREFIXES[component]}*)`);
    }
  }
  const unetLayersPerBlock = inferUnetLayersPerBlock(names, file.source);
  const vaeLevels = inferVaeLevels(names);
  const tables: Record<SdModelComponent, Map<string, { from: string; shape: number[] }>> = { unet: new Map(), vae: new Map(), text_encoder: new Map() };
  const ignored: string[] = [];
  for (const name of names) {
    const component = (['unet', 'vae', 'text_encoder'] as const).find((c) => name.startsWith(SINGLE_FILE_PREFIXES[c]));
    if (!component || isPositionIds(name)) {
      ignored.push(name);
      continue;
    }
    const rest = name.slice(SINGLE_FILE_PREFIXES[component].length);
    const renamed =
      component === 'unet' ? unetNameToDiffusers(rest, unetLayersPerBlock) : component === 'vae' ? vaeNameToDiffusers(rest, vaeLevels) : textEncoderNameToDiffusers(rest);
    // A name no rule knows keeps its original spelling, so loading reports it as unexpected.
    const target = renamed ?? name;
    let shape = (file.info(name) as TensorInfo).shape;
    if (component === 'vae' && isVaeAttentionWeight(target) && shape.length === 4 && shape[2] === 1 && shape[3] === 1) shape = shape.slice(0, 2);
    const previous = tables[component].get(target);
    if (previous) unsupported(file.source, `tensors "${previous.from}" and "${name}" both map to ${component} "${target}"`);
    tables[component].set(target, { from: name, shape });
  }
  let open = 3;
  const closeOne = (): void => {
    if (--open === 0) file.close();
  };
  const view = (c: SdModelComponent): RenamedTensorSource => new RenamedTensorSource(`${file.source} (${c})`, file, tables[c], closeOne);
  const unetUpBlockHasAttention = inferUpBlockAttention(tables.unet);
  return {
    sources: { unet: view('unet'), vae: view('vae'), text_encoder: view('text_encoder') },
    ignored,
    layout: { unetLayersPerBlock, unetUpBlockHasAttention, vaeLevels },
  };
}

function inferUpBlockAttention(unet: Map<string, unknown>): boolean[] {
  const out: boolean[] = [];
  for (const name of unet.keys()) {
    const m = /^up_blocks\.(\d+)\.(attentions|resnets)\./.exec(name);
    if (!m) continue;
    const i = Number(m[1]);
    while (out.length <= i) out.push(false);
    if (m[2] === 'attentions') out[i] = true;
  }
  return out;
}

/** Reads shapes by diffusers name for config inference; a missing tensor is CHECKPOINT_CORRUPT naming it. */
function shapeReader(source: TensorSource, what: string): (name: string) => number[] {
  return (name) => {
    const info = source.info(name);
    if (!info) unsupported(source.source, `cannot infer the ${what} config: no tensor "${name}"`);
    return info.shape;
  };
}

function countIndices(names: readonly string[], pattern: RegExp): number {
  let count = 0;
  for (const n of names) {
    const m = pattern.exec(n);
    if (m) count = Math.max(count, Number(m[1]) + 1);
  }
  return count;
}

/** UNet2DConditionModel config.json from the tensor shapes (SD-1.5's values for what shapes cannot tell). */
export function inferUnetConfig(unet: TensorSource, layersPerBlock: number): Record<string, unknown> {
  const shape = shapeReader(unet, 'UNet');
  const names = unet.names();
  const levels = countIndices(names, /^down_blocks\.(\d+)\./);
  const blockOut: number[] = [];
  const down: string[] = [];
  const up: string[] = [];
  for (let i = 0; i < levels; i++) {
    blockOut.push(shape(`down_blocks.${i}.resnets.0.conv2.weight`)[0]);
    down.push(unet.info(`down_blocks.${i}.attentions.0.proj_in.weight`) ? 'CrossAttnDownBlock2D' : 'DownBlock2D');
    up.push(unet.info(`up_blocks.${i}.attentions.0.proj_in.weight`) ? 'CrossAttnUpBlock2D' : 'UpBlock2D');
  }
  const crossKey = names.find((n) => /attn2\.to_k\.weight$/.test(n));
  const projIn = names.find((n) => /\.proj_in\.weight$/.test(n));
  const config: Record<string, unknown> = copyConfig(SD15_UNET_CONFIG);
  Object.assign(config, {
    block_out_channels: blockOut,
    cross_attention_dim: crossKey ? shape(crossKey)[1] : SD15_UNET_CONFIG.cross_attention_dim,
    down_block_types: down,
    in_channels: shape('conv_in.weight')[1],
    layers_per_block: layersPerBlock,
    out_channels: shape('conv_out.weight')[0],
    up_block_types: up,
    // SD-1.x projects into and out of its transformers with 1×1 convs; SD-2.x with Linear layers.
    use_linear_projection: projIn ? shape(projIn).length === 2 : false,
  });
  return config;
}

/** AutoencoderKL config.json from the tensor shapes. */
export function inferVaeConfig(vae: TensorSource): Record<string, unknown> {
  const shape = shapeReader(vae, 'VAE');
  const names = vae.names();
  const levels = countIndices(names, /^encoder\.down_blocks\.(\d+)\./);
  const blockOut: number[] = [];
  for (let i = 0; i < levels; i++) blockOut.push(shape(`encoder.down_blocks.${i}.resnets.0.conv2.weight`)[0]);
  const config: Record<string, unknown> = copyConfig(SD15_VAE_CONFIG);
  Object.assign(config, {
    block_out_channels: blockOut,
    down_block_types: new Array<string>(levels).fill('DownEncoderBlock2D'),
    in_channels: shape('encoder.conv_in.weight')[1],
    latent_channels: shape('post_quant_conv.weight')[0],
    layers_per_block: countIndices(names, /^encoder\.down_blocks\.0\.resnets\.(\d+)\./),
    out_channels: shape('decoder.conv_out.weight')[0],
    up_block_types: new Array<string>(levels).fill('UpDecoderBlock2D'),
  });
  return config;
}

/** CLIPTextModel config.json from the tensor shapes (heads: hidden / 64, as in every CLIP text tower). */
export function inferTextEncoderConfig(text: TensorSource): Record<string, unknown> {
  const shape = shapeReader(text, 'text encoder');
  const [vocab, hidden] = shape('text_model.embeddings.token_embedding.weight');
  const config: Record<string, unknown> = copyConfig(SD15_TEXT_ENCODER_CONFIG);
  Object.assign(config, {
    hidden_size: hidden,
    intermediate_size: shape('text_model.encoder.layers.0.mlp.fc1.weight')[0],
    max_position_embeddings: shape('text_model.embeddings.position_embedding.weight')[0],
    num_attention_heads: Math.max(1, Math.round(hidden / 64)),
    num_hidden_layers: countIndices(text.names(), /^text_model\.encoder\.layers\.(\d+)\./),
    projection_dim: hidden,
    vocab_size: vocab,
  });
  return config;
}

/** An SD-1.x single file (any TensorSource over it) as a StableDiffusionCheckpoint. */
export function singleFileCheckpoint(file: TensorSource): StableDiffusionCheckpoint {
  let split: ReturnType<typeof splitSingleFile>;
  try {
    split = splitSingleFile(file);
  } catch (err) {
    file.close();
    throw err;
  }
  const { sources, ignored, layout } = split;
  const inferred = `${file.source} (config inferred from tensor shapes, SD-1.5 defaults)`;
  const component = (c: SdModelComponent, className: string, config: Record<string, unknown>): ComponentWeights => ({
    className,
    config,
    configSource: inferred,
    weights: sources[c],
  });
  try {
    return {
      source: file.source,
      layout: 'single-file',
      textEncoder: component('text_encoder', 'CLIPTextModel', inferTextEncoderConfig(sources.text_encoder)),
      unet: component('unet', 'UNet2DConditionModel', inferUnetConfig(sources.unet, layout.unetLayersPerBlock)),
      vae: component('vae', 'AutoencoderKL', inferVaeConfig(sources.vae)),
      scheduler: { className: 'PNDMScheduler', config: copyConfig(SD15_SCHEDULER_CONFIG), configSource: inferred },
      ignored,
      close: () => file.close(),
    };
  } catch (err) {
    file.close();
    throw err;
  }
}

/** diffusers name → original single-file name (with its prefix), for writing original-layout files. */
export function diffusersToSingleFileName(component: SdModelComponent, name: string, layout: SingleFileLayout = SD1_LAYOUT): string | undefined {
  const rest =
    component === 'unet' ? unetNameToOriginal(name, layout) : component === 'vae' ? vaeNameToOriginal(name, layout.vaeLevels) : name.startsWith('text_model.') ? name : undefined;
  return rest && SINGLE_FILE_PREFIXES[component] + rest;
}
