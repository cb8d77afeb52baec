import { DiffusionError } from '../errors.ts';

/** An in-memory image set: NHWC float32 scaled to [−1, 1], with optional integer labels. */
export interface ImageDataset {
  name: string;
  images: Float32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  /** One label per image in 0..numClasses−1, or null for an unlabelled set. */
  labels: Int32Array | null;
  numClasses: number;
  classNames: string[];
}

export function checkDataset(d: ImageDataset): ImageDataset {
  if (d.images.length !== d.count * d.height * d.width * d.channels) {
    throw new DiffusionError('DATA_INVALID', `${d.name}: ${d.images.length} values for ${d.count}×${d.height}×${d.width}×${d.channels}`);
  }
  if (d.labels) {
    if (d.labels.length !== d.count) throw new DiffusionError('DATA_INVALID', `${d.name}: ${d.labels.length} labels for ${d.count} images`);
    for (const l of d.labels) {
      if (!(l >= 0 && l < d.numClasses)) throw new DiffusionError('DATA_INVALID', `${d.name}: label ${l} outside 0..${d.numClasses - 1}`);
    }
  }
  return d;
}

/** Copy the images at `indices` into one batch array. */
export function gatherBatch(d: ImageDataset, indices: ArrayLike<number>): { images: Float32Array; labels: Int32Array | null } {
  const per = d.height * d.width * d.channels;
  const images = new Float32Array(indices.length * per);
  const labels = d.labels ? new Int32Array(indices.length) : null;
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    images.set(d.images.subarray(k * per, (k + 1) * per), i * per);
    if (labels && d.labels) labels[i] = d.labels[k];
  }
  return { images, labels };
}

/** Split into two halves by alternating index (used for the real-vs-real Fréchet distance). */
export function subset(d: ImageDataset, indices: ArrayLike<number>, name = d.name): ImageDataset {
  const { images, labels } = gatherBatch(d, indices);
  return { ...d, name, images, labels, count: indices.length };
}
