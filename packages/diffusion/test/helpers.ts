import type { ImageDataset } from '../src/data/dataset.ts';
import { Random } from '../src/rng.ts';

/**
 * Two-class toy set, 8×8 grey: class 0 = a horizontal bar, class 1 = a vertical bar, each two
 * pixels thick at a random position, with a little pixel noise. Values in [−1, 1].
 */
export function barsDataset(count: number, seed = 1, side = 8): ImageDataset {
  const random = new Random(seed);
  const images = new Float32Array(count * side * side);
  const labels = new Int32Array(count);
  for (let k = 0; k < count; k++) {
    const label = k % 2;
    labels[k] = label;
    const at = 1 + random.int(side - 3);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const on = label === 0 ? y === at || y === at + 1 : x === at || x === at + 1;
        images[k * side * side + y * side + x] = (on ? 0.9 : -0.9) + 0.05 * random.normal();
      }
    }
  }
  return { name: 'bars', images, count, height: side, width: side, channels: 1, labels, numClasses: 2, classNames: ['horizontal', 'vertical'] };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
