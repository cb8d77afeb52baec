import { DiffusionError, checkOption } from '../errors.ts';
import type { NamedArray, ParameterStore } from '../models/parameters.ts';
import type { AdamScalars, Tensor, TensorEngine, Variable } from '../tensor/engine.ts';

export const LR_SCHEDULES = ['constant', 'linear', 'cosine'] as const;
export type LrSchedule = (typeof LR_SCHEDULES)[number];

/**
 * Learning rate at `step` of `totalSteps`: constant; linear decay to 0 (the course decays
 * lr·(1 − epoch/epochs)); or cosine, lr·½(1 + cos(π·step/total)) (Loshchilov & Hutter 2017).
 * An optional linear warm-up multiplies the first `warmupSteps` steps.
 */
export function learningRateAt(base: number, schedule: LrSchedule, step: number, totalSteps: number, warmupSteps = 0): number {
  checkOption('lrSchedule', schedule, LR_SCHEDULES);
  const progress = totalSteps > 0 ? Math.min(step / totalSteps, 1) : 0;
  let factor = 1;
  if (schedule === 'linear') factor = 1 - progress;
  else if (schedule === 'cosine') factor = 0.5 * (1 + Math.cos(Math.PI * progress));
  if (warmupSteps > 0 && step < warmupSteps) factor *= (step + 1) / warmupSteps;
  return base * factor;
}

export interface AdamConfig {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Clip the global L2 norm of all gradients to this value (0 = no clipping). */
  gradClipNorm: number;
}

export const DEFAULT_ADAM: AdamConfig = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, gradClipNorm: 1 };

/**
 * Adam (Kingma & Ba 2015, Algorithm 1), with bias-corrected moments, after global-norm gradient
 * clipping (Pascanu et al. 2013): g ← g·min(1, c/‖g‖₂). The moments are variables held here so they
 * can be saved and restored with a checkpoint.
 */
export class Adam {
  private readonly m = new Map<string, Variable>();
  private readonly v = new Map<string, Variable>();
  /** Number of updates applied (t in Algorithm 1). */
  stepCount = 0;

  constructor(
    private readonly engine: TensorEngine,
    private readonly params: ParameterStore,
    readonly config: AdamConfig = DEFAULT_ADAM,
  ) {
    for (const name of params.names('trainable')) {
      const shape = params.shapeOf(name);
      const z = engine.zeros(shape);
      this.m.set(name, engine.variable(z, `adam.m.${name}`, false));
      this.v.set(name, engine.variable(z, `adam.v.${name}`, false));
      z.dispose();
    }
  }

  /** Apply one update; grads are in params.names('trainable') order and are disposed. Returns the pre-clip global norm. */
  apply(grads: Tensor[], learningRate: number): number {
    const e = this.engine;
    const names = this.params.names('trainable');
    if (grads.length !== names.length) throw new DiffusionError('SHAPE_MISMATCH', `Adam: ${grads.length} gradients for ${names.length} parameters`);
    const sumSquares = e.sumOfSquares(grads);
    const norm = Math.sqrt(e.readSync(sumSquares)[0]);
    sumSquares.dispose();
    const c = this.config;
    this.stepCount += 1;
    const t = this.stepCount;
    const scalars: AdamScalars = {
      gradScale: c.gradClipNorm > 0 && norm > c.gradClipNorm ? c.gradClipNorm / norm : 1,
      beta1: c.beta1,
      oneMinusBeta1: 1 - c.beta1,
      beta2: c.beta2,
      oneMinusBeta2: 1 - c.beta2,
      stepSize: learningRate / (1 - c.beta1 ** t),
      inverseCorrection2: 1 / (1 - c.beta2 ** t),
      epsilon: c.epsilon,
    };
    names.forEach((name, i) => {
      const param = this.params.get(name);
      const m = this.m.get(name) as Variable;
      const v = this.v.get(name) as Variable;
      const [newParam, newM, newV] = e.adamUpdate(param, m, v, grads[i], scalars);
      m.assign(newM);
      v.assign(newV);
      param.assign(newParam);
      newM.dispose();
      newV.dispose();
      newParam.dispose();
      grads[i].dispose();
    });
    return norm;
  }

  exportState(): Map<string, NamedArray> {
    const out = new Map<string, NamedArray>();
    for (const [kind, map] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [name, variable] of map) out.set(`${kind}.${name}`, { shape: this.params.shapeOf(name).slice(), data: this.engine.readSync(variable).slice() });
    }
    return out;
  }

  importState(state: Map<string, NamedArray>, stepCount: number, source = 'optimizer'): void {
    for (const [kind, map] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [name, variable] of map) {
        const entry = state.get(`${kind}.${name}`);
        const shape = this.params.shapeOf(name);
        if (!entry || entry.data.length !== shape.reduce((a, b) => a * b, 1)) {
          throw new DiffusionError('CHECKPOINT_CORRUPT', `${source}: missing or mis-shaped moment "${kind}.${name}"`);
        }
        const t = this.engine.tensor(entry.data, shape);
        variable.assign(t);
        t.dispose();
      }
    }
    this.stepCount = stepCount;
  }

  dispose(): void {
    for (const v of [...this.m.values(), ...this.v.values()]) v.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** EMA of weights (Polyak averaging): θ_ema ← d·θ_ema + (1−d)·θ. Buffers are copied as they are. */
export function updateEma(engine: TensorEngine, ema: ParameterStore, live: ParameterStore, decay: number): void {
  const trainableNames = new Set(live.names('trainable'));
  for (const name of live.names('all')) {
    const target = ema.get(name);
    const source = live.get(name);
    const trainable = trainableNames.has(name);
    const next = trainable ? engine.emaUpdate(target, source, decay) : engine.tidy(() => engine.addScalar(source, 0));
    target.assign(next);
    next.dispose();
  }
}
