/**
 * A rule-based attribute detector for the Shapes grammar (src/data/shapes.ts), the judge that
 * scores a picture against its prompt, and the detector feature vector for a Fréchet distance.
 * Browser-safe. No upstream counterpart: issue 15 asks for "a trained CNN or a measured
 * rule-based detector"; this is the latter, measured with `diffusion data check-detector`.
 *
 * 1. Pixel labels. Each palette colour c defines a ray α·c through black. A pixel p takes the
 *    colour whose ray is closest (α = p·c/‖c‖², residual ‖p − α·c‖), so a pixel darkened by blur
 *    towards the black background keeps its hue; it is foreground when α ≥ 0.5 (at least half
 *    the palette intensity: a 3×3 blur's edge pixels split at the shape's true edge) and the
 *    residual ≤ 0.25 (RGB in [0, 1]; the palette's rays are ≥ 22° apart, ≥ 0.37 at unit length).
 * 2. Objects. 8-connected components of pixels that share a colour label; components under
 *    MIN_OBJECT_PIXELS (specks of noise) are dropped and counted as stray pixels.
 * 3. Shape. The component's mask is compared (intersection over union) with the masks of circle,
 *    square and triangle near the measured side — as rendered, and as a 3×3 blur then step 1
 *    leave them — shifted by up to one pixel; the best score wins. On clean renders the true
 *    shape scores exactly 1.
 * 4. Size class from the bounding-box side (max of width and height): ≤ 11 small, else large.
 *    Centroid: mean pixel index of the component, as in the data generator.
 */
import { DiffusionError } from '../errors.ts';
import {
  COLOUR_NAMES,
  type ColourName,
  PALETTE,
  type ParsedPrompt,
  type Relation,
  SHAPES_IMAGE_SIZE,
  SHAPE_NAMES,
  type ShapeName,
  type SizeName,
  type ShapesSplit,
  parsePrompt,
  relationMargin,
  shapeMask,
  shapesSample,
  sizeClassOf,
} from '../data/shapes.ts';
import { Random } from '../rng.ts';

export const MIN_OBJECT_PIXELS = 12;
const MIN_INTENSITY = 0.5;
const MAX_RESIDUAL = 0.25;
/** A stated relation holds when the centroids lie this far apart in the stated direction (training scenes: ≥ 8). */
export const DEFAULT_RELATION_MARGIN = 4;

export interface DetectedObject {
  colour: ColourName;
  shape: ShapeName;
  size: SizeName;
  side: number;
  /** [x0, y0, x1, y1], x1 and y1 exclusive. */
  bbox: [number, number, number, number];
  centroid: [number, number];
  pixels: number;
  /** Best IoU of the mask with each shape's template. */
  shapeScores: Record<ShapeName, number>;
}

export interface Detection {
  /** Objects, largest first. */
  objects: DetectedObject[];
  /** Foreground pixels in dropped specks. */
  strayPixels: number;
  /** Mean and standard deviation of the brightness (mean of RGB) of background pixels. */
  backgroundMean: number;
  backgroundStd: number;
}

const PALETTE_UNIT = COLOUR_NAMES.map((name) => PALETTE[name].map((v) => v / 255));
const PALETTE_NORM2 = PALETTE_UNIT.map((c) => c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);

/** Read one channel value in [0, 1]: uint8 images are scaled by 1/255, float images are taken as [0, 1] and clamped. */
function unitImage(image: Float32Array | Uint8Array | ArrayLike<number>, size: number): Float32Array {
  const n = size * size * 3;
  if (image.length !== n) throw new DiffusionError('SHAPE_MISMATCH', `shapes detector: expected ${size}×${size}×3 = ${n} values, got ${image.length}`);
  const out = new Float32Array(n);
  const scale = image instanceof Uint8Array || image instanceof Uint8ClampedArray ? 1 / 255 : 1;
  for (let i = 0; i < n; i++) {
    const v = image[i] * scale;
    out[i] = v > 1 ? 1 : v > 0 ? v : 0; // NaN → 0
  }
  return out;
}

/** Per-pixel colour label (−1: background) and intensity α. */
export function labelPixels(image: Float32Array | Uint8Array | ArrayLike<number>, size = SHAPES_IMAGE_SIZE): { labels: Int8Array; intensity: Float32Array; unit: Float32Array } {
  const unit = unitImage(image, size);
  const labels = new Int8Array(size * size).fill(-1);
  const intensity = new Float32Array(size * size);
  for (let p = 0; p < size * size; p++) {
    const r = unit[p * 3];
    const g = unit[p * 3 + 1];
    const b = unit[p * 3 + 2];
    let best = -1;
    let bestResidual = Infinity;
    let bestAlpha = 0;
    for (let k = 0; k < PALETTE_UNIT.length; k++) {
      const c = PALETTE_UNIT[k];
      const alpha = Math.max(0, (r * c[0] + g * c[1] + b * c[2]) / PALETTE_NORM2[k]);
      const dr = r - alpha * c[0];
      const dg = g - alpha * c[1];
      const db = b - alpha * c[2];
      const residual = dr * dr + dg * dg + db * db;
      if (residual < bestResidual) {
        bestResidual = residual;
        best = k;
        bestAlpha = alpha;
      }
    }
    intensity[p] = bestAlpha;
    if (bestAlpha >= MIN_INTENSITY && bestResidual <= MAX_RESIDUAL * MAX_RESIDUAL) labels[p] = best;
  }
  return { labels, intensity, unit };
}

interface Template {
  width: number;
  height: number;
  mask: Uint8Array;
  pixels: number;
}

const templateCache = new Map<string, Template[]>();

/**
 * The masks a shape of this side shows the detector: the sharp render, and the render after a 3×3
 * box blur thresholded at half intensity (corners and apex pixels fall away), cropped to its box.
 */
function templates(shape: ShapeName, side: number): Template[] {
  const key = `${shape}:${side}`;
  let found = templateCache.get(key);
  if (found) return found;
  const sharp = shapeMask(shape, side);
  const padded = side + 2;
  const blurred = new Uint8Array(padded * padded);
  for (let y = 0; y < padded; y++) {
    for (let x = 0; x < padded; x++) {
      let sum = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const sy = y + dy - 1;
          const sx = x + dx - 1;
          if (sy >= 0 && sy < side && sx >= 0 && sx < side) sum += sharp[sy * side + sx];
        }
      }
      blurred[y * padded + x] = sum / 9 >= MIN_INTENSITY ? 1 : 0;
    }
  }
  found = [crop(sharp, side, side), crop(blurred, padded, padded)];
  templateCache.set(key, found);
  return found;
}

function crop(mask: Uint8Array, width: number, height: number): Template {
  let x0 = width;
  let y0 = height;
  let x1 = 0;
  let y1 = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x + 1);
      y1 = Math.max(y1, y + 1);
    }
  }
  const w = Math.max(0, x1 - x0);
  const h = Math.max(0, y1 - y0);
  const out = new Uint8Array(w * h);
  let pixels = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      out[y * w + x] = mask[(y + y0) * width + x + x0];
      pixels += out[y * w + x];
    }
  }
  return { width: w, height: h, mask: out, pixels };
}

/**
 * Best IoU of a component (its pixels marked in `member`) with each shape's templates: sharp and
 * blurred renders of sides side − 1 … side + 2, centred on the component's box and shifted by up
 * to one pixel.
 */
function shapeScores(member: Uint8Array, size: number, bbox: [number, number, number, number], pixels: number): Record<ShapeName, number> {
  const [x0, y0, x1, y1] = bbox;
  const side = Math.max(x1 - x0, y1 - y0);
  const scores = { circle: 0, square: 0, triangle: 0 } as Record<ShapeName, number>;
  for (const shape of SHAPE_NAMES) {
    for (let s = Math.max(2, side - 1); s <= side + 2; s++) {
      for (const t of templates(shape, s)) {
        if (t.pixels === 0) continue;
        const ax = Math.round((x0 + x1 - t.width) / 2);
        const ay = Math.round((y0 + y1 - t.height) / 2);
        for (let oy = -1; oy <= 1; oy++) {
          for (let ox = -1; ox <= 1; ox++) {
            let intersection = 0;
            for (let dy = 0; dy < t.height; dy++) {
              const y = ay + oy + dy;
              if (y < 0 || y >= size) continue;
              for (let dx = 0; dx < t.width; dx++) {
                const x = ax + ox + dx;
                if (x < 0 || x >= size) continue;
                if (t.mask[dy * t.width + dx] && member[y * size + x]) intersection += 1;
              }
            }
            const iou = intersection / (pixels + t.pixels - intersection);
            if (iou > scores[shape]) scores[shape] = iou;
          }
        }
      }
    }
  }
  return scores;
}

/** Find the objects in a 32×32×3 image (float in [0, 1] or uint8). */
export function detectShapes(image: Float32Array | Uint8Array | ArrayLike<number>, size = SHAPES_IMAGE_SIZE): Detection {
  const { labels, unit } = labelPixels(image, size);
  const component = new Int32Array(size * size).fill(-1);
  const member = new Uint8Array(size * size);
  const stack = new Int32Array(size * size);
  const objects: DetectedObject[] = [];
  let strayPixels = 0;
  let id = 0;
  for (let start = 0; start < size * size; start++) {
    if (labels[start] < 0 || component[start] >= 0) continue;
    const label = labels[start];
    // Flood fill (8-connected) over pixels with the same colour label.
    const pixelsList: number[] = [];
    let top = 0;
    stack[top++] = start;
    component[start] = id;
    while (top > 0) {
      const p = stack[--top];
      pixelsList.push(p);
      const px = p % size;
      const py = (p - px) / size;
      for (let dy = -1; dy <= 1; dy++) {
        const y = py + dy;
        if (y < 0 || y >= size) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const x = px + dx;
          if (x < 0 || x >= size) continue;
          const q = y * size + x;
          if (labels[q] === label && component[q] < 0) {
            component[q] = id;
            stack[top++] = q;
          }
        }
      }
    }
    id += 1;
    if (pixelsList.length < MIN_OBJECT_PIXELS) {
      strayPixels += pixelsList.length;
      continue;
    }
    let x0 = size;
    let y0 = size;
    let x1 = 0;
    let y1 = 0;
    let sx = 0;
    let sy = 0;
    for (const p of pixelsList) {
      const x = p % size;
      const y = (p - x) / size;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x + 1);
      y1 = Math.max(y1, y + 1);
      sx += x;
      sy += y;
      member[p] = 1;
    }
    const bbox: [number, number, number, number] = [x0, y0, x1, y1];
    const scores = shapeScores(member, size, bbox, pixelsList.length);
    for (const p of pixelsList) member[p] = 0;
    let shape: ShapeName = 'circle';
    for (const s of SHAPE_NAMES) if (scores[s] > scores[shape]) shape = s;
    const side = Math.max(x1 - x0, y1 - y0);
    objects.push({ colour: COLOUR_NAMES[label], shape, size: sizeClassOf(side), side, bbox, centroid: [sx / pixelsList.length, sy / pixelsList.length], pixels: pixelsList.length, shapeScores: scores });
  }
  objects.sort((a, b) => b.pixels - a.pixels);
  // Background: every pixel not labelled foreground (a blur's dark halo included).
  let sum = 0;
  let sum2 = 0;
  let count = 0;
  for (let p = 0; p < size * size; p++) {
    if (labels[p] >= 0) continue;
    const v = (unit[p * 3] + unit[p * 3 + 1] + unit[p * 3 + 2]) / 3;
    sum += v;
    sum2 += v * v;
    count += 1;
  }
  const backgroundMean = count ? sum / count : 0;
  const backgroundStd = count ? Math.sqrt(Math.max(0, sum2 / count - backgroundMean * backgroundMean)) : 0;
  return { objects, strayPixels, backgroundMean, backgroundStd };
}

// ---------------------------------------------------------------------------------------------
// Judging a picture against its prompt

/** Anything with the attributes the judge reads: a Detection, or a ShapesScene's ground truth. */
export interface JudgedObject {
  colour: ColourName;
  shape: ShapeName;
  size: SizeName;
  centroid: readonly [number, number];
}

export interface Judgement {
  /** As many objects as the prompt names. */
  count: boolean;
  /** Every named object's colour matches (under the best assignment of found objects to named ones). */
  colour: boolean;
  shape: boolean;
  /** null when the prompt states no size. */
  size: boolean | null;
  /** null for one-object prompts. */
  relation: boolean | null;
  /** Every attribute above holds. */
  all: boolean;
}

export interface JudgeOptions {
  /** Least centroid distance in the stated direction for a relation to hold (default 4 px). */
  relationMargin?: number;
}

/**
 * Judge found objects against a prompt. Named objects are matched to found ones by the injective
 * assignment that satisfies the most attributes (only the four largest found objects are tried);
 * a named object with nothing left to match fails its colour, shape and size.
 */
export function judge(attributes: { objects: readonly JudgedObject[] }, prompt: string | ParsedPrompt, options: JudgeOptions = {}): Judgement {
  const parsed = typeof prompt === 'string' ? parsePrompt(prompt) : prompt;
  if (!parsed) throw new DiffusionError('INVALID_ARGUMENT', `"${String(prompt)}" is not a Shapes prompt`);
  const margin = options.relationMargin ?? DEFAULT_RELATION_MARGIN;
  const found = attributes.objects.slice(0, 4);
  const named = parsed.objects;
  const sizeStated = named.some((o) => o.size !== null);
  let best: { score: number; colour: boolean; shape: boolean; size: boolean; relation: boolean } | null = null;
  const assign = (chosen: number[]): void => {
    if (chosen.length === named.length) {
      let colour = true;
      let shape = true;
      let size = true;
      let score = 0;
      named.forEach((n, i) => {
        const f = chosen[i] >= 0 ? found[chosen[i]] : null;
        const c = f !== null && f.colour === n.colour;
        const s = f !== null && f.shape === n.shape;
        const z = n.size === null || (f !== null && f.size === n.size);
        colour &&= c;
        shape &&= s;
        size &&= z;
        score += Number(c) + Number(s) + Number(z);
      });
      let relation = true;
      if (parsed.relation) {
        const a = chosen[0] >= 0 ? found[chosen[0]] : null;
        const b = chosen[1] >= 0 ? found[chosen[1]] : null;
        relation = a !== null && b !== null && relationMargin(parsed.relation as Relation, a.centroid, b.centroid) >= margin;
        score += Number(relation);
      }
      if (!best || score > best.score) best = { score, colour, shape, size, relation };
      return;
    }
    let any = false;
    for (let j = 0; j < found.length; j++) {
      if (chosen.includes(j)) continue;
      any = true;
      assign([...chosen, j]);
    }
    if (!any) assign([...chosen, -1]);
  };
  assign([]);
  const b = best as unknown as { colour: boolean; shape: boolean; size: boolean; relation: boolean };
  const count = attributes.objects.length === named.length;
  const judgement: Judgement = {
    count,
    colour: b.colour,
    shape: b.shape,
    size: sizeStated ? b.size : null,
    relation: parsed.relation ? b.relation : null,
    all: false,
  };
  judgement.all = count && b.colour && b.shape && (judgement.size ?? true) && (judgement.relation ?? true);
  return judgement;
}

// ---------------------------------------------------------------------------------------------
// Features for a Fréchet distance

/**
 * SHAPES_FEATURE_DIM values per image. For each palette colour (6 × 7): the largest object of that
 * colour's pixel share (pixels / 1024), centroid x / 32, centroid y / 32, side / 32 and its three
 * shape scores (all 0 when the colour is absent); then (4): the number of objects / 2, the stray
 * foreground share, and the background's mean and standard deviation of brightness. Clean real
 * scenes and good samples agree on all of them; blur, noise, broken shapes, wrong sizes or
 * spurious objects move them.
 */
export const SHAPES_FEATURE_DIM = COLOUR_NAMES.length * 7 + 4;

export function shapesFeatures(detection: Detection, size = SHAPES_IMAGE_SIZE): Float32Array {
  const out = new Float32Array(SHAPES_FEATURE_DIM);
  COLOUR_NAMES.forEach((colour, k) => {
    const o = detection.objects.find((d) => d.colour === colour);
    if (!o) return;
    const base = k * 7;
    out[base] = o.pixels / (size * size);
    out[base + 1] = o.centroid[0] / size;
    out[base + 2] = o.centroid[1] / size;
    out[base + 3] = o.side / size;
    out[base + 4] = o.shapeScores.circle;
    out[base + 5] = o.shapeScores.square;
    out[base + 6] = o.shapeScores.triangle;
  });
  const tail = COLOUR_NAMES.length * 7;
  out[tail] = detection.objects.length / 2;
  out[tail + 1] = detection.strayPixels / (size * size);
  out[tail + 2] = detection.backgroundMean;
  out[tail + 3] = detection.backgroundStd;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Perturbations used to measure the detector's robustness (and in its tests)

/** Add N(0, σ²) to every channel of a [0, 1] image and clamp (σ in [0, 1] units). */
export function addGaussianNoise(image: Float32Array, sigma: number, normal: () => number): Float32Array {
  const out = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = Math.min(1, Math.max(0, image[i] + sigma * normal()));
  return out;
}

/** 3×3 box blur of an H×W×3 image (edges: average over the pixels inside the image). */
export function boxBlur3(image: Float32Array, size = SHAPES_IMAGE_SIZE): Float32Array {
  const out = new Float32Array(image.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        let n = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy < 0 || yy >= size || xx < 0 || xx >= size) continue;
            sum += image[(yy * size + xx) * 3 + c];
            n += 1;
          }
        }
        out[(y * size + x) * 3 + c] = sum / n;
      }
    }
  }
  return out;
}

export function uint8ToUnit(image: Uint8Array): Float32Array {
  return Float32Array.from(image, (v) => v / 255);
}

export const DETECTOR_CONDITIONS = ['clean', 'noise', 'blur', 'blur+noise'] as const;
export type DetectorCondition = (typeof DETECTOR_CONDITIONS)[number];

export interface DetectorAccuracy {
  n: number;
  seed: number;
  split: ShapesSplit;
  noiseSigma: number;
  /** Share of images whose every attribute the judge confirms against their own caption. */
  fullyCorrect: Record<DetectorCondition, number>;
  /** Failures per attribute (count, colour, shape, size, relation) per condition. */
  failures: Record<DetectorCondition, Record<string, number>>;
}

/**
 * Run the detector and the judge on `n` ground-truth scenes (samples 0..n−1 of the split for this
 * seed) as rendered, with Gaussian noise σ, with a 3×3 box blur, and with both.
 */
export function measureDetectorAccuracy(options: { n: number; seed: number; split?: ShapesSplit; noiseSigma?: number }): DetectorAccuracy {
  const { n, seed, split = 'train', noiseSigma = 0.05 } = options;
  const random = new Random(seed ^ 0x6e015e);
  const normal = (): number => random.normal();
  const correct = { clean: 0, noise: 0, blur: 0, 'blur+noise': 0 } as Record<DetectorCondition, number>;
  const failures = { clean: {}, noise: {}, blur: {}, 'blur+noise': {} } as Record<DetectorCondition, Record<string, number>>;
  for (let i = 0; i < n; i++) {
    const { scene, image } = shapesSample(seed, i, split);
    const clean = uint8ToUnit(image);
    const blurred = boxBlur3(clean);
    const variants: Record<DetectorCondition, Float32Array> = { clean, noise: addGaussianNoise(clean, noiseSigma, normal), blur: blurred, 'blur+noise': addGaussianNoise(blurred, noiseSigma, normal) };
    for (const condition of DETECTOR_CONDITIONS) {
      const j = judge(detectShapes(variants[condition]), scene.caption);
      if (j.all) correct[condition] += 1;
      for (const a of ['count', 'colour', 'shape', 'size', 'relation'] as const) if (j[a] === false) failures[condition][a] = (failures[condition][a] ?? 0) + 1;
    }
  }
  const fullyCorrect = Object.fromEntries(DETECTOR_CONDITIONS.map((c) => [c, correct[c] / n])) as Record<DetectorCondition, number>;
  return { n, seed, split, noiseSigma, fullyCorrect, failures };
}
