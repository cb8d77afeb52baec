/**
 * Stage 2 of issue 15: CLIP (Radford et al. 2021) on Shapes image–caption pairs — the ClipTextModel
 * class (models/sd/clip-text-model.ts), which becomes the pipeline's frozen text encoder, and a
 * small convolutional image encoder of this file, trained together with the symmetric InfoNCE loss
 * and a learnt temperature:
 *
 *   v = normalise(W_v · vision(x)),  t = normalise(W_t · pooled(text)),  L = e^s · v tᵀ   [B × B]
 *   loss = ½ (CE(L, Y) + CE(Lᵀ, Y)),  s ← min(s, ln 100)   (CLIP's clamp; s starts at ln(1/0.07))
 *
 * Y is the identity, except that pairs in the batch with the same caption share their row's
 * target mass (the grammar repeats short captions; a duplicate is not a negative). With hard
 * negatives (NegCLIP, Yuksekgonul et al. 2023) the image→text term also scores each image against
 * the batch's swapped captions (hard-negatives.ts): L' = e^s · v [t; t_neg]ᵀ  [B × (B + H)], and
 * CE(L', Y') replaces CE(L, Y), Y' being Y padded with the columns of the negatives (a negative
 * that equals some image's own caption is a target of that image, not a negative).
 * Names follow transformers' CLIPModel (text_model.*, vision_model.*, visual_projection,
 * text_projection, logit_scale); the vision tower is our own CNN, not CLIP's ViT, so only the text
 * tower leaves in diffusers layout. Reported: image→text and text→image top-1 retrieval accuracy
 * over held-out pairs (fresh images of the test split, and the held-out colour–shape pairs).
 */
import { type ShapesSplit } from '../../data/shapes.ts';
import { DiffusionError } from '../../errors.ts';
import type { NamedArray } from '../../models/parameters.ts';
import { ParameterStore } from '../../models/parameters.ts';
import { type ClipTextConfig, ClipTextModel, readClipTextConfig } from '../../models/sd/clip-text-model.ts';
import { Conv2d, GroupNorm, Linear, ModuleBuilder } from '../../models/sd/modules.ts';
import { Random, type RandomState } from '../../rng.ts';
import type { Tensor, TensorEngine } from '../../tensor/engine.ts';
import type { Tokenizer } from '../../text/tokenizer.ts';
import { bindingSwaps, hardNegatives, relationSwap } from './hard-negatives.ts';
import { type StageTrainer, type StageTrainingConfig, OptimizerGroup, checkFinite, normaliseStageConfig, evaluationBatch, trainingBatch, checkTrainingData, type TrainingData } from './common.ts';

export interface ClipStageOptions {
  /** transformers CLIPTextConfig fields (vocab_size and the special ids are set from the tokenizer). */
  text: Record<string, unknown>;
  /** Channels of the image encoder's four convolutions (32×32 → 32, 16, 8, 4 px). */
  visionChannels: number[];
  /** Width of the joint embedding. */
  projectionDim: number;
  /** Held-out pairs per split for retrieval accuracy. */
  evalPairs: number;
  /** "bpe": a vocabulary learnt from the captions; "clip": OpenAI CLIP's. */
  tokenizer: 'bpe' | 'clip';
  /**
   * Add each caption's hard negatives (hard-negatives.ts: the opposite relation, a colour or shape
   * swap, the other size) as extra image→text negatives, as NegCLIP does. Absent (runs saved
   * before it): off.
   */
  hardNegatives?: boolean;
  /**
   * State each object's size in two-object training captions with this probability (as
   * train-unet's pairSizes, common.ts shapesBatch), so that the text tower also learns prompts like
   * "a small red circle above a blue square". 0 or absent: off.
   */
  pairSizes?: number;
}

export const DEFAULT_CLIP_OPTIONS: ClipStageOptions = {
  text: { hidden_size: 64, intermediate_size: 256, num_hidden_layers: 3, num_attention_heads: 4, max_position_embeddings: 16, hidden_act: 'quick_gelu', projection_dim: 64 },
  visionChannels: [16, 32, 64, 64],
  projectionDim: 64,
  evalPairs: 200,
  tokenizer: 'bpe',
};

export const CLIP_TRAINING_DEFAULTS: StageTrainingConfig = { steps: 600, batchSize: 64, learningRate: 1e-3, warmupSteps: 30, lrSchedule: 'constant', emaDecay: 0, gradClipNorm: 1, seed: 0, dataSeed: 0, datasetSize: 0, data: null };

const MAX_LOGIT_SCALE = Math.log(100);

/** The image tower: four 3×3 convolutions (the last three with stride 2), GroupNorm + SiLU, flatten, project. */
export class ShapesImageEncoder {
  private readonly convs: Conv2d[] = [];
  private readonly norms: GroupNorm[] = [];
  private readonly projection: Linear;
  constructor(b: ModuleBuilder, channels: number[], projectionDim: number, imageSize = 32) {
    let input = 3;
    channels.forEach((c, i) => {
      this.convs.push(new Conv2d(b, `vision_model.convs.${i}`, input, c, 3, i === 0 ? 1 : 2, 1));
      this.norms.push(new GroupNorm(b, `vision_model.norms.${i}`, Math.min(8, c), c, 1e-5));
      input = c;
    });
    const side = imageSize / 2 ** (channels.length - 1);
    this.projection = new Linear(b, 'visual_projection', side * side * input, projectionDim, false);
  }
  apply(e: TensorEngine, x: Tensor): Tensor {
    let h = x;
    this.convs.forEach((conv, i) => (h = e.silu(this.norms[i].apply(e, conv.apply(e, h)))));
    const n = h.shape[0];
    return this.projection.apply(e, e.reshape(h, [n, h.size / n]));
  }
}

/** Rows scaled to unit L2 norm. */
function normaliseRows(e: TensorEngine, x: Tensor): Tensor {
  return e.div(x, e.sqrt(e.addScalar(e.sum(e.square(x), [1], true), 1e-12)));
}

/**
 * T_ij = [r_i = c_j] / #{k : c_k = r_i} over rows r and columns c (c = r by default: symmetric);
 * each row sums to 1 when its caption is among the columns.
 */
export function contrastiveTargets(rows: readonly string[], columns: readonly string[] = rows): Float32Array {
  const n = rows.length;
  const m = columns.length;
  const out = new Float32Array(n * m);
  const counts = new Map<string, number>();
  for (const c of columns) counts.set(c, (counts.get(c) ?? 0) + 1);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) if (rows[i] === columns[j]) out[i * m + j] = 1 / (counts.get(rows[i]) as number);
  return out;
}

export class ClipTrainer implements StageTrainer {
  readonly stage = 'clip';
  readonly config: StageTrainingConfig;
  readonly textConfig: ClipTextConfig;
  readonly text: ClipTextModel;
  readonly head: ModuleBuilder;
  readonly vision: ShapesImageEncoder;
  readonly random: Random;
  private readonly textTextProjection: Linear;
  private readonly textGroup: OptimizerGroup;
  private readonly headGroup: OptimizerGroup;
  step = 0;
  /** The cache `config.data` names, opened by the runner (null: the Shapes generator). */
  trainingData: TrainingData | null = null;

  constructor(
    private readonly engine: TensorEngine,
    readonly tokenizer: Tokenizer,
    config: Partial<StageTrainingConfig>,
    readonly options: ClipStageOptions = DEFAULT_CLIP_OPTIONS,
  ) {
    this.config = normaliseStageConfig(config, CLIP_TRAINING_DEFAULTS);
    this.textConfig = readClipTextConfig(
      {
        ...options.text,
        model_type: 'clip_text_model',
        vocab_size: tokenizer.vocabSize,
        bos_token_id: tokenizer.bosTokenId,
        eos_token_id: tokenizer.eosTokenId,
        pad_token_id: tokenizer.padTokenId,
      },
      'text_encoder config',
    );
    if (tokenizer.modelMaxLength > this.textConfig.max_position_embeddings) {
      throw new DiffusionError('INVALID_CONFIG', `the tokenizer pads to ${tokenizer.modelMaxLength} tokens, the text encoder has ${this.textConfig.max_position_embeddings} positions`);
    }
    if (options.pairSizes !== undefined && !(options.pairSizes >= 0 && options.pairSizes <= 1)) throw new DiffusionError('INVALID_CONFIG', `pairSizes must be in [0, 1], got ${options.pairSizes}`);
    this.random = new Random(this.config.seed);
    this.text = new ClipTextModel(engine, this.random, this.textConfig);
    this.head = new ModuleBuilder(new ParameterStore(engine, this.random));
    this.vision = new ShapesImageEncoder(this.head, options.visionChannels, options.projectionDim);
    this.textTextProjection = new Linear(this.head, 'text_projection', this.textConfig.hidden_size, options.projectionDim, false);
    this.head.store.create('logit_scale', [1], { kind: 'zeros' });
    const init = engine.tensor(new Float32Array([Math.log(1 / 0.07)]), [1]);
    this.head.store.get('logit_scale').assign(init);
    init.dispose();
    this.textGroup = new OptimizerGroup(engine, this.text.params, null, this.config);
    this.headGroup = new OptimizerGroup(engine, this.head.store, null, this.config);
  }

  tokenize(captions: readonly string[]): Int32Array[] {
    return this.tokenizer.call(captions, { padding: 'max_length', truncation: true }).inputIds;
  }

  /** Unit text embeddings [n, projectionDim]. */
  embedText(e: TensorEngine, captions: readonly string[]): Tensor {
    return normaliseRows(e, this.textTextProjection.apply(e, this.text.forward(e, this.tokenize(captions)).pooled));
  }

  /** Unit image embeddings [n, projectionDim] of NHWC images in [−1, 1]. */
  embedImages(e: TensorEngine, images: Tensor): Tensor {
    return normaliseRows(e, this.vision.apply(e, images));
  }

  trainStep(): Record<string, number> {
    const e = this.engine;
    const b = this.config.batchSize;
    checkTrainingData(this.trainingData, 32, 32, 3, 'CLIP image encoder');
    const { images, captions } = trainingBatch(this.config, this.step, this.trainingData, this.options.pairSizes ?? 0);
    const x = e.tensor(images, [b, 32, 32, 3]);
    const negatives = this.options.hardNegatives ? captions.flatMap((c) => hardNegatives(c, this.random)) : [];
    const columns = [...captions, ...negatives];
    const imageTargets = e.tensor(contrastiveTargets(captions, columns), [b, columns.length]);
    const textTargets = e.tensor(contrastiveTargets(captions), [b, b]);
    const textVars = this.textGroup.trainable();
    const headVars = this.headGroup.trainable();
    const { value, grads } = e.valueAndGrads(() => {
      const logits = e.mul(e.matMul(this.embedImages(e, x), this.embedText(e, columns), false, true), e.exp(this.head.store.get('logit_scale')));
      const imageToText = e.mean(e.sum(e.mul(e.logSoftmax(logits), imageTargets), [1]));
      const batchLogits = negatives.length > 0 ? e.slice(logits, [0, 0], [b, b]) : logits;
      const textToImage = e.mean(e.sum(e.mul(e.logSoftmax(e.transpose(batchLogits, [1, 0])), textTargets), [1]));
      return e.mulScalar(e.add(imageToText, textToImage), -0.5);
    }, [...textVars, ...headVars] as never);
    const loss = e.readSync(value)[0];
    value.dispose();
    x.dispose();
    imageTargets.dispose();
    textTargets.dispose();
    if (!Number.isFinite(loss)) grads.forEach((g) => g.dispose());
    checkFinite(loss, this.step, 'clip');
    const gradNorm = Math.hypot(this.textGroup.apply(grads.slice(0, textVars.length), this.step), this.headGroup.apply(grads.slice(textVars.length), this.step));
    // CLIP clamps the learnt temperature at 100.
    const scale = this.head.store.get('logit_scale');
    const s = e.readSync(scale)[0];
    if (s > MAX_LOGIT_SCALE) {
      const clamped = e.tensor(new Float32Array([MAX_LOGIT_SCALE]), [1]);
      scale.assign(clamped);
      clamped.dispose();
    }
    this.step += 1;
    return { loss, gradNorm, logitScale: Math.exp(Math.min(s, MAX_LOGIT_SCALE)) };
  }

  /**
   * Top-1 retrieval accuracy both ways over `count` fresh pairs of a split (a duplicate caption
   * counts as a hit), and, over its two-object pairs, how often the image scores its own caption
   * above the relation-flipped one (`relation`) and above its first binding swap (`binding`) —
   * the bag-of-words probes of Yuksekgonul et al.; 0.5 is chance, null when the split has none.
   */
  retrieval(split: ShapesSplit, count: number): { imageToText: number; textToImage: number; relation: number | null; binding: number | null } | null {
    const e = this.engine;
    const batch = evaluationBatch(this.config, this.trainingData, split, this.config.dataSeed + 1, count);
    if (batch === null) return null;
    const { images, captions } = batch;
    const relationPairs = captions.flatMap((c, i) => {
      const swap = relationSwap(c);
      return swap === null ? [] : [{ image: i, swap }];
    });
    const bindingPairs = captions.flatMap((c, i) => bindingSwaps(c).slice(0, 1).map((swap) => ({ image: i, swap })));
    const swaps = [...relationPairs, ...bindingPairs].map((p) => p.swap);
    const [sim, swapSim] = e.tidy((): Tensor[] => {
      const chunks: Tensor[] = [];
      for (let s = 0; s < count; s += 100) {
        const n = Math.min(100, count - s);
        chunks.push(this.embedImages(e, e.tensor(images.subarray(s * 3072, (s + n) * 3072), [n, 32, 32, 3])));
      }
      const imageEmbeddings = e.concat(chunks, 0);
      return [e.matMul(imageEmbeddings, this.embedText(e, captions), false, true), swaps.length > 0 ? e.matMul(imageEmbeddings, this.embedText(e, swaps), false, true) : e.zeros([count, 1])];
    });
    const m = e.readSync(sim);
    const w = e.readSync(swapSim);
    const columns = swapSim.shape[1];
    sim.dispose();
    swapSim.dispose();
    let i2t = 0;
    let t2i = 0;
    for (let i = 0; i < count; i++) {
      let bestRow = 0;
      let bestCol = 0;
      for (let j = 1; j < count; j++) {
        if (m[i * count + j] > m[i * count + bestRow]) bestRow = j;
        if (m[j * count + i] > m[bestCol * count + i]) bestCol = j;
      }
      if (captions[bestRow] === captions[i]) i2t += 1;
      if (captions[bestCol] === captions[i]) t2i += 1;
    }
    // Column k of swapSim is swap k: relationPairs first, then bindingPairs.
    const wins = (pairs: { image: number }[], offset: number): number | null =>
      pairs.length === 0 ? null : pairs.filter((p, k) => m[p.image * count + p.image] > w[p.image * columns + offset + k]).length / pairs.length;
    return { imageToText: i2t / count, textToImage: t2i / count, relation: wins(relationPairs, 0), binding: wins(bindingPairs, relationPairs.length) };
  }

  evaluate(): Record<string, number> {
    const n = this.options.evalPairs;
    const test = this.retrieval('test', n);
    const held = this.retrieval('held-out', n);
    return {
      ...(test ? { imageToTextTest: test.imageToText, textToImageTest: test.textToImage } : {}),
      ...(test?.relation != null ? { relationTest: test.relation } : {}),
      ...(test?.binding != null ? { bindingTest: test.binding } : {}),
      ...(held ? { imageToTextHeldOut: held.imageToText, textToImageHeldOut: held.textToImage } : {}),
    };
  }

  /** transformers' CLIPTextModel config.json for the trained text tower. */
  diffusersConfig(): Record<string, unknown> {
    return { architectures: ['CLIPTextModel'], model_type: 'clip_text_model', attention_dropout: 0, dropout: 0, initializer_factor: 1, initializer_range: 0.02, torch_dtype: 'float32', transformers_version: '4.36.2', ...this.textConfig };
  }

  exportState(): { files: Record<string, Map<string, NamedArray>>; random: RandomState; optimizerSteps: number } {
    return { files: { ...this.textGroup.exportFiles('text-'), ...this.headGroup.exportFiles('head-') }, random: this.random.state(), optimizerSteps: this.textGroup.adam.stepCount };
  }

  importState(files: Record<string, Map<string, NamedArray>>, random: RandomState, optimizerSteps: number, step: number, source: string): void {
    this.textGroup.importFiles('text-', files, optimizerSteps, source);
    this.headGroup.importFiles('head-', files, optimizerSteps, source);
    this.random.restore(random);
    this.step = step;
  }

  dispose(): void {
    this.textGroup.dispose();
    this.headGroup.dispose();
    this.text.params.dispose();
    this.head.store.dispose();
  }
}
