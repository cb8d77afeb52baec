/**
 * splitmix32: turns one 32-bit seed into a stream of well-mixed 32-bit words, for seeding the
 * state of a small generator so that nearby seeds give unrelated streams (Weyl step 0x9e3779b9,
 * then the murmur3-style finaliser).
 */
export function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * A small seeded PRNG for fault injection: sfc32 (Chris Doty-Humphrey's Small Fast Counting
 * generator, 128-bit state), seeded through splitmix32 so nearby seeds give unrelated streams.
 * Fast enough to sit on the read path, and fully determined by (seed, stream).
 */
export class FaultRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream: number) {
    const next = splitmix32(Math.trunc(seed) ^ Math.imul(stream + 1, 0x9e3779b9));
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }

  /**
   * Number of Bernoulli(p) failures before the next success: the gap to the next flipped bit when
   * each bit flips independently with probability p (inverse-CDF of the geometric law).
   */
  nextGap(p: number): number {
    if (p >= 1) return 0;
    const u = 1 - this.nextFloat(); // (0, 1]
    return Math.floor(Math.log(u) / Math.log1p(-p));
  }
}
