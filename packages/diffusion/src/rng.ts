import { DiffusionError } from './errors.ts';

/**
 * Seeded PRNG: xoshiro128** (Blackman & Vigna) with a 4×u32 state that can be saved and restored,
 * so `--resume` continues the exact random stream. Normals come from Box–Muller; the spare
 * normal is part of the state too.
 */
export interface RandomState {
  s: [number, number, number, number];
  spare: number | null;
}

export class Random {
  private s = new Uint32Array(4);
  private spare: number | null = null;

  constructor(seed: number | RandomState = 1) {
    if (typeof seed === 'number') {
      // splitmix32 expands one seed into four well-mixed state words (xoshiro needs a non-zero state).
      let x = seed >>> 0;
      for (let i = 0; i < 4; i++) {
        x = (x + 0x9e3779b9) >>> 0;
        let z = x;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        this.s[i] = (z ^ (z >>> 16)) >>> 0;
      }
      if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
    } else {
      if (!Array.isArray(seed.s) || seed.s.length !== 4) throw new DiffusionError('INVALID_ARGUMENT', 'RandomState.s must hold 4 words');
      this.s.set(seed.s.map((v) => v >>> 0));
      this.spare = seed.spare;
    }
  }

  /** Continue from a saved state (for --resume). */
  restore(state: RandomState): void {
    if (!Array.isArray(state.s) || state.s.length !== 4) throw new DiffusionError('INVALID_ARGUMENT', 'RandomState.s must hold 4 words');
    this.s.set(state.s.map((v) => v >>> 0));
    this.spare = state.spare;
  }

  state(): RandomState {
    return { s: [this.s[0], this.s[1], this.s[2], this.s[3]], spare: this.spare };
  }

  /** Next u32. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = this.uniform();
    while (u <= 1e-12) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  normalArray(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  /** Fisher–Yates permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = p[i];
      p[i] = p[j];
      p[j] = tmp;
    }
    return p;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
