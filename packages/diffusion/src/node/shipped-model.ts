/**
 * Node-only: the trained model that ships with the package (packages/diffusion/models/mnist-16:
 * a class-conditional ContextUnet on 16×16 MNIST, EMA weights only). `diffusion sample` and the
 * dashboard use it when no checkpoint is given; packages/diffusion/models/README.md records how it
 * was trained and evaluated.
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

/** The shipped text-to-image model (a diffusers-layout folder, trained by `diffusion train-t2i`). */
export const SHIPPED_T2I_MODEL_NAME = 'shapes-t2i';

/** The shipped text-to-image model's folder, or null when this copy of the package does not have it. */
export function shippedTextToImageDirectory(): string | null {
  const dir = fileURLToPath(new URL(`../../models/${SHIPPED_T2I_MODEL_NAME}/`, import.meta.url));
  return existsSync(join(dir, 'model_index.json')) ? dir.replace(/\/$/, '') : null;
}
