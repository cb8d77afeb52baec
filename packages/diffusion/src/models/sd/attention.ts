/**
 * Attention and the spatial transformer of Stable Diffusion's UNet — diffusers'
 * models/attention_processor.py (`Attention` with the plain AttnProcessor), models/attention.py
 * (`BasicTransformerBlock`, `FeedForward`, `GEGLU`) and models/transformers/transformer_2d.py
 * (`Transformer2DModel`, continuous input).
 *
 * Scaled dot-product attention (Vaswani et al. 2017, eq. 1): softmax(Q·Kᵀ/√d)·V per head. Q comes
 * from the image tokens; K and V from the same tokens (self-attention, attn1) or from the text
 * embeddings (cross-attention, attn2): this is where the prompt steers the picture (the article's
 * "cross-attention" layers).
 */
import type { Tensor, TensorEngine } from '../../tensor/engine.ts';
import { GroupNorm, LayerNorm, Linear, type ModuleBuilder, Conv2d } from './modules.ts';

/**
 * Above this many attention scores per call, heads are processed in slices (diffusers'
 * "attention slicing"): SD-1.5 at 512×512 has 2·8 heads × 4096² scores, 1 GiB at once.
 */
const MAX_SCORES_PER_SLICE = 1 << 27;

/**
 * In a traced graph the batch·heads dimension is symbolic, so slices run along the query rows
 * instead (exact: softmax is per row): at most this many scores per head per slice. SD-1.5 at
 * 512×512 (4096 queries and keys) gets 8 slices of 512 rows, 128 MiB of scores each at batch 2
 * with guidance, instead of 1 GiB at once.
 */
const MAX_SYMBOLIC_SCORES_PER_HEAD = 1 << 21;

/**
 * softmax(q·kᵀ·scale + mask)·v over B·h independent heads. q [BH, N, d], k and v [BH, M, d],
 * mask [N, M] (additive) or undefined. With `observe`, the attention probabilities [BH, N, M] are
 * handed to it whole (never in slices), inside the caller's tidy scope and gradient tape.
 */
export function scaledDotProductAttention(e: TensorEngine, q: Tensor, k: Tensor, v: Tensor, scale: number, mask?: Tensor, observe?: (probabilities: Tensor) => void): Tensor {
  const [bh, n] = q.shape;
  const m = k.shape[1];
  const one = (qs: Tensor, ks: Tensor, vs: Tensor, ms = mask): Tensor => {
    let scores = e.matMul(e.mulScalar(qs, scale), ks, false, true);
    if (ms) scores = e.add(scores, ms);
    const probabilities = e.softmax(scores);
    observe?.(probabilities);
    return e.matMul(probabilities, vs);
  };
  if (observe) return one(q, k, v);
  if (e.symbolic) {
    const rows = Math.max(1, Math.floor(MAX_SYMBOLIC_SCORES_PER_HEAD / m));
    if (rows >= n) return one(q, k, v);
    const parts: Tensor[] = [];
    for (let start = 0; start < n; start += rows) {
      const count = Math.min(rows, n - start);
      parts.push(one(e.slice(q, [0, start, 0], [-1, count, -1]), k, v, mask && e.slice(mask, [start, 0], [count, -1])));
    }
    return e.concat(parts, 1);
  }
  const perSlice = Math.max(1, Math.floor(MAX_SCORES_PER_SLICE / (n * m)));
  if (perSlice >= bh) return one(q, k, v);
  const parts: Tensor[] = [];
  for (let start = 0; start < bh; start += perSlice) {
    const count = Math.min(perSlice, bh - start);
    const cut = (t: Tensor) => e.slice(t, [start, 0, 0], [count, -1, -1]);
    parts.push(e.tidy(() => one(cut(q), cut(k), cut(v))));
  }
  const out = e.concat(parts, 0);
  for (const p of parts) p.dispose();
  return out;
}

/** [B, N, h·d] → [B·h, N, d]. */
export function splitHeads(e: TensorEngine, x: Tensor, heads: number): Tensor {
  const [b, n, c] = x.shape;
  const d = c / heads;
  return e.reshape(e.transpose(e.reshape(x, [b, n, heads, d]), [0, 2, 1, 3]), [b * heads, n, d]);
}

/** [B·h, N, d] → [B, N, h·d]. */
export function mergeHeads(e: TensorEngine, x: Tensor, heads: number): Tensor {
  const [bh, n, d] = x.shape;
  const b = bh / heads;
  return e.reshape(e.transpose(e.reshape(x, [b, heads, n, d]), [0, 2, 1, 3]), [b, n, heads * d]);
}

/**
 * diffusers' `Attention`: to_q, to_k, to_v (no bias by default) and to_out.0. A cross-attention
 * layer hands its probabilities to the builder's `crossAttentionProbe` when one is set (a trainer
 * that supervises the maps, train/t2i/token-grounding.ts; diffusers reaches them through an
 * attention processor).
 */
export class Attention {
  private readonly toQ: Linear;
  private readonly toK: Linear;
  private readonly toV: Linear;
  private readonly toOut: Linear;
  constructor(
    private readonly builder: ModuleBuilder,
    readonly name: string,
    queryDim: number,
    contextDim: number | null,
    private readonly heads: number,
    private readonly headDim: number,
    qkvBias = false,
  ) {
    const inner = heads * headDim;
    const b = builder;
    this.toQ = new Linear(b, `${name}.to_q`, queryDim, inner, qkvBias);
    this.toK = new Linear(b, `${name}.to_k`, contextDim ?? queryDim, inner, qkvBias);
    this.toV = new Linear(b, `${name}.to_v`, contextDim ?? queryDim, inner, qkvBias);
    this.toOut = new Linear(b, `${name}.to_out.0`, inner, queryDim);
  }
  /** x [B, N, queryDim]; context [B, M, contextDim] (cross-attention) or undefined (self-attention). */
  apply(e: TensorEngine, x: Tensor, context?: Tensor): Tensor {
    const source = context ?? x;
    const q = splitHeads(e, this.toQ.apply(e, x), this.heads);
    const k = splitHeads(e, this.toK.apply(e, source), this.heads);
    const v = splitHeads(e, this.toV.apply(e, source), this.heads);
    const probe = context ? this.builder.crossAttentionProbe : null;
    const observe = probe ? (probabilities: Tensor) => probe(probabilities, this.heads, this.name) : undefined;
    const attended = scaledDotProductAttention(e, q, k, v, 1 / Math.sqrt(this.headDim), undefined, observe);
    return this.toOut.apply(e, mergeHeads(e, attended, this.heads));
  }
}

/** diffusers' FeedForward with GEGLU (Shazeer 2020): (x·W₁ ⊙ GELU(x·W₂))·W₃, W₁ and W₂ stored as one proj. */
export class FeedForward {
  private readonly proj: Linear;
  private readonly out: Linear;
  constructor(
    b: ModuleBuilder,
    name: string,
    dim: number,
    private readonly inner = 4 * dim,
  ) {
    this.proj = new Linear(b, `${name}.net.0.proj`, dim, 2 * inner);
    this.out = new Linear(b, `${name}.net.2`, inner, dim);
  }
  apply(e: TensorEngine, x: Tensor): Tensor {
    const projected = this.proj.apply(e, x);
    const rank = projected.shape.length;
    const begin = new Array<number>(rank).fill(0);
    const size = new Array<number>(rank).fill(-1);
    size[rank - 1] = this.inner;
    const hidden = e.slice(projected, begin, size);
    begin[rank - 1] = this.inner;
    const gate = e.slice(projected, begin, size);
    return this.out.apply(e, e.mul(hidden, e.gelu(gate)));
  }
}

/** diffusers' BasicTransformerBlock (layer_norm): x + attn1(norm1 x); + attn2(norm2 x, text); + ff(norm3 x). */
export class BasicTransformerBlock {
  private readonly norm1: LayerNorm;
  private readonly attn1: Attention;
  private readonly norm2: LayerNorm;
  private readonly attn2: Attention;
  private readonly norm3: LayerNorm;
  private readonly ff: FeedForward;
  constructor(b: ModuleBuilder, name: string, dim: number, heads: number, headDim: number, contextDim: number) {
    this.norm1 = new LayerNorm(b, `${name}.norm1`, dim, 1e-5);
    this.attn1 = new Attention(b, `${name}.attn1`, dim, null, heads, headDim);
    this.norm2 = new LayerNorm(b, `${name}.norm2`, dim, 1e-5);
    this.attn2 = new Attention(b, `${name}.attn2`, dim, contextDim, heads, headDim);
    this.norm3 = new LayerNorm(b, `${name}.norm3`, dim, 1e-5);
    this.ff = new FeedForward(b, `${name}.ff`, dim);
  }
  apply(e: TensorEngine, x: Tensor, context: Tensor): Tensor {
    let h = e.add(this.attn1.apply(e, this.norm1.apply(e, x)), x);
    h = e.add(this.attn2.apply(e, this.norm2.apply(e, h), context), h);
    return e.add(this.ff.apply(e, this.norm3.apply(e, h)), h);
  }
}

export interface Transformer2DOptions {
  heads: number;
  headDim: number;
  layers: number;
  contextDim: number;
  groups: number;
  /** Linear proj_in/proj_out (SD-2.x) instead of 1×1 convolutions (SD-1.x). */
  linearProjection: boolean;
}

/**
 * diffusers' Transformer2DModel on a feature map: GroupNorm → proj_in → transformer blocks over the
 * H·W tokens → proj_out, plus the input (a residual around the whole).
 */
export class Transformer2DModel {
  private readonly norm: GroupNorm;
  private readonly projIn: Linear | Conv2d;
  private readonly blocks: BasicTransformerBlock[] = [];
  private readonly projOut: Linear | Conv2d;
  private readonly inner: number;
  constructor(
    b: ModuleBuilder,
    name: string,
    channels: number,
    private readonly options: Transformer2DOptions,
  ) {
    this.inner = options.heads * options.headDim;
    // The GroupNorm of the spatial transformer uses ε = 1e-6 whatever the UNet's norm_eps.
    this.norm = new GroupNorm(b, `${name}.norm`, options.groups, channels, 1e-6);
    this.projIn = options.linearProjection ? new Linear(b, `${name}.proj_in`, channels, this.inner) : new Conv2d(b, `${name}.proj_in`, channels, this.inner, 1);
    for (let i = 0; i < options.layers; i++) {
      this.blocks.push(new BasicTransformerBlock(b, `${name}.transformer_blocks.${i}`, this.inner, options.heads, options.headDim, options.contextDim));
    }
    this.projOut = options.linearProjection ? new Linear(b, `${name}.proj_out`, this.inner, channels) : new Conv2d(b, `${name}.proj_out`, this.inner, channels, 1);
  }
  /** x NHWC [B, H, W, C]; context [B, M, contextDim]. */
  apply(e: TensorEngine, x: Tensor, context: Tensor): Tensor {
    const [n, h, w, c] = x.shape;
    let hidden = this.norm.apply(e, x);
    // NHWC makes the token sequence a plain reshape: [B, H·W, C] (diffusers permutes NCHW for this).
    if (this.options.linearProjection) hidden = this.projIn.apply(e, e.reshape(hidden, [n, h * w, c]));
    else hidden = e.reshape(this.projIn.apply(e, hidden), [n, h * w, this.inner]);
    for (const block of this.blocks) hidden = block.apply(e, hidden, context);
    if (this.options.linearProjection) hidden = e.reshape(this.projOut.apply(e, hidden), [n, h, w, c]);
    else hidden = this.projOut.apply(e, e.reshape(hidden, [n, h, w, this.inner]));
    return e.add(hidden, x);
  }
}
