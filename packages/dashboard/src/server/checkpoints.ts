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
