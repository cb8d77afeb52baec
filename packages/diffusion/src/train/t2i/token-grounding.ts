/**
 * Token grounding for the text-to-image UNet (issue 15): a loss on the cross-attention maps that
 * makes each object's colour and shape words attend to that object's pixels — TokenCompose's token
 * loss (Wang et al. 2024, "TokenCompose: Text-to-Image Diffusion with Token-level Supervision"),
 * with the masks Shapes gives for free:
 *
 *   A_k(u) = mean over heads of softmax(Q·Kᵀ/√d)[u, token k]    (summed over the word's tokens)
 *   L = mean over cross-attention layers of  Σ_k w_k·(1 − Σ_u A_k(u)·M_k(u) / Σ_u A_k(u))² / Σ_k w_k
 *
 * M_k is the object's 32×32 pixel mask averaged down to the layer's H×W grid (a soft mask), and
 * w_k is 1 for a word the caption has (an empty, dropped caption has none). The point: the shipped
 * UNet binds the colour–shape pairs it saw through the caption's summary positions (the model
 * README's probes), so in a two-object scene a held-out pair is drawn as a seen one; grounding each
 * word in its own object's region is the binding the ε-loss alone does not ask for. No upstream
 * counterpart in diffusers (TokenCompose's own training code is where the loss comes from).
 *
 * The token loss is normalised per word (where does the word look), so at one object's pixels the
 * other object's words may still outweigh its own. The binding loss asks it per pixel, in
 * two-object scenes: with R_j(u) and W_j(u) the attention (mean over heads) a cell u gives to object
 * j's own colour and shape words and to the other object's,
 *
 *   L_bind = mean over layers and objects j of  Σ_u M_j(u)·W_j(u) / (R_j(u) + W_j(u)) / Σ_u M_j(u)
 *
 * the share of the object words' attention at j's pixels that reads the other object (0.5 when
 * indifferent, 0 when bound). Our own term, in the spirit of attribute-binding losses on
 * cross-attention (Attend-and-Excite, Chefer et al. 2023, does it at sampling time).
 *
 * Browser-safe (no Node imports).
 */
import { COLOUR_NAMES, SHAPE_NAMES, SHAPES_IMAGE_SIZE, shapeCovers, type ShapesScene } from '../../data/shapes.ts';
import { DiffusionError } from '../../errors.ts';
import type { Tensor, TensorEngine } from '../../tensor/engine.ts';
import type { Tokenizer } from '../../text/tokenizer.ts';

/** Supervised words per caption: each object's colour and shape word, objects in caption order. */
export const GROUNDING_SLOTS = 4;

/** One supervised word: its token positions in the padded row and the object (index into scene.objects) it names. */
export interface GroundedWord {
  word: string;
  positions: number[];
  object: number;
}

/**
 * The colour and shape words of a Shapes caption with their token positions (bos at 0) and the
 * object each names: the k-th colour word and the k-th shape word name scene.objects[k] (the
 * grammar's order, size words or not). Throws INVALID_ARGUMENT when the caption does not fit its
 * scene or the tokenizer joins words across a space (positions would then be ambiguous).
 */
export function groundedWords(caption: string, scene: ShapesScene, tokenizer: Tokenizer): GroundedWord[] {
  if (caption === '') return [];
  const words = caption.split(' ');
  const out: GroundedWord[] = [];
  const seen = { colour: 0, shape: 0 };
  let position = 1;
  for (const word of words) {
    const ids = tokenizer.encode(word, { addSpecialTokens: false });
    const kind = (COLOUR_NAMES as readonly string[]).includes(word) ? 'colour' : (SHAPE_NAMES as readonly string[]).includes(word) ? 'shape' : null;
    if (kind !== null) {
      const object = seen[kind]++;
      const named = scene.objects[object];
      if (named === undefined || named[kind] !== word) throw new DiffusionError('INVALID_ARGUMENT', `grounding: caption "${caption}" names ${kind} "${word}" where its scene has ${named === undefined ? 'no such object' : `"${named[kind]}"`}`);
      out.push({ word, positions: ids.map((_, i) => position + i), object });
    }
    position += ids.length;
  }
  const whole = tokenizer.encode(caption).length;
  if (whole !== position + 1) throw new DiffusionError('INVALID_ARGUMENT', `grounding: the tokenizer gives "${caption}" ${whole} tokens, not the ${position + 1} of its words one by one`);
  if (position >= tokenizer.modelMaxLength) throw new DiffusionError('INVALID_ARGUMENT', `grounding: caption "${caption}" is longer than the text encoder's ${tokenizer.modelMaxLength} tokens`);
  if (seen.colour !== scene.objects.length || seen.shape !== scene.objects.length) throw new DiffusionError('INVALID_ARGUMENT', `grounding: caption "${caption}" does not name the colour and shape of each of its ${scene.objects.length} objects`);
  return out;
}

/** An object's filled pixels, 1 or 0, [32 × 32] row-major. */
export function objectMask(scene: ShapesScene, object: number): Float32Array {
  const o = scene.objects[object];
  const mask = new Float32Array(SHAPES_IMAGE_SIZE * SHAPES_IMAGE_SIZE);
  const [x0, y0] = o.bbox;
  for (let dy = 0; dy < o.side; dy++) {
    for (let dx = 0; dx < o.side; dx++) if (shapeCovers(o.shape, o.side, dx, dy)) mask[(y0 + dy) * SHAPES_IMAGE_SIZE + x0 + dx] = 1;
  }
  return mask;
}

/** `mask` [32 × 32] averaged over (32/side)² blocks → [side × side] (the share of each cell the object covers). */
export function poolMask(mask: Float32Array, side: number): Float32Array {
  const factor = SHAPES_IMAGE_SIZE / side;
  if (!Number.isInteger(factor) || factor < 1) throw new DiffusionError('SHAPE_MISMATCH', `grounding: a ${side}×${side} attention map does not divide the ${SHAPES_IMAGE_SIZE}×${SHAPES_IMAGE_SIZE} image`);
  const out = new Float32Array(side * side);
  for (let y = 0; y < SHAPES_IMAGE_SIZE; y++) {
    for (let x = 0; x < SHAPES_IMAGE_SIZE; x++) out[Math.floor(y / factor) * side + Math.floor(x / factor)] += mask[y * SHAPES_IMAGE_SIZE + x];
  }
  const area = factor * factor;
  for (let i = 0; i < out.length; i++) out[i] /= area;
  return out;
}

/**
 * What a batch's grounding loss needs, on the host: per caption, up to GROUNDING_SLOTS words with
 * their token positions and their object's pixel mask. Tensors are made per step by `groundingLoss`.
 */
export class GroundingBatch {
  /** [B, tokens, K] one-hot of each slot's token positions (an unused slot points at bos, weight 0). */
  readonly selection: Float32Array;
  /** [B, K]: 1 for a used slot. */
  readonly weights: Float32Array;
  /** [B, 2]: 1 for each object of a caption that names two (the binding loss's objects). */
  readonly pairWeights: Float32Array;
  /** Per sample and slot, the object's 32×32 mask (null: unused). */
  private readonly masks: Array<Float32Array | null>;
  private readonly pooled = new Map<number, Float32Array>();

  constructor(
    readonly count: number,
    readonly tokens: number,
    captions: readonly string[],
    scenes: readonly ShapesScene[],
    tokenizer: Tokenizer,
  ) {
    if (captions.length !== count || scenes.length !== count) throw new DiffusionError('SHAPE_MISMATCH', `grounding: ${captions.length} captions and ${scenes.length} scenes for a batch of ${count}`);
    const K = GROUNDING_SLOTS;
    this.selection = new Float32Array(count * tokens * K);
    this.weights = new Float32Array(count * K);
    this.masks = new Array<Float32Array | null>(count * K).fill(null);
    this.pairWeights = new Float32Array(count * 2);
    for (let i = 0; i < count; i++) {
      const words = groundedWords(captions[i], scenes[i], tokenizer);
      // groundedWords gives the words in caption order: slots 0, 1 name object 0, slots 2, 3 object 1.
      if (words.length === K) this.pairWeights.fill(1, i * 2, i * 2 + 2);
      const objectMasks = scenes[i].objects.map((_, j) => (words.some((w) => w.object === j) ? objectMask(scenes[i], j) : null));
      for (let k = 0; k < K; k++) {
        const w = words[k];
        if (w === undefined) {
          this.selection[(i * tokens + 0) * K + k] = 1;
          continue;
        }
        for (const p of w.positions) this.selection[(i * tokens + p) * K + k] = 1;
        this.weights[i * K + k] = 1;
        this.masks[i * K + k] = objectMasks[w.object];
      }
    }
  }

  /** Used slots in the batch. */
  get slotsUsed(): number {
    return this.weights.reduce((a, b) => a + b, 0);
  }

  /** Objects the binding loss counts in the batch (two per two-object caption). */
  get pairObjectsUsed(): number {
    return this.pairWeights.reduce((a, b) => a + b, 0);
  }

  /** [B, side·side, K] masks on a side×side grid (cached per side). */
  masksAt(side: number): Float32Array {
    let out = this.pooled.get(side);
    if (out !== undefined) return out;
    const K = GROUNDING_SLOTS;
    const cells = side * side;
    out = new Float32Array(this.count * cells * K);
    for (let i = 0; i < this.count; i++) {
      for (let k = 0; k < K; k++) {
        const mask = this.masks[i * K + k];
        if (mask === null) continue;
        const small = poolMask(mask, side);
        for (let u = 0; u < cells; u++) out[(i * cells + u) * K + k] = small[u];
      }
    }
    this.pooled.set(side, out);
    return out;
  }
}

/** A cross-attention layer's probabilities as the probe hands them over. */
export interface AttentionRecord {
  probabilities: Tensor;
  heads: number;
}

/** Which slots name object j ([K, 2]: 1 where slot k's word names object j) and which name the other. */
const OWN_WORDS = Float32Array.from({ length: GROUNDING_SLOTS * 2 }, (_, at) => (Math.floor(Math.floor(at / 2) / 2) === at % 2 ? 1 : 0));
const OTHER_WORDS = Float32Array.from(OWN_WORDS, (v) => 1 - v);
/** Picks object j's mask from the slot masks ([K, 2]: slot 2j, the object's colour word). */
const OBJECT_SLOT = Float32Array.from({ length: GROUNDING_SLOTS * 2 }, (_, at) => (Math.floor(at / 2) === 2 * (at % 2) ? 1 : 0));

/**
 * Each layer's attention per grounded word, mean over heads: [B, cells, K] with the layer's grid
 * side and its slot masks [B, cells, K]. Layers whose query grid is not square are refused.
 */
interface WordAttention {
  perWord: Tensor;
  mask: Tensor;
  side: number;
}

function wordAttention(e: TensorEngine, records: readonly AttentionRecord[], batch: GroundingBatch): WordAttention[] {
  if (records.length === 0) throw new DiffusionError('INVALID_ARGUMENT', 'grounding: the UNet has no cross-attention layer to supervise');
  const selection = e.tensor(batch.selection, [batch.count, batch.tokens, GROUNDING_SLOTS]);
  const masks = new Map<number, Tensor>();
  return records.map(({ probabilities, heads }) => {
    const [bh, cells, tokens] = probabilities.shape;
    const side = Math.round(Math.sqrt(cells));
    if (side * side !== cells || bh !== batch.count * heads || tokens !== batch.tokens) {
      throw new DiffusionError('SHAPE_MISMATCH', `grounding: attention probabilities [${probabilities.shape}] do not fit a batch of ${batch.count} × ${heads} heads × ${batch.tokens} tokens on a square grid`);
    }
    let mask = masks.get(side);
    if (mask === undefined) {
      mask = e.tensor(batch.masksAt(side), [batch.count, cells, GROUNDING_SLOTS]);
      masks.set(side, mask);
    }
    const perWord = e.matMul(e.mean(e.reshape(probabilities, [batch.count, heads, cells, tokens]), [1]), selection);
    return { perWord, mask, side };
  });
}

/** The token loss (see the file comment) over the recorded layers, a scalar tensor; differentiable through the probabilities. */
export function groundingLoss(e: TensorEngine, records: readonly AttentionRecord[], batch: GroundingBatch): Tensor {
  return tokenTerm(e, wordAttention(e, records, batch), batch);
}

/**
 * The binding loss (see the file comment) over the recorded layers, a scalar tensor;
 * differentiable through the probabilities. A batch without two-object captions gives 0.
 */
export function bindingLoss(e: TensorEngine, records: readonly AttentionRecord[], batch: GroundingBatch): Tensor {
  return bindingTerm(e, wordAttention(e, records, batch), batch);
}

/** Both losses from one reading of the layers' word attention (what a training step needs). */
export function attentionLosses(e: TensorEngine, records: readonly AttentionRecord[], batch: GroundingBatch): { grounding: Tensor; binding: Tensor } {
  const layers = wordAttention(e, records, batch);
  return { grounding: tokenTerm(e, layers, batch), binding: bindingTerm(e, layers, batch) };
}

function tokenTerm(e: TensorEngine, layers: readonly WordAttention[], batch: GroundingBatch): Tensor {
  const used = Math.max(1, batch.slotsUsed);
  const weights = e.tensor(batch.weights, [batch.count, GROUNDING_SLOTS]);
  let total: Tensor | null = null;
  for (const { perWord, mask } of layers) {
    const inside = e.sum(e.mul(perWord, mask), [1]);
    const all = e.addScalar(e.sum(perWord, [1]), 1e-12);
    const miss = e.square(e.addScalar(e.mulScalar(e.div(inside, all), -1), 1));
    const layer = e.mulScalar(e.sum(e.mul(miss, weights)), 1 / used);
    total = total === null ? layer : e.add(total, layer);
  }
  return e.mulScalar(total as Tensor, 1 / layers.length);
}

function bindingTerm(e: TensorEngine, layers: readonly WordAttention[], batch: GroundingBatch): Tensor {
  const used = Math.max(1, batch.pairObjectsUsed);
  const own = e.tensor(OWN_WORDS, [GROUNDING_SLOTS, 2]);
  const other = e.tensor(OTHER_WORDS, [GROUNDING_SLOTS, 2]);
  const pick = e.tensor(OBJECT_SLOT, [GROUNDING_SLOTS, 2]);
  const weights = e.tensor(batch.pairWeights, [batch.count, 2]);
  let total: Tensor | null = null;
  for (const { perWord, mask, side } of layers) {
    // [B, cells, K] × [K, 2] as one [B·cells, K] product.
    const toObjects = (t: Tensor, m: Tensor): Tensor => e.reshape(e.matMul(e.reshape(t, [batch.count * side * side, GROUNDING_SLOTS]), m), [batch.count, side * side, 2]);
    const right = toObjects(perWord, own);
    const wrong = toObjects(perWord, other);
    const objectMask = toObjects(mask, pick);
    const share = e.div(wrong, e.addScalar(e.add(right, wrong), 1e-12));
    const perObject = e.div(e.sum(e.mul(share, objectMask), [1]), e.addScalar(e.sum(objectMask, [1]), 1e-12));
    const layer = e.mulScalar(e.sum(e.mul(perObject, weights)), 1 / used);
    total = total === null ? layer : e.add(total, layer);
  }
  return e.mulScalar(total as Tensor, 1 / layers.length);
}
