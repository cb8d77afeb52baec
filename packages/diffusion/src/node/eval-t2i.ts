/**
 * The text-to-image evaluation of issue 15, independent of any model: the caller passes a
 * `generate(prompts, seed)` callback (the real pipeline, or a stand-in in tests) and gets the
 * evaluation JSON:
 *   - Shapes, per prompt kind (single-object, two-object, held-out colour–shape pairs): the share
 *     of samples the detector judges fully correct and the rate of each attribute
 *     (src/eval/shapes-detector.ts);
 *   - a Fréchet distance on the detector's features (SHAPES_FEATURE_DIM per image) between the
 *     samples and ground-truth renders of the same prompts, beside the distance between two sets
 *     of ground-truth renders (the floor sampling noise alone gives);
 *   - Fashion-MNIST: the share of samples from class prompts that a classifier trained on real
 *     images assigns to the prompt's class (the classifier comes in as a callback too).
 * No upstream counterpart (the protocol is the issue's; the Fréchet formula is Heusel et al.'s).
 */
import { type PromptKind, renderPromptScene, shapesEvaluationPrompts, shapesSizedPairPrompts } from '../data/shapes.ts';
import { fashionEvaluationPrompts } from '../data/fashion-mnist.ts';
import { DiffusionError } from '../errors.ts';
import { Random } from '../rng.ts';
import { fitGaussian, frechetDistance } from '../eval/frechet.ts';
import { SHAPES_FEATURE_DIM, type Judgement, detectShapes, judge, shapesFeatures, uint8ToUnit } from '../eval/shapes-detector.ts';

/** Images are 32×32×3 float32 in [0, 1], one per prompt, in prompt order. */
export type TextToImageGenerate = (prompts: string[], seed: number) => Promise<Float32Array[]>;

const IMAGE_VALUES = 32 * 32 * 3;

/** A random ground-truth scene satisfying a Shapes prompt, as 32×32×3 float32 in [0, 1]. */
export function renderPrompt(prompt: string, seed: number): Float32Array {
  return uint8ToUnit(renderPromptScene(prompt, seed).image);
}

export interface TextToImageEvalOptions {
  generate: TextToImageGenerate;
  seed?: number;
  /** Samples per Shapes prompt (default 4). */
  samplesPerPrompt?: number;
  /** Two-object prompts per kind in the default prompt list (default 45; see shapesEvaluationPrompts). */
  twoObjectPrompts?: number;
  /**
   * Two-object prompts with size words (shapesSizedPairPrompts), judged apart from the kinds and the
   * Fréchet distance, which stay as before (default 45; 0: skip).
   */
  sizedPairPrompts?: number;
  /** Override the Shapes prompt list. */
  prompts?: Array<{ prompt: string; kind: PromptKind }>;
  /** Prompts per generate call (default 64). */
  batchSize?: number;
  /** false: skip the Shapes evaluation (a model trained on Fashion-MNIST only). */
  shapes?: boolean;
  /** Fashion-MNIST: omit to skip. */
  fashion?: {
    /** Predicted class per image (N×32×32×3 in [0, 1]). */
    classify: (images: Float32Array, count: number) => Int32Array | Promise<Int32Array>;
    samplesPerClass?: number;
    /** The classifier's own accuracy on real test images, copied into the report. */
    classifierTestAccuracy?: number;
  };
  log?: (line: string) => void;
}

export interface AttributeRates {
  prompts: number;
  samples: number;
  /** Share of samples with every attribute right. */
  fullyCorrect: number;
  /**
   * 95 % interval of `fullyCorrect` by the percentile bootstrap over prompts (2,000 resamples,
   * seeded by the evaluation's seed). Prompts, not samples, are resampled: the samples of one
   * prompt share its difficulty, so a binomial interval over samples would be too narrow. It
   * tells whether a target is met beyond the evaluation's sampling noise.
   */
  fullyCorrectInterval: [number, number];
  count: number;
  colour: number;
  shape: number;
  /** Over samples whose prompt states a size; null when none does. */
  size: number | null;
  /** Over two-object samples; null when none. */
  relation: number | null;
}

export interface TextToImageEvalReport {
  seed: number;
  shapes?: {
    samplesPerPrompt: number;
    kinds: Record<PromptKind, AttributeRates>;
    /**
     * The held-out kind split by object count: its one-object prompts ("a blue triangle") and its
     * two-object prompts that name at least one held-out pair (most of the kind with
     * the default list: 45 of its 54 prompts); null where the list has none.
     */
    heldOutByObjects: { 'single-object': AttributeRates | null; 'two-object': AttributeRates | null };
    /**
     * Held-in two-object prompts that give one or both objects a size word ("a small red circle
     * above a blue square"), a form the data set's captions never take; null when skipped.
     */
    sizedPairs: AttributeRates | null;
    frechet: { distance: number; realVsReal: number; featureDim: number; samples: number };
    /** Fully-correct share per prompt. */
    perPrompt: Array<{ prompt: string; kind: PromptKind; fullyCorrect: number }>;
  };
  fashion?: { samples: number; classAccuracy: number; perClass: number[]; classifierTestAccuracy?: number };
}

async function generateAll(generate: TextToImageGenerate, prompts: string[], seed: number, batchSize: number, log: (line: string) => void, what: string): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let start = 0, batch = 0; start < prompts.length; start += batchSize, batch++) {
    const chunk = prompts.slice(start, start + batchSize);
    const images = await generate(chunk, seed + batch);
    if (!Array.isArray(images) || images.length !== chunk.length) throw new DiffusionError('SHAPE_MISMATCH', `generate: returned ${Array.isArray(images) ? images.length : typeof images} images for ${chunk.length} prompts`);
    images.forEach((img, i) => {
      if (!(img instanceof Float32Array) || img.length !== IMAGE_VALUES) throw new DiffusionError('SHAPE_MISMATCH', `generate: image for "${chunk[i]}" is not 32×32×3 float32 values`);
    });
    out.push(...images);
    log(`${what}: ${out.length}/${prompts.length}`);
  }
  return out;
}

/** Resamples drawn by `promptBootstrapInterval`. */
const BOOTSTRAP_RESAMPLES = 2000;

/**
 * Percentile-bootstrap 95 % interval of a pooled share: draw the prompts with replacement, pool
 * their correct / total counts, and take the 2.5th and 97.5th percentiles over the resamples.
 */
export function promptBootstrapInterval(tallies: ReadonlyArray<{ correct: number; total: number }>, seed: number): [number, number] {
  const n = tallies.length;
  if (n === 0) return [0, 0];
  const random = new Random(seed);
  const shares = new Float64Array(BOOTSTRAP_RESAMPLES);
  for (let r = 0; r < BOOTSTRAP_RESAMPLES; r++) {
    let correct = 0;
    let total = 0;
    for (let k = 0; k < n; k++) {
      const t = tallies[random.int(n)];
      correct += t.correct;
      total += t.total;
    }
    shares[r] = total === 0 ? 0 : correct / total;
  }
  shares.sort();
  return [shares[Math.floor(0.025 * (BOOTSTRAP_RESAMPLES - 1))], shares[Math.ceil(0.975 * (BOOTSTRAP_RESAMPLES - 1))]];
}

/**
 * Attribute shares of `judgements` (samples of `samplesPerPrompt` each from a list of prompts);
 * `promptOf[i]` names the prompt judgement i answers.
 */
function rates(judgements: Judgement[], promptOf: readonly string[], samplesPerPrompt: number, seed: number): AttributeRates {
  const share = (key: keyof Judgement): number | null => {
    const defined = judgements.filter((j) => j[key] !== null);
    return defined.length ? defined.filter((j) => j[key] === true).length / defined.length : null;
  };
  const tallies = new Map<string, { correct: number; total: number }>();
  judgements.forEach((j, i) => {
    const t = tallies.get(promptOf[i]) ?? { correct: 0, total: 0 };
    t.correct += Number(j.all);
    t.total += 1;
    tallies.set(promptOf[i], t);
  });
  return {
    prompts: judgements.length / samplesPerPrompt,
    samples: judgements.length,
    fullyCorrect: share('all') ?? 0,
    fullyCorrectInterval: promptBootstrapInterval([...tallies.values()], seed),
    count: share('count') ?? 0,
    colour: share('colour') ?? 0,
    shape: share('shape') ?? 0,
    size: share('size'),
    relation: share('relation'),
  };
}

function featureMatrix(images: Float32Array[]): Float32Array {
  const out = new Float32Array(images.length * SHAPES_FEATURE_DIM);
  images.forEach((img, i) => out.set(shapesFeatures(detectShapes(img)), i * SHAPES_FEATURE_DIM));
  return out;
}

export async function evaluateTextToImage(options: TextToImageEvalOptions): Promise<TextToImageEvalReport> {
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? 64;
  const log = options.log ?? (() => {});
  if (options.shapes === false && !options.fashion) throw new DiffusionError('INVALID_ARGUMENT', 'evaluateTextToImage: nothing to evaluate (Shapes skipped and no Fashion-MNIST classifier)');
  const report: TextToImageEvalReport = { seed };
  if (options.shapes !== false) report.shapes = await evaluateShapes(options, seed, batchSize, log);
  if (options.fashion) report.fashion = await evaluateFashion(options.fashion, options.generate, seed, batchSize, log);
  return report;
}

async function evaluateShapes(options: TextToImageEvalOptions, seed: number, batchSize: number, log: (line: string) => void): Promise<NonNullable<TextToImageEvalReport['shapes']>> {
  const samplesPerPrompt = options.samplesPerPrompt ?? 4;
  const promptList = options.prompts ?? shapesEvaluationPrompts(seed, options.twoObjectPrompts ?? 45);
  if (promptList.length === 0 || samplesPerPrompt < 1) throw new DiffusionError('INVALID_ARGUMENT', 'evaluateTextToImage: need at least one prompt and one sample per prompt');
  const expanded = promptList.flatMap((p) => Array.from({ length: samplesPerPrompt }, () => p));
  const images = await generateAll(options.generate, expanded.map((p) => p.prompt), seed, batchSize, log, 'shapes samples');

  const byKind: Record<PromptKind, Judgement[]> = { 'single-object': [], 'two-object': [], 'held-out': [] };
  const promptsByKind: Record<PromptKind, string[]> = { 'single-object': [], 'two-object': [], 'held-out': [] };
  const perPrompt = new Map<string, { kind: PromptKind; correct: number; total: number }>();
  images.forEach((img, i) => {
    const { prompt, kind } = expanded[i];
    const j = judge(detectShapes(img), prompt);
    byKind[kind].push(j);
    promptsByKind[kind].push(prompt);
    const entry = perPrompt.get(prompt) ?? { kind, correct: 0, total: 0 };
    entry.correct += Number(j.all);
    entry.total += 1;
    perPrompt.set(prompt, entry);
  });
  const kindRates = (kind: PromptKind): AttributeRates => rates(byKind[kind], promptsByKind[kind], samplesPerPrompt, seed);
  // A judgement states a relation exactly when its prompt names two objects.
  const heldOutPart = (two: boolean): AttributeRates | null => {
    const keep = byKind['held-out'].map((j) => (j.relation !== null) === two);
    if (!keep.includes(true)) return null;
    return rates(byKind['held-out'].filter((_, i) => keep[i]), promptsByKind['held-out'].filter((_, i) => keep[i]), samplesPerPrompt, seed);
  };

  // Ground-truth renders of the same prompts, two independent sets (seeds disjoint from each other).
  const n = expanded.length;
  const real = (offset: number): Float32Array[] => expanded.map((p, i) => renderPrompt(p.prompt, (seed * 7919 + offset + i) >>> 0));
  const realA = featureMatrix(real(0x10000000));
  const realB = featureMatrix(real(0x20000000));
  const generated = featureMatrix(images);
  let frechet = { distance: NaN, realVsReal: NaN, featureDim: SHAPES_FEATURE_DIM, samples: n };
  if (n >= 2) {
    const reference = fitGaussian(realA, n, SHAPES_FEATURE_DIM);
    frechet = { distance: frechetDistance(reference, fitGaussian(generated, n, SHAPES_FEATURE_DIM)), realVsReal: frechetDistance(reference, fitGaussian(realB, n, SHAPES_FEATURE_DIM)), featureDim: SHAPES_FEATURE_DIM, samples: n };
  }

  // Sized two-object prompts: their own noise seeds, after everything above (which they leave as it was).
  const sizedCount = options.sizedPairPrompts ?? 45;
  let sizedPairs: AttributeRates | null = null;
  if (sizedCount > 0) {
    const sized = shapesSizedPairPrompts(seed, sizedCount).flatMap((p) => Array.from({ length: samplesPerPrompt }, () => p));
    const sizedImages = await generateAll(options.generate, sized, seed + 2_000_003, batchSize, log, 'sized two-object samples');
    sizedPairs = rates(sizedImages.map((img, i) => judge(detectShapes(img), sized[i])), sized, samplesPerPrompt, seed);
  }

  return {
    samplesPerPrompt,
    kinds: {
      'single-object': kindRates('single-object'),
      'two-object': kindRates('two-object'),
      'held-out': kindRates('held-out'),
    },
    heldOutByObjects: { 'single-object': heldOutPart(false), 'two-object': heldOutPart(true) },
    sizedPairs,
    frechet,
    perPrompt: [...perPrompt].map(([prompt, e]) => ({ prompt, kind: e.kind, fullyCorrect: e.correct / e.total })),
  };
}

async function evaluateFashion(fashion: NonNullable<TextToImageEvalOptions['fashion']>, generate: TextToImageGenerate, seed: number, batchSize: number, log: (line: string) => void): Promise<NonNullable<TextToImageEvalReport['fashion']>> {
  const perClassSamples = fashion.samplesPerClass ?? 20;
  const classPrompts = fashionEvaluationPrompts().flatMap((p) => Array.from({ length: perClassSamples }, () => p));
  const fashionImages = await generateAll(generate, classPrompts.map((p) => p.prompt), seed + 1_000_003, batchSize, log, 'fashion samples');
  const stacked = new Float32Array(fashionImages.length * IMAGE_VALUES);
  fashionImages.forEach((img, i) => stacked.set(img, i * IMAGE_VALUES));
  const predictions = await fashion.classify(stacked, fashionImages.length);
  const perClass = new Array<number>(10).fill(0);
  let correct = 0;
  classPrompts.forEach((p, i) => {
    if (predictions[i] === p.label) {
      correct += 1;
      perClass[p.label] += 1 / perClassSamples;
    }
  });
  return { samples: classPrompts.length, classAccuracy: correct / classPrompts.length, perClass, ...(fashion.classifierTestAccuracy !== undefined ? { classifierTestAccuracy: fashion.classifierTestAccuracy } : {}) };
}
