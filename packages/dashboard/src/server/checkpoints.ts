import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Default folder of diffusion checkpoints: <repo>/out/checkpoints (the repository ignores /out/).
 * FLASHDIFF_CHECKPOINTS or --checkpoints overrides it.
 */
export function defaultCheckpointDirectory(): string {
  const fromEnvironment = process.env.FLASHDIFF_CHECKPOINTS;
  if (fromEnvironment) return fromEnvironment;
  return join(fileURLToPath(new URL('../../../../', import.meta.url)), 'out', 'checkpoints');
}

/**
 * Default folder of text-to-image models (diffusers folders, SD-1.x .safetensors files):
 * <repo>/out/models. FLASHDIFF_MODELS or --models overrides it.
 */
export function defaultModelDirectory(): string {
  const fromEnvironment = process.env.FLASHDIFF_MODELS;
  if (fromEnvironment) return fromEnvironment;
  return join(fileURLToPath(new URL('../../../../', import.meta.url)), 'out', 'models');
}
