/**
 * Starting a UNet run from a trained UNet (`diffusion train-unet --init-unet DIR`): fine-tuning, as
 * diffusers' train_text_to_image.py starts from `--pretrained_model_name_or_path`, and growing.
 *
 * The new run's UNet2DConditionModel must compute what the source computes: every config key that
 * shapes the function is the source's, except `transformer_layers_per_block`, which may be larger.
 * Each BasicTransformerBlock the source lacks then starts as the identity: its three residual
 * branches' output projections (attn1.to_out.0, attn2.to_out.0, ff.net.2) are zero and the rest keeps
 * its fresh initialisation, so at step 0 the grown UNet gives exactly the source's ε (zero-initialised
 * residual branches, as in Goyal et al. 2017 and ControlNet's zero convolutions) and training starts
 * from the source's quality with more cross-attention to spend. Everything else loads strictly through
 * loadModelWeights: a tensor missing from the source (other than a grown block's), a shape that
 * differs, or a source tensor the model has no place for is a CHECKPOINT_CORRUPT error naming it.
 */
import { DiffusionError } from '../../errors.ts';
import { type TensorInfo, type TensorSource, torchTensorsFromStore } from '../../checkpoint/tensor-source.ts';
import { type UNet2DConditionConfig, type UNet2DConditionModel, readUNetConfig } from '../../models/sd/unet-2d-condition.ts';
import { loadModelWeights, parameterMappings } from '../../models/sd/weights.ts';

/** A transformer block's tensor: the attention it belongs to, the block's index, the rest of the name. */
const TRANSFORMER_BLOCK = /^(.*\.attentions\.\d+)\.transformer_blocks\.(\d+)\.(.+)$/;
/** The residual branches' last projections of a BasicTransformerBlock. */
const RESIDUAL_OUTPUT = /^(attn1\.to_out\.0|attn2\.to_out\.0|ff\.net\.2)\.(weight|bias)$/;
/** Config keys that may differ between the source and the grown model. */
const GROWABLE = new Set(['transformer_layers_per_block', 'reverse_transformer_layers_per_block']);

/** Throws INVALID_CONFIG unless `target` is `source` with as many or more transformer layers per block. */
export function checkGrownConfig(source: UNet2DConditionConfig, target: UNet2DConditionConfig, where: string): void {
  for (const key of Object.keys(target) as Array<keyof UNet2DConditionConfig>) {
    if (GROWABLE.has(String(key))) continue;
    if (JSON.stringify(source[key]) !== JSON.stringify(target[key])) {
      throw new DiffusionError('INVALID_CONFIG', `${where}: "${key}" is ${JSON.stringify(source[key])} there and ${JSON.stringify(target[key])} in this run; only transformer_layers_per_block may grow`);
    }
  }
  const blocks = target.block_out_channels.length;
  const layers = (c: UNet2DConditionConfig): number[] => (Array.isArray(c.transformer_layers_per_block) ? c.transformer_layers_per_block : new Array<number>(blocks).fill(c.transformer_layers_per_block));
  const [from, to] = [layers(source), layers(target)];
  if (source.reverse_transformer_layers_per_block !== null || target.reverse_transformer_layers_per_block !== null) {
    if (JSON.stringify(source.reverse_transformer_layers_per_block) !== JSON.stringify(target.reverse_transformer_layers_per_block)) {
      throw new DiffusionError('INVALID_CONFIG', `${where}: reverse_transformer_layers_per_block differs from this run's`);
    }
  }
  for (let i = 0; i < blocks; i++) {
    if (to[i] < from[i]) throw new DiffusionError('INVALID_CONFIG', `${where}: block ${i} has ${from[i]} transformer layers there and ${to[i]} in this run; layers can be added, not removed`);
  }
}

/**
 * `source` seen with the tensors of the transformer blocks it lacks added from `fresh` (the new
 * model's own initialisation, in the same PyTorch layout), their residual output projections zeroed.
 * Only blocks of an attention the source has (its block 0 present) are added.
 */
export function grownTensorSource(source: TensorSource, fresh: UNet2DConditionModel): TensorSource {
  const present = new Set(source.names());
  const added = new Map<string, { shape: number[]; data: Float32Array }>();
  // Tensors are read from the fresh model only for the blocks being added.
  for (const t of torchTensorsFromStore(fresh.builder.store, parameterMappings(fresh.builder))) {
    if (present.has(t.name)) continue;
    const m = TRANSFORMER_BLOCK.exec(t.name);
    if (!m || m[2] === '0' || !present.has(`${m[1]}.transformer_blocks.0.${m[3]}`)) continue;
    const zero = RESIDUAL_OUTPUT.test(m[3]);
    added.set(t.name, { shape: t.shape, data: zero ? new Float32Array(t.shape.reduce((a, b) => a * b, 1)) : t.data() });
  }
  return {
    source: source.source,
    names: () => [...present, ...added.keys()],
    info: (name): TensorInfo | undefined => {
      const a = added.get(name);
      return a ? { dtype: 'F32', shape: a.shape } : source.info(name);
    },
    read: (name) => added.get(name)?.data.slice() ?? source.read(name),
    close: () => source.close(),
  };
}

/** The transformer blocks (attention and index) a tensor source holds. */
function transformerBlocks(names: readonly string[]): Set<string> {
  const blocks = new Set<string>();
  for (const name of names) {
    const m = TRANSFORMER_BLOCK.exec(name);
    if (m) blocks.add(`${m[1]}.transformer_blocks.${m[2]}`);
  }
  return blocks;
}

/**
 * Load a trained UNet (`config` its config.json, `source` its weights) into a run's model and EMA;
 * returns how many transformer blocks were added as the identity.
 */
export function initialiseUNetFrom(config: unknown, source: TensorSource, target: { unet: UNet2DConditionModel; ema: UNet2DConditionModel; modelConfig: UNet2DConditionConfig }): number {
  const sourceConfig = readUNetConfig(config, `${source.source} config`);
  checkGrownConfig(sourceConfig, target.modelConfig, source.source);
  const grown = grownTensorSource(source, target.unet);
  loadModelWeights(target.unet, grown);
  loadModelWeights(target.ema, grown);
  return transformerBlocks(grown.names()).size - transformerBlocks(source.names()).size;
}
