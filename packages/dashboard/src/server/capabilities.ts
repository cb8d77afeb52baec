import type { Capabilities } from '../shared/protocol.ts';

/**
 * The exports each view needs from its package. The packages are written alongside the
 * dashboard; a view whose package lacks one of these shows "not available: <reason>".
 */
export const REQUIRED_EXPORTS = {
  ssd: ['SsdSimulator', 'parseTrace', 'resolveFtlOptions', 'userPagesFor', 'GC_POLICIES', 'WORKLOAD_KINDS'] as string[],
  yaffs2: ['createImage', 'openImage', 'BLOCK_STATE_NAMES', 'SPARE_LAYOUT_NAMES'] as string[],
  diffusion: ['createScheduler', 'sampleImages', 'imagesToGrid', 'parseCheckpointConfig', 'DiffusionTrainer', 'Random'] as string[],
};

async function probe(specifier: string, names: readonly string[]): Promise<true | string> {
  let module: Record<string, unknown>;
  try {
    module = (await import(specifier)) as Record<string, unknown>;
  } catch (e) {
    return `${specifier} cannot be loaded: ${(e as Error).message.split('\n')[0]}`;
  }
  const missing = names.filter((n) => module[n] === undefined);
  return missing.length === 0 ? true : `${specifier} does not export ${missing.join(', ')}`;
}

/** The diffusion view also needs the package's Node-only API (backend, checkpoint files, PNG). */
async function probeDiffusion(): Promise<true | string> {
  const main = await probe('@flashdiff/diffusion', REQUIRED_EXPORTS.diffusion);
  if (main !== true) return main;
  try {
    const { loadDiffusionNodeApi } = await import('./adapters/diffusion.ts');
    await loadDiffusionNodeApi();
    return true;
  } catch (e) {
    return (e as Error).message.replace(/^not available: /, '');
  }
}

let cached: Promise<Capabilities> | undefined;

/** Loads each package once and reports which views can work. */
export function probeCapabilities(): Promise<Capabilities> {
  cached ??= (async () => ({
    ssd: await probe('@flashdiff/ssd', REQUIRED_EXPORTS.ssd),
    yaffs2: await probe('@flashdiff/yaffs2', REQUIRED_EXPORTS.yaffs2),
    diffusion: await probeDiffusion(),
  }))();
  return cached;
}
