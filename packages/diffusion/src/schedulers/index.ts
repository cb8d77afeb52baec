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

// Latent-diffusion schedulers (Stable Diffusion): the SamplingRun extension of the contract above.
export * from './sampling-run.ts';
export * from './latent-config.ts';
export { type TrainingSchedule, trainingSchedule, LATENT_BETA_SCHEDULES, type LatentBetaSchedule } from './latent-schedule.ts';
export { PndmScheduler } from './pndm.ts';
export { DdimLatentScheduler } from './ddim-latent.ts';
export { EulerDiscreteScheduler } from './euler-discrete.ts';
export { EulerAncestralScheduler } from './euler-ancestral.ts';
export { DpmSolverMultistepScheduler } from './dpm-solver-multistep.ts';
