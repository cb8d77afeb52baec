/**
 * Colours of the block map, shared by the page and the browser test (which checks the drawn
 * pixels against them). RGB triples.
 */
export const PAGE_COLORS = {
  free: [233, 236, 239],
  valid: [47, 158, 68],
  invalid: [73, 80, 87],
  bad: [20, 20, 20],
  meta: [116, 143, 252],
} as const;

/** Outline of the block(s) the last garbage collection took. */
export const GC_HIGHLIGHT = [245, 159, 0] as const;

/** YAFFS2 block states and their colours. */
export const YAFFS_BLOCK_COLORS: Record<string, readonly [number, number, number]> = {
  empty: [233, 236, 239],
  allocating: [51, 154, 240],
  full: [47, 158, 68],
  dirty: [250, 176, 5],
  checkpoint: [132, 94, 247],
  collecting: [240, 101, 149],
  bad: [20, 20, 20],
  unknown: [173, 181, 189],
};

export function rgb(c: readonly number[]): string {
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** A perceptual sequential colour scale (viridis, 5 stops) for heatmaps; t in [0, 1]. */
const VIRIDIS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

export function heatColor(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f)) as [number, number, number];
}
