/**
 * Node-only: the trained models that ship with the package (packages/diffusion/models/): mnist-16,
 * a class-conditional ContextUnet on 16×16 MNIST (EMA weights only), which `diffusion sample` and
 * the dashboard use when no checkpoint is given; and the text-to-image models shapes-t2i (the
 * default of `diffusion txt2img`) and fashion-t2i. Each model's README records how it was trained
 * and evaluated.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FILES } from '../checkpoint/checkpoint-node.ts';

export const SHIPPED_MODEL_NAME = 'mnist-16';

/**
 * The guidance scale `diffusion sample` uses with the shipped model unless told otherwise: where
 * its evaluation (models/mnist-16/README.md) reaches 0.986 conditional accuracy with a Fréchet
 * distance 1.31× the real-vs-real floor (DDIM 50 steps, n = 500).
 */
export const SHIPPED_MODEL_GUIDANCE = 1.4;

/** The shipped checkpoint's folder, or null when this copy of the package does not have it. */
export function shippedModelDirectory(): string | null {
  const dir = fileURLToPath(new URL(`../../models/${SHIPPED_MODEL_NAME}/`, import.meta.url));
  return existsSync(join(dir, FILES.config)) && existsSync(join(dir, FILES.ema)) ? dir.replace(/\/$/, '') : null;
}

/**
 * The shipped text-to-image models (diffusers-layout folders trained by `diffusion train-vae /
 * train-clip / train-unet`), the default first: Shapes scenes, and Fashion-MNIST garments.
 */
export const SHIPPED_T2I_MODEL_NAMES = ['shapes-t2i', 'fashion-t2i'] as const;
export type ShippedTextToImageModel = (typeof SHIPPED_T2I_MODEL_NAMES)[number];

/** The default text-to-image model: what `diffusion txt2img` uses without --model. */
export const SHIPPED_T2I_MODEL_NAME: ShippedTextToImageModel = 'shapes-t2i';

/** A shipped text-to-image model's folder, or null when this copy of the package does not have it. */
export function shippedTextToImageDirectory(name: ShippedTextToImageModel = SHIPPED_T2I_MODEL_NAME): string | null {
  const dir = fileURLToPath(new URL(`../../models/${name}/`, import.meta.url));
  return existsSync(join(dir, 'model_index.json')) ? dir.replace(/\/$/, '') : null;
}

/** The folders of the shipped text-to-image models this copy has, the default first. */
export function shippedTextToImageDirectories(): string[] {
  return SHIPPED_T2I_MODEL_NAMES.map((name) => shippedTextToImageDirectory(name)).filter((dir): dir is string => dir !== null);
}

/**
 * What `--model` names: a path when one exists there; else a shipped model's name
 * (`--model fashion-t2i`); else the path as given (its loader then says what is missing).
 * Without `--model`: the default shipped model, or null when this copy has none.
 */
export function resolveTextToImageModel(given: string | undefined): string | null {
  if (given === undefined) return shippedTextToImageDirectory();
  if (existsSync(given)) return given;
  const name = SHIPPED_T2I_MODEL_NAMES.find((n) => n === given);
  return (name && shippedTextToImageDirectory(name)) ?? given;
}
