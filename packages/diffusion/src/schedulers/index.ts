import { DdimScheduler } from './ddim.ts';
import { DdpmScheduler } from './ddpm.ts';
import { type NoiseScheduler, type SchedulerConfig, normaliseSchedulerConfig } from './scheduler.ts';

export * from './scheduler.ts';
export { DdimScheduler } from './ddim.ts';
export { DdpmScheduler } from './ddpm.ts';

/** Rebuild a scheduler from its plain-data config (unknown keys or options throw INVALID_CONFIG). */
export function createScheduler(config: Partial<SchedulerConfig>): NoiseScheduler {
  const c = normaliseSchedulerConfig(config);
  return c.kind === 'ddpm' ? new DdpmScheduler(c) : new DdimScheduler(c);
}
