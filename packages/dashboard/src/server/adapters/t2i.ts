/**
 * The text-to-image view's bridge to @flashdiff/diffusion's Stable Diffusion pipeline: the models
 * it offers (the shipped text-to-image model first, then every diffusers folder and `.safetensors`
 * file directly under the models folder the server was given) and request validation. Loading and
 * sampling happen in the worker (workers/t2i-generate.ts).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';
import { type ModelSettings, readModelSettings } from '@flashdiff/diffusion/model-settings';
import type { T2iGenerateRequest, T2iModelInfo } from '../../shared/protocol.ts';
import { T2I_SCHEDULERS } from '../../shared/protocol.ts';
import { DashboardError } from '../errors.ts';
import { field } from '../http-util.ts';

const SD_DEFAULTS = { steps: 25, guidance: 7.5, scheduler: 'default' as const };

function readJsonObject(path: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** A diffusers folder's description, or null when it is not one. */
function describeFolder(name: string, path: string, shipped: boolean): T2iModelInfo | null {
  const index = readJsonObject(join(path, 'model_index.json'));
  if (!index) return null;
  const unet = readJsonObject(join(path, 'unet', 'config.json'));
  const vae = readJsonObject(join(path, 'vae', 'config.json'));
  const sampleSize = typeof unet?.sample_size === 'number' ? unet.sample_size : null;
  const levels = Array.isArray(vae?.block_out_channels) ? vae.block_out_channels.length : null;
  const defaultSize = sampleSize !== null && levels !== null ? sampleSize * 2 ** (levels - 1) : null;
  // The settings card (flashdiff.json), read by the same reader as `diffusion txt2img`; a malformed
  // card is shown as the model's problem rather than hiding the model.
  let card: ModelSettings | null = null;
  let problem: string | null = null;
  try {
    card = readModelSettings(path);
  } catch (err) {
    problem = (err as Error).message;
  }
  const defaults = {
    steps: card?.steps ?? SD_DEFAULTS.steps,
    guidance: card?.guidance ?? SD_DEFAULTS.guidance,
    scheduler: card?.scheduler ?? SD_DEFAULTS.scheduler,
  };
  const examplePrompts = card?.examplePrompts ?? [];
  const generic = `${String(index._class_name ?? 'pipeline')}, diffusers folder${defaultSize ? `, ${defaultSize}×${defaultSize}` : ''}`;
  const description = problem !== null ? `${generic} (settings ignored: ${problem})` : (card?.description ?? generic);
  return { name, path, layout: 'diffusers', shipped, description, defaultSize, defaults, examplePrompts };
}

export function listT2iModels(directory: string, shipped: readonly string[]): T2iModelInfo[] {
  const out: T2iModelInfo[] = [];
  for (const folder of shipped) {
    const info = describeFolder(`${basename(folder)} (shipped)`, folder, true);
    if (info) out.push(info);
  }
  if (!existsSync(directory)) return out;
  for (const name of readdirSync(directory).sort()) {
    const path = join(directory, name);
    let st;
    try {
      st = statSync(path);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      const info = describeFolder(name, path, false);
      if (info) out.push(info);
    } else if (st.isFile() && name.toLowerCase().endsWith('.safetensors')) {
      out.push({ name, path, layout: 'single-file', shipped: false, description: `SD-1.x single file, ${(st.size / 2 ** 30).toFixed(2)} GiB`, defaultSize: 512, defaults: SD_DEFAULTS, examplePrompts: [] });
    }
  }
  return out;
}

/** The model chosen on the page: a shipped one, or an entry directly inside the models folder. */
export function resolveT2iModel(directory: string, chosen: string, shipped: readonly string[]): string {
  const match = shipped.find((folder) => resolve(chosen) === resolve(folder));
  if (match !== undefined) return match;
  const root = resolve(directory);
  const path = resolve(root, chosen);
  if (!path.startsWith(root + sep)) throw new DashboardError('BAD_REQUEST', `model: '${chosen}' is not inside ${root}`);
  if (!existsSync(path)) throw new DashboardError('NOT_FOUND', `model: ${path} does not exist`);
  return path;
}

export function planT2iGenerate(body: Record<string, unknown>, directory: string, shipped: readonly string[]): T2iGenerateRequest {
  const model = resolveT2iModel(directory, field.string(body, 'model'), shipped);
  const prompt = field.string(body, 'prompt');
  if (prompt.length > 2000) throw new DashboardError('BAD_REQUEST', `prompt: ${prompt.length} characters, at most 2000`);
  const size = (name: string): number => {
    const v = field.integer(body, name, 512, 8, 2048);
    if (v % 8 !== 0) throw new DashboardError('BAD_REQUEST', `${name}: ${v} is not a multiple of 8`);
    return v;
  };
  return {
    model,
    prompt,
    negativePrompt: field.string(body, 'negativePrompt', ''),
    steps: field.integer(body, 'steps', 25, 1, 1000),
    guidance: field.number(body, 'guidance', 7.5, 0, 50),
    scheduler: field.oneOf(body, 'scheduler', T2I_SCHEDULERS, 'default'),
    seed: field.integer(body, 'seed', 0, 0, 2 ** 31 - 1),
    width: size('width'),
    height: size('height'),
    count: field.integer(body, 'count', 1, 1, 16),
    previewEvery: field.integer(body, 'previewEvery', 2, 1, 1000),
  };
}
