// The FTL setup that bench/ssd-throughput.ts (case 1) and bench/ssd-instructions.ts both measure:
// metadata-only ssd-4k, OP 20 %, greedy GC, filled once sequentially, then one user capacity of
// seeded uniform random writes to reach the steady state. The caller runs its own loop on `random`.
import { createNandDevice, geometryPreset } from '@flashdiff/nand';
import type { SimulatedNand } from '@flashdiff/nand';
import { Ftl, Xoshiro128 } from '@flashdiff/ssd';

export interface SteadyStateFtl {
  device: SimulatedNand;
  ftl: Ftl;
  /** The workload generator, already past the warm-up: draw the measured writes from it. */
  random: Xoshiro128;
}

/** `forceGeneric`: the general NAND device instead of the fast metadata one (the reference path). */
export function steadyStateFtl(forceGeneric = false): SteadyStateFtl {
  const device = createNandDevice({ geometry: geometryPreset('ssd-4k'), metadataOnly: true, forceGeneric });
  const ftl = new Ftl(device, { overProvisioning: 0.2, gcPolicy: 'greedy' });
  const user = ftl.userPages;
  for (let lba = 0; lba < user; lba++) ftl.write(lba);
  const random = new Xoshiro128(1);
  for (let i = 0; i < user; i++) ftl.write(random.nextInt(user));
  return { device, ftl, random };
}
