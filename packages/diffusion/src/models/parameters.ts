import { DiffusionError } from '../errors.ts';
import type { Random } from '../rng.ts';
import type { TensorEngine, Variable } from '../tensor/engine.ts';

export type Init = { kind: 'zeros' } | { kind: 'ones' } | { kind: 'uniform'; bound: number } | { kind: 'normal'; std: number };

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

interface Entry {
  variable: Variable;
  shape: number[];
  trainable: boolean;
}

/**
 * Named parameters and buffers of one model, in creation order (the checkpoint order). Trainable
 * parameters get gradients; buffers (BatchNorm running statistics) do not.
 */
export class ParameterStore {
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly engine: TensorEngine,
    private readonly random: Random,
  ) {}

  create(name: string, shape: number[], init: Init, trainable = true): Variable {
    if (this.entries.has(name)) throw new DiffusionError('INVALID_ARGUMENT', `parameter "${name}" defined twice`);
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (init.kind === 'ones') values.fill(1);
    else if (init.kind === 'uniform') for (let i = 0; i < size; i++) values[i] = (2 * this.random.uniform() - 1) * init.bound;
    else if (init.kind === 'normal') for (let i = 0; i < size; i++) values[i] = this.random.normal() * init.std;
    const initial = this.engine.tensor(values, shape);
    const variable = this.engine.variable(initial, name, trainable);
    initial.dispose();
    this.entries.set(name, { variable, shape, trainable });
    return variable;
  }

  get(name: string): Variable {
    const e = this.entries.get(name);
    if (!e) throw new DiffusionError('INVALID_ARGUMENT', `no parameter "${name}"`);
    return e.variable;
  }

  names(filter: 'all' | 'trainable' | 'buffers' = 'all'): string[] {
    const out: string[] = [];
    for (const [name, e] of this.entries) {
      if (filter === 'all' || (filter === 'trainable') === e.trainable) out.push(name);
    }
    return out;
  }

  shapeOf(name: string): number[] {
    const e = this.entries.get(name);
    if (!e) throw new DiffusionError('INVALID_ARGUMENT', `no parameter "${name}"`);
    return e.shape;
  }

  /** Number of scalar values (trainable only by default, as a parameter count). */
  count(filter: 'all' | 'trainable' = 'trainable'): number {
    let total = 0;
    for (const name of this.names(filter)) total += this.shapeOf(name).reduce((a, b) => a * b, 1);
    return total;
  }

  exportValues(): Map<string, NamedArray> {
    const out = new Map<string, NamedArray>();
    for (const [name, e] of this.entries) out.set(name, { shape: e.shape.slice(), data: this.engine.readSync(e.variable).slice() });
    return out;
  }

  /** Replace every value; names and shapes must match exactly (so a wrong checkpoint cannot half-load). */
  importValues(values: Map<string, NamedArray>, source = 'weights'): void {
    for (const [name, e] of this.entries) {
      const v = values.get(name);
      if (!v) throw new DiffusionError('CHECKPOINT_CORRUPT', `${source}: missing tensor "${name}"`);
      if (v.shape.length !== e.shape.length || v.shape.some((d, i) => d !== e.shape[i])) {
        throw new DiffusionError('CHECKPOINT_CORRUPT', `${source}: tensor "${name}" has shape [${v.shape}], model expects [${e.shape}]`);
      }
    }
    for (const name of values.keys()) {
      if (!this.entries.has(name)) throw new DiffusionError('CHECKPOINT_CORRUPT', `${source}: unexpected tensor "${name}"`);
    }
    for (const [name, e] of this.entries) {
      const t = this.engine.tensor((values.get(name) as NamedArray).data, e.shape);
      e.variable.assign(t);
      t.dispose();
    }
  }

  dispose(): void {
    for (const e of this.entries.values()) e.variable.dispose();
    this.entries.clear();
  }

  /** Free the parameters whose names `release` accepts (e.g. a half of a model that now runs elsewhere); returns how many. */
  disposeWhere(release: (name: string) => boolean): number {
    let freed = 0;
    for (const [name, e] of this.entries) {
      if (!release(name)) continue;
      e.variable.dispose();
      this.entries.delete(name);
      freed += 1;
    }
    return freed;
  }
}
