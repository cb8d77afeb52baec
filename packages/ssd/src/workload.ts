import { splitmix32 } from '@flashdiff/nand';
import { SsdError } from './errors.ts';

/** Synthetic workload kinds. */
export type WorkloadKind = 'seq' | 'uniform' | 'hotcold';
export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['seq', 'uniform', 'hotcold'];

export const OP_WRITE = 0;
export const OP_READ = 1;
export const OP_TRIM = 2;

export interface WorkloadOptions {
  readonly kind: WorkloadKind;
  /** PRNG seed. */
  readonly seed: number;
  /** Fraction of operations that are reads (0 = write-only). */
  readonly readRatio: number;
  /** Fraction of operations that are single-page TRIMs. */
  readonly trimRatio: number;
  /** hotcold: fraction of the LBA space that is hot (default 0.2). */
  readonly hotFraction: number;
  /** hotcold: fraction of the accesses that go to the hot LBAs (default 0.8). */
  readonly hotAccessFraction: number;
}

export const DEFAULT_WORKLOAD: WorkloadOptions = {
  kind: 'uniform',
  seed: 1,
  readRatio: 0,
  trimRatio: 0,
  hotFraction: 0.2,
  hotAccessFraction: 0.8,
};

/**
 * xoshiro128** (Blackman & Vigna): a small, fast, seeded 32-bit generator for the hot loop.
 * The state is seeded from the integer seed with splitmix32 so nearby seeds diverge.
 */
export class Xoshiro128 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    const next = splitmix32(seed);
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
  }
  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }
  /**
   * Copies the state (a, b, c, d) into cells[at … at + 3], and back with {@link restoreState}: the
   * SSD simulator's kernel draws from the same stream between the two (internal).
   */
  saveState(cells: Int32Array, at: number): void {
    cells[at] = this.a;
    cells[at + 1] = this.b;
    cells[at + 2] = this.c;
    cells[at + 3] = this.d;
  }
  /** The state {@link saveState} left in the cells, after whatever advanced it there (internal). */
  restoreState(cells: Int32Array, at: number): void {
    this.a = cells[at]!;
    this.b = cells[at + 1]!;
    this.c = cells[at + 2]!;
    this.d = cells[at + 3]!;
  }
  /** Uniform float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }
  /** Uniform integer in [0, n) for n ≤ 2^32 (multiply-shift; bias < n / 2^32). */
  nextInt(n: number): number {
    return Math.floor((this.nextUint32() / 4294967296) * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A stream of host operations over `userPages` logical pages. `next()` returns the operation
 * (OP_WRITE / OP_READ / OP_TRIM) and leaves its page in `lba` (no allocation per operation).
 */
export class Workload {
  readonly options: WorkloadOptions;
  lba = 0;
  private readonly random: Xoshiro128;
  private sequential = 0;
  /** hotcold: the hot LBAs are 0 … hotPages − 1. */
  readonly hotPages: number;

  constructor(
    readonly userPages: number,
    options: Partial<WorkloadOptions> = {},
  ) {
    const o: WorkloadOptions = { ...DEFAULT_WORKLOAD };
    for (const [k, v] of Object.entries(options)) if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
    if (!WORKLOAD_KINDS.includes(o.kind)) {
      throw new SsdError('INVALID_CONFIG', `workload: unknown kind '${o.kind}' (${WORKLOAD_KINDS.join('|')})`);
    }
    for (const f of ['readRatio', 'trimRatio', 'hotFraction', 'hotAccessFraction'] as const) {
      if (!(o[f] >= 0 && o[f] <= 1)) throw new SsdError('INVALID_CONFIG', `workload: ${f} must be in [0, 1], got ${o[f]}`);
    }
    if (o.readRatio + o.trimRatio > 1) throw new SsdError('INVALID_CONFIG', 'workload: readRatio + trimRatio exceeds 1');
    this.options = o;
    this.random = new Xoshiro128(o.seed);
    this.hotPages = Math.max(1, Math.min(userPages, Math.round(userPages * o.hotFraction)));
  }

  /**
   * Copies the generator's state and the sequential cursor into cells[0 … 4] (a, b, c, d, cursor),
   * and back with {@link restoreState}: the SSD simulator's kernel draws the same operations as
   * {@link next} from the cells in between (internal).
   */
  saveState(cells: Int32Array): void {
    this.random.saveState(cells, 0);
    cells[4] = this.sequential;
  }
  /** The state {@link saveState} left in the cells, after the operations drawn there (internal). */
  restoreState(cells: Int32Array): void {
    this.random.restoreState(cells, 0);
    this.sequential = cells[4]!;
  }

  next(): number {
    const o = this.options;
    let op = OP_WRITE;
    if (o.readRatio > 0 || o.trimRatio > 0) {
      const r = this.random.nextFloat();
      if (r < o.readRatio) op = OP_READ;
      else if (r < o.readRatio + o.trimRatio) op = OP_TRIM;
    }
    const n = this.userPages;
    if (o.kind === 'uniform') this.lba = this.random.nextInt(n);
    else if (o.kind === 'seq') {
      this.lba = this.sequential;
      if (++this.sequential === n) this.sequential = 0;
    } else if (this.random.nextFloat() < o.hotAccessFraction || this.hotPages === n) {
      this.lba = this.random.nextInt(this.hotPages);
    } else {
      this.lba = this.hotPages + this.random.nextInt(n - this.hotPages);
    }
    return op;
  }
}
