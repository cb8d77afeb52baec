/**
 * The Shapes data set of issue 15: procedural 32×32 RGB scenes with captions in a fixed grammar,
 * so that a detector (src/eval/shapes-detector.ts) can judge any picture against its prompt.
 * Browser-safe and seeded. No upstream counterpart: the grammar is the issue's, the rasteriser is
 * the plain "pixel centre inside the shape" rule without anti-aliasing (solid fill, exact colours).
 *
 * Grammar (issue 15):
 *   black background; one or two objects, not overlapping, fully inside;
 *   shapes circle | square (axis-aligned) | triangle (upright, base at the bottom);
 *   colours red (220,40,40) green (40,180,60) blue (50,90,230) yellow (230,210,40)
 *           magenta (200,60,200) cyan (40,200,210);
 *   sizes small (bounding box 7–9 px) | large (13–15 px);
 *   one object:  "a {size} {colour} {shape}" — the size word may be omitted (then the size is random);
 *   two objects: "a {colour} {shape} {relation} a {colour} {shape}", relation one of
 *                "to the left of" | "to the right of" | "above" | "below", the centroids ≥ 8 px apart
 *                along that axis, in the stated direction (a prompt may also give either object a
 *                size word, as the issue's own example "a small red circle above a blue square"
 *                does; the data set's captions never do, a trainer may: pairCaptionWithSizes);
 *   held out of training (images and captions): blue triangle, yellow circle, magenta square.
 *
 * Choices the issue leaves open, fixed here: every bounding box is square (width = height = side);
 * objects keep a 1-pixel margin from the image border and a gap of ≥ 2 px between their bounding
 * boxes (so a 3×3 blur never joins them); a training scene has one object with probability 1/2
 * and omits the size word in 30 % of one-object captions. Two large objects must fit side by side
 * within 30 px with the gap (sides summing to ≤ 28), so such pairs are 13+13, 13+14, 13+15 or 14+14
 * (draws that cannot be placed are redrawn). Centroids are the mean pixel index
 * (x, y) of an object's filled pixels; y grows downwards, so "above" means a smaller y.
 */
import { DiffusionError } from '../errors.ts';
import { Random } from '../rng.ts';

export const SHAPES_IMAGE_SIZE = 32;
export const COLOUR_NAMES = ['red', 'green', 'blue', 'yellow', 'magenta', 'cyan'] as const;
export type ColourName = (typeof COLOUR_NAMES)[number];
export const SHAPE_NAMES = ['circle', 'square', 'triangle'] as const;
export type ShapeName = (typeof SHAPE_NAMES)[number];
export const SIZE_NAMES = ['small', 'large'] as const;
export type SizeName = (typeof SIZE_NAMES)[number];
export const RELATIONS = ['to the left of', 'to the right of', 'above', 'below'] as const;
export type Relation = (typeof RELATIONS)[number];

/** The palette, 0..255 RGB, exactly as issue 15 lists it. */
export const PALETTE: Readonly<Record<ColourName, readonly [number, number, number]>> = {
  red: [220, 40, 40],
  green: [40, 180, 60],
  blue: [50, 90, 230],
  yellow: [230, 210, 40],
  magenta: [200, 60, 200],
  cyan: [40, 200, 210],
};

/** Bounding-box side in pixels, inclusive range per size word. */
export const SIZE_RANGES: Readonly<Record<SizeName, readonly [number, number]>> = { small: [7, 9], large: [13, 15] };

/** Colour–shape pairs that never appear in training images or captions. */
export const HELD_OUT_PAIRS: ReadonlyArray<readonly [ColourName, ShapeName]> = [
  ['blue', 'triangle'],
  ['yellow', 'circle'],
  ['magenta', 'square'],
];

/** Minimum centroid distance along a relation's axis in generated scenes. */
export const RELATION_MIN_DISTANCE = 8;
/** Distance of every object from the image border, and the least gap between two bounding boxes. */
export const BORDER_MARGIN = 1;
export const OBJECT_GAP = 2;

export function isHeldOutPair(colour: ColourName, shape: ShapeName): boolean {
  return HELD_OUT_PAIRS.some(([c, s]) => c === colour && s === shape);
}

export function sizeClassOf(side: number): SizeName {
  // The midpoint between the two ranges (9 and 13) splits them.
  return side <= 11 ? 'small' : 'large';
}

/** A rendered object. bbox is [x0, y0, x1, y1] with x1, y1 exclusive. */
export interface ShapeObject {
  colour: ColourName;
  shape: ShapeName;
  size: SizeName;
  side: number;
  bbox: [number, number, number, number];
  centroid: [number, number];
}

export interface ShapesScene {
  caption: string;
  objects: ShapeObject[];
  /** Relation of objects[0] to objects[1], or null for one object. */
  relation: Relation | null;
  /** Whether the caption states the size (one-object captions only). */
  sizeStated: boolean;
}

/** What a prompt asks for: the parse of a caption by the grammar. */
export interface PromptObject {
  colour: ColourName;
  shape: ShapeName;
  /** null: the prompt leaves the size open. */
  size: SizeName | null;
}
export interface ParsedPrompt {
  objects: PromptObject[];
  relation: Relation | null;
}

export type PromptKind = 'single-object' | 'two-object' | 'held-out';

// ---------------------------------------------------------------------------------------------
// Rasterising

/**
 * Whether cell (dx, dy) of a side×side box is filled for this shape.
 * circle: the pixel centre lies in the disc of diameter `side` centred in the box;
 * triangle: row r covers the columns whose centre is within (r + 1)/2 of the box's vertical axis —
 * the upright isosceles triangle sampled at each row's lower edge, so that the apex row has 1
 * (odd side) or 2 (even side) pixels and the base row fills the box; square: everything.
 */
export function shapeCovers(shape: ShapeName, side: number, dx: number, dy: number): boolean {
  const half = side / 2;
  switch (shape) {
    case 'square':
      return true;
    case 'circle': {
      const ox = dx + 0.5 - half;
      const oy = dy + 0.5 - half;
      return ox * ox + oy * oy <= half * half;
    }
    case 'triangle':
      return Math.abs(dx + 0.5 - half) <= (dy + 1) / 2;
  }
}

/** A side×side 0/1 mask of the shape (row-major). */
export function shapeMask(shape: ShapeName, side: number): Uint8Array {
  const mask = new Uint8Array(side * side);
  for (let dy = 0; dy < side; dy++) for (let dx = 0; dx < side; dx++) mask[dy * side + dx] = shapeCovers(shape, side, dx, dy) ? 1 : 0;
  return mask;
}

function maskCentroid(shape: ShapeName, side: number, x0: number, y0: number): [number, number] {
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let dy = 0; dy < side; dy++) {
    for (let dx = 0; dx < side; dx++) {
      if (!shapeCovers(shape, side, dx, dy)) continue;
      sx += x0 + dx;
      sy += y0 + dy;
      n += 1;
    }
  }
  return [sx / n, sy / n];
}

export function makeObject(colour: ColourName, shape: ShapeName, side: number, x0: number, y0: number): ShapeObject {
  return { colour, shape, size: sizeClassOf(side), side, bbox: [x0, y0, x0 + side, y0 + side], centroid: maskCentroid(shape, side, x0, y0) };
}

/** Paint the objects on black: 32×32×3 uint8, row-major RGB. */
export function renderScene(objects: readonly ShapeObject[], size = SHAPES_IMAGE_SIZE): Uint8Array {
  const image = new Uint8Array(size * size * 3);
  for (const o of objects) {
    const [x0, y0] = o.bbox;
    const rgb = PALETTE[o.colour];
    for (let dy = 0; dy < o.side; dy++) {
      for (let dx = 0; dx < o.side; dx++) {
        const x = x0 + dx;
        const y = y0 + dy;
        if (x < 0 || y < 0 || x >= size || y >= size || !shapeCovers(o.shape, o.side, dx, dy)) continue;
        image.set(rgb, (y * size + x) * 3);
      }
    }
  }
  return image;
}

// ---------------------------------------------------------------------------------------------
// Captions

export function objectPhrase(o: { colour: ColourName; shape: ShapeName }, size: SizeName | null = null): string {
  return size ? `a ${size} ${o.colour} ${o.shape}` : `a ${o.colour} ${o.shape}`;
}

export function promptText(p: ParsedPrompt): string {
  if (p.objects.length === 1) return objectPhrase(p.objects[0], p.objects[0].size);
  if (p.objects.length === 2 && p.relation) return `${objectPhrase(p.objects[0], p.objects[0].size)} ${p.relation} ${objectPhrase(p.objects[1], p.objects[1].size)}`;
  throw new DiffusionError('INVALID_ARGUMENT', 'promptText: one object, or two objects and a relation');
}

const OBJECT_RE = `a (?:(small|large) )?(${COLOUR_NAMES.join('|')}) (${SHAPE_NAMES.join('|')})`;
const SINGLE_RE = new RegExp(`^${OBJECT_RE}$`);
// The data set's two-object captions state no size; a prompt may still give either object one
// ("a small red circle above a blue square", the issue's own example), and the judge then checks it.
const PAIR_RE = new RegExp(`^${OBJECT_RE} (${RELATIONS.join('|')}) ${OBJECT_RE}$`);

/**
 * Parse a prompt by the grammar (case and surrounding/multiple spaces are forgiven); null when it is
 * not one. Either object of a two-object prompt may carry a size word, which the data set's own
 * two-object captions never do (see {@link pairCaptionWithSizes}).
 */
export function parsePrompt(prompt: string): ParsedPrompt | null {
  const text = prompt.trim().toLowerCase().replace(/\s+/g, ' ').replace(/\.$/, '');
  const one = SINGLE_RE.exec(text);
  if (one) return { objects: [{ colour: one[2] as ColourName, shape: one[3] as ShapeName, size: (one[1] as SizeName | undefined) ?? null }], relation: null };
  const two = PAIR_RE.exec(text);
  if (two) {
    return {
      objects: [
        { colour: two[2] as ColourName, shape: two[3] as ShapeName, size: (two[1] as SizeName | undefined) ?? null },
        { colour: two[6] as ColourName, shape: two[7] as ShapeName, size: (two[5] as SizeName | undefined) ?? null },
      ],
      relation: two[4] as Relation,
    };
  }
  return null;
}

export function promptKind(p: ParsedPrompt): PromptKind {
  if (p.objects.some((o) => isHeldOutPair(o.colour, o.shape))) return 'held-out';
  return p.objects.length === 1 ? 'single-object' : 'two-object';
}

/** Signed distance by which a's centroid lies in `relation` of b's (positive when the relation holds). */
export function relationMargin(relation: Relation, a: readonly [number, number], b: readonly [number, number]): number {
  switch (relation) {
    case 'to the left of':
      return b[0] - a[0];
    case 'to the right of':
      return a[0] - b[0];
    case 'above':
      return b[1] - a[1];
    case 'below':
      return a[1] - b[1];
  }
}

// ---------------------------------------------------------------------------------------------
// Sampling scenes

function pick<T>(random: Random, items: readonly T[]): T {
  return items[random.int(items.length)];
}

function randomSide(random: Random, size: SizeName): number {
  const [lo, hi] = SIZE_RANGES[size];
  return lo + random.int(hi - lo + 1);
}

function placeOne(random: Random, side: number): [number, number] {
  const span = SHAPES_IMAGE_SIZE - 2 * BORDER_MARGIN - side + 1;
  return [BORDER_MARGIN + random.int(span), BORDER_MARGIN + random.int(span)];
}

/** Bounding boxes apart by ≥ OBJECT_GAP empty pixels along at least one axis. */
export function boxesSeparated(a: readonly number[], b: readonly number[], gap = OBJECT_GAP): boolean {
  return a[2] + gap <= b[0] || b[2] + gap <= a[0] || a[3] + gap <= b[1] || b[3] + gap <= a[1];
}

/** Place two objects so that they are separated and `relation` holds by ≥ RELATION_MIN_DISTANCE; null when 400 tries fail. */
function placeTwo(random: Random, a: PromptObject & { size: SizeName }, b: PromptObject & { size: SizeName }, relation: Relation, sideA: number, sideB: number): [ShapeObject, ShapeObject] | null {
  for (let attempt = 0; attempt < 400; attempt++) {
    const [ax, ay] = placeOne(random, sideA);
    const [bx, by] = placeOne(random, sideB);
    const first = makeObject(a.colour, a.shape, sideA, ax, ay);
    const second = makeObject(b.colour, b.shape, sideB, bx, by);
    if (!boxesSeparated(first.bbox, second.bbox)) continue;
    if (relationMargin(relation, first.centroid, second.centroid) < RELATION_MIN_DISTANCE) continue;
    return [first, second];
  }
  return null;
}

/**
 * Render a random scene that satisfies a parsed prompt (sizes the prompt leaves open are random;
 * held-out pairs are allowed here — this is for evaluation and tests, not training data).
 */
export function sceneForPrompt(prompt: ParsedPrompt, random: Random, sizeStated = prompt.objects.length === 1 && prompt.objects[0].size !== null): ShapesScene {
  if (prompt.objects.length === 1) {
    const p = prompt.objects[0];
    const size = p.size ?? pick(random, SIZE_NAMES);
    const side = randomSide(random, size);
    const [x0, y0] = placeOne(random, side);
    const o = makeObject(p.colour, p.shape, side, x0, y0);
    return { caption: objectPhrase(o, sizeStated ? size : null), objects: [o], relation: null, sizeStated };
  }
  if (prompt.objects.length !== 2 || !prompt.relation) throw new DiffusionError('INVALID_ARGUMENT', 'sceneForPrompt: one object, or two objects and a relation');
  for (let attempt = 0; attempt < 100; attempt++) {
    const [pa, pb] = prompt.objects;
    const a = { ...pa, size: pa.size ?? pick(random, SIZE_NAMES) };
    const b = { ...pb, size: pb.size ?? pick(random, SIZE_NAMES) };
    const placed = placeTwo(random, a, b, prompt.relation, randomSide(random, a.size), randomSide(random, b.size));
    if (placed) return { caption: promptText(prompt), objects: placed, relation: prompt.relation, sizeStated: false };
  }
  // Unreachable for the grammar's sizes (two small objects always fit); kept as a clear failure.
  throw new DiffusionError('INVALID_ARGUMENT', `sceneForPrompt: could not place "${promptText(prompt)}"`);
}

/** Render a random scene for a prompt string: [scene, 32×32×3 uint8]. */
export function renderPromptScene(prompt: string, seed: number): { scene: ShapesScene; image: Uint8Array } {
  const parsed = parsePrompt(prompt);
  if (!parsed) throw new DiffusionError('INVALID_ARGUMENT', `"${prompt}" is not a Shapes prompt (see the grammar in src/data/shapes.ts)`);
  const scene = sceneForPrompt(parsed, new Random(seed));
  return { scene, image: renderScene(scene.objects) };
}

/** Which scenes a split holds: train and test exclude the held-out pairs; held-out scenes contain at least one. */
export const SHAPES_SPLITS = ['train', 'test', 'held-out'] as const;
export type ShapesSplit = (typeof SHAPES_SPLITS)[number];

function randomPair(random: Random, heldOut: boolean): { colour: ColourName; shape: ShapeName } {
  if (heldOut) {
    const [colour, shape] = pick(random, HELD_OUT_PAIRS);
    return { colour, shape };
  }
  while (true) {
    const colour = pick(random, COLOUR_NAMES);
    const shape = pick(random, SHAPE_NAMES);
    if (!isHeldOutPair(colour, shape)) return { colour, shape };
  }
}

/** A random prompt of the split's distribution (see the file comment for the proportions). */
export function randomPrompt(random: Random, split: ShapesSplit): { prompt: ParsedPrompt; sizeStated: boolean } {
  const heldOut = split === 'held-out';
  if (random.uniform() < 0.5) {
    const pair = randomPair(random, heldOut);
    const sizeStated = random.uniform() >= 0.3;
    return { prompt: { objects: [{ ...pair, size: sizeStated ? pick(random, SIZE_NAMES) : null }], relation: null }, sizeStated };
  }
  // Held-out two-object scenes: the held-out pair sits first or second with equal odds; the other is any pair.
  const heldOutFirst = random.uniform() < 0.5;
  const first = randomPair(random, heldOut && heldOutFirst);
  const second = heldOut && !heldOutFirst ? randomPair(random, true) : heldOut ? anyPair(random) : randomPair(random, false);
  return { prompt: { objects: [{ ...first, size: null }, { ...second, size: null }], relation: pick(random, RELATIONS) }, sizeStated: false };
}

function anyPair(random: Random): { colour: ColourName; shape: ShapeName } {
  return { colour: pick(random, COLOUR_NAMES), shape: pick(random, SHAPE_NAMES) };
}

/**
 * A two-object scene's caption with the size word of each object for which `state` is true (its
 * size class as drawn: small 7–9 px, large 13–15 px), e.g. "a small red circle above a blue square".
 * The data set's captions state none; a trainer may state some (train-unet --pair-sizes) so that
 * the model also follows prompts that do.
 */
export function pairCaptionWithSizes(scene: ShapesScene, state: readonly [boolean, boolean]): string {
  if (scene.objects.length !== 2 || scene.relation === null) throw new DiffusionError('INVALID_ARGUMENT', 'pairCaptionWithSizes: a two-object scene');
  const [a, b] = scene.objects;
  return promptText({ objects: [{ ...a, size: state[0] ? a.size : null }, { ...b, size: state[1] ? b.size : null }], relation: scene.relation });
}

/** Per-split seed offsets, so that train, test and held-out scenes never share a PRNG stream. */
const SPLIT_STREAM: Record<ShapesSplit, number> = { train: 0x5a17, test: 0x7e57, 'held-out': 0x4e1d };

/**
 * Sample `index` of a split: its own PRNG seeded from (seed, split, index), so a data set of n
 * samples is a prefix of one of m > n samples and any sample can be regenerated alone.
 */
export function shapesSample(seed: number, index: number, split: ShapesSplit = 'train'): { scene: ShapesScene; image: Uint8Array } {
  if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(index) || index < 0) throw new DiffusionError('INVALID_ARGUMENT', `shapesSample: seed and index must be integers ≥ 0 (got ${seed}, ${index})`);
  // Mix (seed, split, index) into one 32-bit word (Random then expands it with splitmix32).
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ SPLIT_STREAM[split] ^ (h >>> 15), 0xc2b2ae35) >>> 0;
  h = Math.imul(h ^ (index >>> 0) ^ (h >>> 13), 0x27d4eb2f) >>> 0;
  h = (h ^ Math.floor(index / 4294967296) ^ (h >>> 16)) >>> 0;
  const random = new Random(h);
  const { prompt, sizeStated } = randomPrompt(random, split);
  const scene = sceneForPrompt(prompt, random, sizeStated);
  return { scene, image: renderScene(scene.objects) };
}

/**
 * `count` held-in two-object prompts that state a size for the first object, the second or both
 * (one pattern in three each; sizes small or large at random), the form of the issue's own example
 * "a small red circle above a blue square". The data set's two-object captions never state sizes,
 * so these measure whether a model follows the prompts users write (eval-t2i's sizedPairs).
 */
export function shapesSizedPairPrompts(seed = 0, count = 45): string[] {
  const random = new Random(seed ^ 0x512e5);
  const out: string[] = [];
  while (out.length < count) {
    const { prompt } = randomPrompt(random, 'train');
    if (prompt.objects.length !== 2) continue;
    const pattern = random.int(3);
    const [a, b] = prompt.objects.map((o, k) => ({ ...o, size: pattern === 2 || pattern === k ? pick(random, SIZE_NAMES) : null }));
    out.push(promptText({ objects: [a, b], relation: prompt.relation }));
  }
  return out;
}

/**
 * The evaluation prompt list. single-object: every held-in colour–shape pair with "small", "large"
 * and no size word (15 × 3 = 45); held-out: the 3 held-out pairs × 3 size variants (9) plus
 * `twoObject` two-object prompts that contain a held-out pair; two-object: `twoObject` random
 * held-in prompts. Seeded; the same (seed, twoObject) always gives the same list.
 */
export function shapesEvaluationPrompts(seed = 0, twoObject = 45): Array<{ prompt: string; kind: PromptKind }> {
  const out: Array<{ prompt: string; kind: PromptKind }> = [];
  const sizes: Array<SizeName | null> = ['small', 'large', null];
  for (const colour of COLOUR_NAMES) {
    for (const shape of SHAPE_NAMES) {
      for (const size of sizes) {
        const prompt: ParsedPrompt = { objects: [{ colour, shape, size }], relation: null };
        out.push({ prompt: promptText(prompt), kind: promptKind(prompt) });
      }
    }
  }
  const random = new Random(seed ^ 0x3e7a1);
  const twoObjectPrompt = (split: ShapesSplit): ParsedPrompt => {
    while (true) {
      const { prompt } = randomPrompt(random, split);
      if (prompt.objects.length === 2) return prompt;
    }
  };
  for (let i = 0; i < twoObject; i++) out.push({ prompt: promptText(twoObjectPrompt('train')), kind: 'two-object' });
  for (let i = 0; i < twoObject; i++) out.push({ prompt: promptText(twoObjectPrompt('held-out')), kind: 'held-out' });
  return out;
}
