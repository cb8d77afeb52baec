/**
 * Node-only: a model folder's `flashdiff.json`, the settings card the project writes beside the
 * diffusers files of its own models (docs/SPEC.md, "Model settings card"): the sampling settings
 * its evaluation recommends and a few example prompts. `diffusion txt2img` and the dashboard's
 * text-to-image view both read it here, so the two agree on every default. Diffusers ignores the file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseJsonFile } from '../checkpoint/diffusers-folder.ts';
import { DiffusionError } from '../errors.ts';
import { LATENT_SCHEDULER_KINDS, type LatentSchedulerKind } from '../schedulers/latent-config.ts';

export const MODEL_SETTINGS_FILE = 'flashdiff.json';

export interface ModelSettings {
  /** One line for model pickers. */
  description?: string;
  /** Recommended sampling steps. */
  steps?: number;
  /** Recommended classifier-free guidance scale. */
  guidance?: number;
  /** Recommended scheduler; 'default' (or absent) is the folder's scheduler/ config. */
  scheduler?: LatentSchedulerKind | 'default';
  /** Prompts the model was evaluated on, for pickers and demos. */
  examplePrompts?: string[];
}

const KEYS = ['description', 'steps', 'guidance', 'scheduler', 'examplePrompts'] as const;

/**
 * The folder's settings card, or null when it has none (a downloaded SD checkpoint). A card that
 * exists must be valid: a malformed one is an error naming the file and the field, not a silent
 * fall-back to other defaults.
 */
export function readModelSettings(folder: string): ModelSettings | null {
  const path = join(folder, MODEL_SETTINGS_FILE);
  if (!existsSync(path)) return null;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DiffusionError('CHECKPOINT_CORRUPT', `${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const value = parseJsonFile(text, path);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DiffusionError('CHECKPOINT_CORRUPT', `${path}: not a JSON object`);
  const card = value as Record<string, unknown>;
  const bad = (field: string, want: string): never => {
    throw new DiffusionError('CHECKPOINT_CORRUPT', `${path}: "${field}" must be ${want}, got ${JSON.stringify(card[field])}`);
  };
  for (const key of Object.keys(card)) {
    if (!(KEYS as readonly string[]).includes(key)) throw new DiffusionError('CHECKPOINT_CORRUPT', `${path}: unknown key "${key}" (known: ${KEYS.join(', ')})`);
  }
  const settings: ModelSettings = {};
  if (card.description !== undefined) settings.description = typeof card.description === 'string' ? card.description : bad('description', 'a string');
  if (card.steps !== undefined) settings.steps = Number.isInteger(card.steps) && (card.steps as number) >= 1 && (card.steps as number) <= 1000 ? (card.steps as number) : bad('steps', 'an integer in [1, 1000]');
  if (card.guidance !== undefined) settings.guidance = typeof card.guidance === 'number' && card.guidance >= 0 && card.guidance <= 100 ? card.guidance : bad('guidance', 'a number in [0, 100]');
  if (card.scheduler !== undefined) {
    const kinds: readonly string[] = ['default', ...LATENT_SCHEDULER_KINDS];
    settings.scheduler = typeof card.scheduler === 'string' && kinds.includes(card.scheduler) ? (card.scheduler as ModelSettings['scheduler']) : bad('scheduler', `one of ${kinds.join(', ')}`);
  }
  if (card.examplePrompts !== undefined) {
    settings.examplePrompts = Array.isArray(card.examplePrompts) && card.examplePrompts.every((p) => typeof p === 'string') ? (card.examplePrompts as string[]) : bad('examplePrompts', 'a list of strings');
  }
  return settings;
}
