/**
 * CLIPTextModel — transformers' models/clip/modeling_clip.py (`CLIPTextTransformer`): the text
 * encoder of Stable Diffusion (Radford et al. 2021; SD-1.x uses OpenAI's ViT-L/14 text tower).
 *
 *   ids → token embedding + position embedding
 *       → N × [x + attn(LN₁ x) with a causal mask; x + MLP(LN₂ x)]   (pre-LayerNorm transformer)
 *       → final LayerNorm = last_hidden_state  [B, L, hidden]
 *
 * The UNet cross-attends to last_hidden_state. "Clip skip" k takes the output of layer N − k instead
 * and still applies the final LayerNorm (what diffusers' `clip_skip` does). The pooled output is the
 * final state at the end-of-text token, the sentence embedding CLIP's contrastive loss uses.
 */
import { DiffusionError } from '../../errors.ts';
import type { Random } from '../../rng.ts';
import type { Tensor, TensorEngine } from '../../tensor/engine.ts';
import { ParameterStore } from '../parameters.ts';
import { mergeHeads, scaledDotProductAttention, splitHeads } from './attention.ts';
import { type ConfigSpec, oneOf, positiveInt, positiveNumber, readConfig } from './config.ts';
import { Embedding, LayerNorm, Linear, ModuleBuilder, type ModelInitOptions } from './modules.ts';

export interface ClipTextConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  projection_dim: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  layer_norm_eps: number;
  hidden_act: 'quick_gelu' | 'gelu';
  bos_token_id: number;
  eos_token_id: number;
  pad_token_id: number;
  [key: string]: unknown;
}

const CLIP_SPEC: ConfigSpec = {
  vocab_size: positiveInt(49408),
  hidden_size: positiveInt(512),
  intermediate_size: positiveInt(2048),
  projection_dim: positiveInt(512),
  num_hidden_layers: positiveInt(12),
  num_attention_heads: positiveInt(8),
  max_position_embeddings: positiveInt(77),
  layer_norm_eps: positiveNumber(1e-5),
  hidden_act: oneOf('quick_gelu', ['quick_gelu', 'gelu']),
  bos_token_id: { default: 49406, check: Number.isSafeInteger, expect: 'an integer' },
  eos_token_id: { default: 49407, check: Number.isSafeInteger, expect: 'an integer' },
  pad_token_id: { default: 1, check: Number.isSafeInteger, expect: 'an integer' },
  model_type: oneOf('clip_text_model', ['clip_text_model']),
};

/**
 * transformers configs carry the generic PretrainedConfig fields (generation settings, label maps,
 * torch_dtype…) that do not change the encoder: those are read past. Everything the encoder uses is
 * checked.
 */
export function readClipTextConfig(json: unknown, what = 'text_encoder config'): ClipTextConfig {
  const known = Object.keys(json !== null && typeof json === 'object' ? json : {}).filter((k) => !(k in CLIP_SPEC));
  const c = readConfig(what, json, CLIP_SPEC, known) as ClipTextConfig;
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new DiffusionError('INVALID_CONFIG', `${what}: hidden_size ${c.hidden_size} is not divisible into ${c.num_attention_heads} heads`);
  }
  return c;
}

/** The most negative float32: what transformers adds above the diagonal (softmax gives those 0). */
const MASKED = -3.4028234663852886e38;

class ClipEncoderLayer {
  private readonly norm1: LayerNorm;
  private readonly q: Linear;
  private readonly k: Linear;
  private readonly v: Linear;
  private readonly out: Linear;
  private readonly norm2: LayerNorm;
  private readonly fc1: Linear;
  private readonly fc2: Linear;
  constructor(
    b: ModuleBuilder,
    name: string,
    private readonly c: ClipTextConfig,
  ) {
    const d = c.hidden_size;
    this.norm1 = new LayerNorm(b, `${name}.layer_norm1`, d, c.layer_norm_eps);
    this.k = new Linear(b, `${name}.self_attn.k_proj`, d, d);
    this.v = new Linear(b, `${name}.self_attn.v_proj`, d, d);
    this.q = new Linear(b, `${name}.self_attn.q_proj`, d, d);
    this.out = new Linear(b, `${name}.self_attn.out_proj`, d, d);
    this.norm2 = new LayerNorm(b, `${name}.layer_norm2`, d, c.layer_norm_eps);
    this.fc1 = new Linear(b, `${name}.mlp.fc1`, d, c.intermediate_size);
    this.fc2 = new Linear(b, `${name}.mlp.fc2`, c.intermediate_size, d);
  }
  apply(e: TensorEngine, x: Tensor, causalMask: Tensor): Tensor {
    const heads = this.c.num_attention_heads;
    const h = this.norm1.apply(e, x);
    const attended = scaledDotProductAttention(
      e,
      splitHeads(e, this.q.apply(e, h), heads),
      splitHeads(e, this.k.apply(e, h), heads),
      splitHeads(e, this.v.apply(e, h), heads),
      1 / Math.sqrt(this.c.hidden_size / heads),
      causalMask,
    );
    const x1 = e.add(x, this.out.apply(e, mergeHeads(e, attended, heads)));
    const m = this.fc1.apply(e, this.norm2.apply(e, x1));
    // quick_gelu (OpenAI CLIP): x·σ(1.702·x); gelu: the exact erf form.
    const activated = this.c.hidden_act === 'quick_gelu' ? e.mul(m, e.sigmoid(e.mulScalar(m, 1.702))) : e.gelu(m);
    return e.add(x1, this.fc2.apply(e, activated));
  }
}

export interface ClipTextOutput {
  /** [B, L, hidden]: the final LayerNorm of the chosen layer's output. */
  hiddenState: Tensor;
  /** [B, hidden]: last_hidden_state at each sequence's end-of-text token. */
  pooled: Tensor;
}

/** The token embedding table's parameter name (transformers' layout): the host lookup of the ONNX route reads it. */
export const CLIP_TOKEN_TABLE = 'text_model.embeddings.token_embedding.weight';

export class ClipTextModel {
  readonly builder: ModuleBuilder;
  private readonly tokenEmbedding: Embedding;
  private readonly positionEmbedding: Embedding;
  private readonly layers: ClipEncoderLayer[] = [];
  private readonly finalNorm: LayerNorm;
  constructor(
    engine: TensorEngine,
    random: Random,
    readonly config: ClipTextConfig,
    init: ModelInitOptions = {},
  ) {
    this.builder = new ModuleBuilder(new ParameterStore(engine, random), init);
    const b = this.builder;
    this.tokenEmbedding = new Embedding(b, 'text_model.embeddings.token_embedding', config.vocab_size, config.hidden_size);
    this.positionEmbedding = new Embedding(b, 'text_model.embeddings.position_embedding', config.max_position_embeddings, config.hidden_size);
    for (let i = 0; i < config.num_hidden_layers; i++) this.layers.push(new ClipEncoderLayer(b, `text_model.encoder.layers.${i}`, config));
    this.finalNorm = new LayerNorm(b, 'text_model.final_layer_norm', config.hidden_size, config.layer_norm_eps);
  }

  get params(): ParameterStore {
    return this.builder.store;
  }

  /**
   * `ids`: one row per prompt, all of one length L ≤ max_position_embeddings (the tokenizer pads).
   * `clipSkip` k ≥ 0 skips the last k layers.
   */
  forward(e: TensorEngine, ids: readonly Int32Array[], clipSkip = 0): ClipTextOutput {
    const c = this.config;
    const batch = ids.length;
    const length = ids[0]?.length ?? 0;
    if (batch === 0 || length === 0) throw new DiffusionError('INVALID_ARGUMENT', 'text encoder: no token ids');
    if (length > c.max_position_embeddings) throw new DiffusionError('SHAPE_MISMATCH', `text encoder: ${length} tokens, at most ${c.max_position_embeddings}`);
    if (!Number.isInteger(clipSkip) || clipSkip < 0 || clipSkip > c.num_hidden_layers) {
      throw new DiffusionError('INVALID_ARGUMENT', `text encoder: clip skip must be an integer in 0..${c.num_hidden_layers}, got ${clipSkip}`);
    }
    const flat = new Int32Array(batch * length);
    ids.forEach((row, b) => {
      if (row.length !== length) throw new DiffusionError('SHAPE_MISMATCH', `text encoder: prompt ${b} has ${row.length} tokens, prompt 0 has ${length}`);
      for (let i = 0; i < length; i++) {
        if (!(row[i] >= 0 && row[i] < c.vocab_size)) throw new DiffusionError('INVALID_ARGUMENT', `text encoder: token id ${row[i]} (prompt ${b}, position ${i}) outside the vocabulary of ${c.vocab_size}`);
      }
      flat.set(row, b * length);
    });
    const tokens = e.reshape(this.tokenEmbedding.apply(e, flat), [batch, length, c.hidden_size]);
    const { x, causalMask, hiddenState } = this.encode(e, tokens, clipSkip);

    // The end-of-text position: the first eos_token_id, or (legacy configs with eos_token_id 2) the
    // largest id, which in CLIP's vocabulary is <|endoftext|> (transformers' two rules).
    const eosAt = new Int32Array(batch);
    ids.forEach((row, b) => {
      let at = -1;
      if (c.eos_token_id === 2) {
        let best = -Infinity;
        row.forEach((id, i) => {
          if (id > best) [best, at] = [id, i];
        });
      } else at = row.indexOf(c.eos_token_id);
      eosAt[b] = b * length + (at < 0 ? length - 1 : at);
    });
    const final = clipSkip === 0 ? hiddenState : this.finalNorm.apply(e, this.runRest(e, x, causalMask, clipSkip));
    const pooled = e.gather(e.reshape(final, [batch * length, c.hidden_size]), eosAt);
    return { hiddenState, pooled };
  }

  /**
   * The hidden state from token embeddings [B, L, hidden] (rows of text_model.embeddings.
   * token_embedding): what the ONNX export traces, the lookup being done on the host.
   */
  hiddenStateFromTokenEmbeddings(e: TensorEngine, tokens: Tensor, clipSkip = 0): Tensor {
    return this.encode(e, tokens, clipSkip).hiddenState;
  }

  /** The token embedding table [vocab, hidden] (host lookups for the ONNX route). */
  get tokenEmbeddingTable(): Tensor {
    return this.builder.store.get(CLIP_TOKEN_TABLE);
  }

  /** Positions, the causal mask, the first N − clipSkip layers and the final LayerNorm. */
  private encode(e: TensorEngine, tokens: Tensor, clipSkip: number): { x: Tensor; causalMask: Tensor; hiddenState: Tensor } {
    const length = tokens.shape[1];
    const positions = Int32Array.from({ length }, (_, i) => i);
    let x = e.add(tokens, this.positionEmbedding.apply(e, positions));
    const mask = new Float32Array(length * length);
    for (let i = 0; i < length; i++) for (let j = i + 1; j < length; j++) mask[i * length + j] = MASKED;
    const causalMask = e.tensor(mask, [length, length]);
    for (let i = 0; i < this.config.num_hidden_layers - clipSkip; i++) x = this.layers[i].apply(e, x, causalMask);
    return { x, causalMask, hiddenState: this.finalNorm.apply(e, x) };
  }

  /** The layers a clip skip left out (the pooled output always comes from the last layer). */
  private runRest(e: TensorEngine, x: Tensor, causalMask: Tensor, clipSkip: number): Tensor {
    let h = x;
    for (let i = this.config.num_hidden_layers - clipSkip; i < this.config.num_hidden_layers; i++) h = this.layers[i].apply(e, h, causalMask);
    return h;
  }
}
