/**
 * Node-only: Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) with captions, read from Debian's
 * `dataset-fashion-mnist` package: the four gzip'd idx files in /usr/share/datasets/fashion-mnist/
 * (60,000 training and 10,000 test images, 28×28 grey, 10 classes).
 *
 * idx format (LeCun's MNIST page): big-endian; bytes 0–1 zero, byte 2 the element type (0x08 =
 * unsigned byte), byte 3 the number of dimensions d, then d u32 sizes, then the data row-major.
 *
 * Images are zero-padded by 2 pixels on each side to 32×32 (as MNIST for DDPM) and the grey value
 * copied into R, G and B: the text-to-image VAE is 3-channel and shared with Shapes, so both data
 * sets feed it the same 32×32×3 layout (the cache is then 3× larger than grey: 184 MB for the
 * training split, acceptable on disk and streamed in chunks). Fashion-MNIST is white on black,
 * like Shapes. Captions: a template chosen by a seeded PRNG, over a noun phrase per class.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DiffusionError } from '../errors.ts';
import { Random } from '../rng.ts';
import type { CaptionRecord } from './caption-dataset.ts';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_SPLITS = ['train', 'test'] as const;
export type FashionMnistSplit = (typeof FASHION_MNIST_SPLITS)[number];

/** The data set's own class names, label order 0–9. */
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;
/** The noun phrase each caption uses for a class. */
export const FASHION_MNIST_NOUNS = ['a t-shirt', 'a pair of trousers', 'a pullover', 'a dress', 'a coat', 'a sandal', 'a shirt', 'a sneaker', 'a bag', 'an ankle boot'] as const;
/** Caption templates; `{}` is the class's noun phrase. None uses a Shapes word (no "small", "large", colours or shapes), so one text encoder can serve both sets. */
export const FASHION_CAPTION_TEMPLATES = ['{}', 'a photo of {}', 'a picture of {}', 'a black and white photo of {}', '{} on a black background', 'an image of {}'] as const;

const FILES: Record<FashionMnistSplit, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
};

export function fashionCaption(label: number, template: number): string {
  return FASHION_CAPTION_TEMPLATES[template].replace('{}', FASHION_MNIST_NOUNS[label]);
}

/**
 * The class a prompt names, or null. Matches the class words anywhere in the prompt ("a photo of a
 * sneaker", "sneakers", "an ankle boot"); t-shirt is tried before shirt, ankle boot before boot.
 */
export function fashionClassFromPrompt(prompt: string): number | null {
  const text = prompt.toLowerCase();
  const words: Array<[RegExp, number]> = [
    [/\bt-?shirts?\b|\btops?\b/, 0],
    [/\btrousers?\b|\bpants\b/, 1],
    [/\bpullovers?\b|\bsweaters?\b/, 2],
    [/\bdress(es)?\b/, 3],
    [/\bcoats?\b/, 4],
    [/\bsandals?\b/, 5],
    [/\bsneakers?\b/, 7],
    [/\bbags?\b/, 8],
    [/\bankle boots?\b|\bboots?\b/, 9],
    [/(^|[^-\w])shirts?\b/, 6],
  ];
  for (const [re, label] of words) if (re.test(text)) return label;
  return null;
}

/** Parse an idx file (already gunzipped) of unsigned bytes with the expected number of dimensions. */
export function parseIdx(bytes: Uint8Array, file: string, dims: number): { shape: number[]; data: Uint8Array } {
  if (bytes.length < 4 + 4 * dims) throw new DiffusionError('DATA_INVALID', `${file}: ${bytes.length} bytes is too short for an idx header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08 || bytes[3] !== dims) {
    throw new DiffusionError('DATA_INVALID', `${file}: not an idx file of unsigned bytes with ${dims} dimensions (magic ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('')})`);
  }
  const shape = Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = shape.reduce((a, b) => a * b, 1);
  const offset = 4 + 4 * dims;
  if (bytes.length !== offset + size) throw new DiffusionError('DATA_INVALID', `${file}: ${bytes.length - offset} data bytes for shape (${shape.join(', ')}) = ${size} (truncated or padded)`);
  return { shape, data: bytes.subarray(offset) };
}

function readGzip(file: string): Uint8Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new DiffusionError('DATA_INVALID', `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); install it with \`apt-get install dataset-fashion-mnist\``);
  }
  try {
    return new Uint8Array(gunzipSync(bytes));
  } catch (err) {
    throw new DiffusionError('DATA_INVALID', `${file}: not a valid gzip file (${(err as Error).message})`);
  }
}

export interface FashionMnistRaw {
  count: number;
  /** count × 28 × 28 grey, 0 = black background. */
  images: Uint8Array;
  labels: Uint8Array;
}

/** Read one split's idx files from `dir`. */
export function loadFashionMnistRaw(split: FashionMnistSplit, dir = FASHION_MNIST_DIR): FashionMnistRaw {
  if (!existsSync(dir)) throw new DiffusionError('DATA_INVALID', `${dir}: Fashion-MNIST not found; install it with \`apt-get install dataset-fashion-mnist\` (or pass the folder that holds its idx .gz files)`);
  const imagesFile = join(dir, FILES[split].images);
  const labelsFile = join(dir, FILES[split].labels);
  const images = parseIdx(readGzip(imagesFile), imagesFile, 3);
  const labels = parseIdx(readGzip(labelsFile), labelsFile, 1);
  if (images.shape[1] !== 28 || images.shape[2] !== 28) throw new DiffusionError('DATA_INVALID', `${imagesFile}: images are ${images.shape[1]}×${images.shape[2]}, expected 28×28`);
  if (labels.shape[0] !== images.shape[0]) throw new DiffusionError('DATA_INVALID', `${labelsFile}: ${labels.shape[0]} labels for the ${images.shape[0]} images of ${imagesFile}`);
  const bad = labels.data.findIndex((l) => l > 9);
  if (bad >= 0) throw new DiffusionError('DATA_INVALID', `${labelsFile}: label ${labels.data[bad]} at index ${bad} outside 0..9`);
  return { count: images.shape[0], images: images.data, labels: labels.data };
}

/** 28×28 grey → 32×32×3: 2 pixels of black on each side, the grey value in R, G and B. */
export function padTo32Rgb(grey: Uint8Array): Uint8Array {
  const out = new Uint8Array(32 * 32 * 3);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const v = grey[y * 28 + x];
      const o = ((y + 2) * 32 + x + 2) * 3;
      out[o] = v;
      out[o + 1] = v;
      out[o + 2] = v;
    }
  }
  return out;
}

/** The split's samples in file order, each with a caption from a seeded template choice. */
export function* fashionMnistSamples(raw: FashionMnistRaw, seed: number): Generator<{ image: Uint8Array; record: CaptionRecord }> {
  const random = new Random(seed);
  for (let i = 0; i < raw.count; i++) {
    const label = raw.labels[i];
    const template = random.int(FASHION_CAPTION_TEMPLATES.length);
    yield { image: padTo32Rgb(raw.images.subarray(i * 784, (i + 1) * 784)), record: { caption: fashionCaption(label, template), label } };
  }
}

/** One caption per class for evaluation: "a photo of {noun}". */
export function fashionEvaluationPrompts(): Array<{ prompt: string; label: number }> {
  return FASHION_MNIST_NOUNS.map((_, label) => ({ prompt: fashionCaption(label, 1), label }));
}
