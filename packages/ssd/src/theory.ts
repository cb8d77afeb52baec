/**
 * Principal branch W₀ of the Lambert W function (w·e^w = x) for x ≥ −1/e, by Halley's iteration
 * from a branch-point series start near −1/e and log start elsewhere.
 */
export function lambertW0(x: number): number {
  if (x < -1 / Math.E - 1e-15) throw new RangeError(`lambertW0: ${x} < -1/e`);
  if (x === 0) return 0;
  let w: number;
  if (x < -0.3) {
    const p = Math.sqrt(2 * (Math.E * x + 1));
    w = -1 + p - (p * p) / 3 + (11 / 72) * p * p * p;
  } else if (x < 1) w = x * (1 - x);
  else w = Math.log(x) - Math.log(Math.log(x) + 1e-300);
  for (let i = 0; i < 50; i++) {
    const e = Math.exp(w);
    const f = w * e - x;
    const wNext = w - f / (e * (w + 1) - ((w + 2) * f) / (2 * w + 2));
    if (!Number.isFinite(wNext)) break;
    if (Math.abs(wNext - w) < 1e-14 * (1 + Math.abs(wNext))) return wNext;
    w = wNext;
  }
  return w;
}

/**
 * Write amplification of FIFO victim selection under uniform random writes (Desnoyers; Hu et al.):
 * WA = α / (α + W₀(−α·e^(−α))), α = physical pages / user pages = 1 + OP.
 */
export function lambertWaf(overProvisioning: number): number {
  const alpha = 1 + overProvisioning;
  return alpha / (alpha + lambertW0(-alpha * Math.exp(-alpha)));
}
