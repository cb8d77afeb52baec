import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Command } from 'commander';
import { PNG } from 'pngjs';
import { initBackend } from '../src/backend-node.ts';
import { openSafetensorsFile, writeSafetensorsFile } from '../src/checkpoint/safetensors-file.ts';
import { type CaptionRecord, openCaptionDataset, splitPath, writeCaptionDataset } from '../src/data/caption-dataset.ts';
import { FASHION_MNIST_CLASSES, fashionCaption } from '../src/data/fashion-mnist.ts';
import { shapesSample } from '../src/data/shapes.ts';
import { trainFashionClassifier } from '../src/node/fashion-classifier.ts';
import { loadStableDiffusion } from '../src/pipelines/load-node.ts';
import { StableDiffusionPipeline } from '../src/pipelines/stable-diffusion.ts';
import { Random } from '../src/rng.ts';
import { latentSchedulerFromDiffusers } from '../src/schedulers/sampling-run.ts';
import type { TensorEngine } from '../src/tensor/engine.ts';
import { ClipTokenizer } from '../src/text/clip-tokenizer.ts';
import { loadClipTokenizer } from '../src/text/clip-tokenizer-node.ts';
import { learnBpe } from '../src/train/t2i/bpe.ts';
import { ClipTrainer, DEFAULT_CLIP_OPTIONS, contrastiveTargets } from '../src/train/t2i/clip-trainer.ts';
import { type StageTrainer, normaliseStageConfig } from '../src/train/t2i/common.ts';
import { bindingSwaps, hardNegatives, relationSwap } from '../src/train/t2i/hard-negatives.ts';
import { isHeldOutPair, parsePrompt, randomPrompt, promptText } from '../src/data/shapes.ts';
import { checkGrownConfig, initialiseUNetFrom } from '../src/train/t2i/unet-init.ts';
import { DEFAULT_UNET_OPTIONS, SHAPES_SCHEDULER_CONFIG, UNetTrainer } from '../src/train/t2i/unet-trainer.ts';
import { torchStateDict } from '../src/models/sd/weights.ts';
import { DEFAULT_VAE_OPTIONS, VaeTrainer } from '../src/train/t2i/vae-trainer.ts';
import { readStageState, runStage } from '../src/node/t2i-stage-run.ts';
import {
  loadTextEncoderFolder,
  loadVaeFolder,
  registerTextToImageTrainingCommands,
  writePipelineFolder,
  writeTextEncoderFolder,
  writeTokenizerFolder,
  writeVaeFolder,
} from '../src/node/t2i-train-cli.ts';
import { maxAbsDiff } from './helpers.ts';

/** Tiny configs: seconds, not minutes, on two cores. */
const TINY_VAE = { ...DEFAULT_VAE_OPTIONS, model: { ...DEFAULT_VAE_OPTIONS.model, block_out_channels: [4, 4, 8], norm_num_groups: 2 }, evalImages: 8 };
const TINY_CLIP = {
  ...DEFAULT_CLIP_OPTIONS,
  text: { hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 16, hidden_act: 'quick_gelu', projection_dim: 8 },
  visionChannels: [4, 4, 8, 8],
  projectionDim: 8,
  evalPairs: 8,
};
const TINY_UNET = {
  ...DEFAULT_UNET_OPTIONS,
  model: { ...DEFAULT_UNET_OPTIONS.model, block_out_channels: [8, 8], cross_attention_dim: 8, attention_head_dim: 2, norm_num_groups: 4 },
  evalImages: 4,
};
const TRAIN = { batchSize: 4, learningRate: 3e-3, warmupSteps: 0, emaDecay: 0.9, seed: 3, dataSeed: 5 };

let e: TensorEngine;
let dir: string;
before(async () => {
  e = await initBackend('auto');
  dir = mkdtempSync(join(tmpdir(), 't2i-train-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function tokenizerFolder(): string {
  const out = join(dir, 'tok');
  return writeTokenizerFolder(out, 'bpe', 5);
}

/** Mean loss of the first and last `k` of `n` steps. */
function lossTrend(trainer: StageTrainer, n: number, k = 2): { first: number; last: number } {
  const losses: number[] = [];
  for (let i = 0; i < n; i++) losses.push(trainer.trainStep().loss);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { first: mean(losses.slice(0, k)), last: mean(losses.slice(-k)) };
}

function stateBytes(out: string, name: string): Buffer {
  return readFileSync(join(out, 'state', `${name}.safetensors`));
}

/**
 * process.stdout.write that drops the command's text (its JSON report) and passes the test
 * runner's own messages (Buffers, written while the command awaits) through to `write`.
 */
function quietText(write: typeof process.stdout.write): typeof process.stdout.write {
  return ((chunk: string | Uint8Array, ...rest: unknown[]) => (typeof chunk === 'string' ? true : (write as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest))) as typeof process.stdout.write;
}

/** Runs `steps` straight and as two sessions (split after `split`) and checks the state files are identical. */
async function checkResume(make: () => StageTrainer, steps: number, split: number, files: string[], tag: string): Promise<void> {
  const straight = join(dir, `${tag}-straight`);
  const parts = join(dir, `${tag}-parts`);
  const opts = { stageOptions: {}, saveEvery: 1000, evalEvery: 0, progress: false, publish: () => {}, log: () => {} };
  let t = make();
  await runStage(t, { ...opts, out: straight, resumeFrom: null });
  t.dispose();
  t = make();
  const first = await runStage(t, { ...opts, out: parts, resumeFrom: null, maxSteps: split });
  t.dispose();
  assert.equal(first.finished, false);
  assert.equal(readStageState(parts, t.stage).step, split);
  t = make();
  const second = await runStage(t, { ...opts, out: parts, resumeFrom: readStageState(parts, t.stage) });
  t.dispose();
  assert.equal(second.step, steps);
  for (const name of files) assert.ok(stateBytes(straight, name).equals(stateBytes(parts, name)), `${tag}: ${name} differs after resume`);
  const log = (out: string): string[] =>
    readFileSync(join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; loss?: number })
      .filter((l) => l.loss !== undefined)
      .map((l) => `${l.step}:${l.loss}`);
  assert.deepEqual(log(parts), log(straight), `${tag}: loss logs differ`);
}

describe('engine gradients the trainers rely on', () => {
  test("upsampleNearest's gradient is the sum over each f×f block (tfjs's own resize gradient was wrong)", () => {
    const x = e.variable(e.tensor(Float32Array.from({ length: 2 * 3 * 3 * 2 }, (_, i) => Math.sin(i)), [2, 3, 3, 2]), 'x', true);
    const w = Float32Array.from({ length: 2 * 6 * 6 * 2 }, (_, i) => Math.cos(0.7 * i));
    const wT = e.tensor(w, [2, 6, 6, 2]);
    const { value, grads } = e.valueAndGrads(() => e.sum(e.mul(e.upsampleNearest(x, 2), wT)), [x]);
    const g = e.readSync(grads[0]);
    for (let n = 0; n < 2; n++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let c = 0; c < 2; c++) {
      let expected = 0;
      for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) expected += w[((n * 6 + 2 * i + a) * 6 + 2 * j + b) * 2 + c];
      assert.ok(Math.abs(g[((n * 3 + i) * 3 + j) * 2 + c] - expected) < 1e-5, `(${n}, ${i}, ${j}, ${c})`);
    }
    for (const t of [x, wT, value, ...grads]) t.dispose();
  });
});

describe('learnt BPE vocabulary', () => {
  test('every caption word becomes one token; the files load in ClipTokenizer; deterministic', () => {
    const captions = Array.from({ length: 400 }, (_, i) => shapesSample(1, i).scene.caption);
    const a = learnBpe(captions);
    assert.deepEqual(learnBpe(captions).files, a.files);
    const tok = ClipTokenizer.fromFiles({ vocab: a.files['vocab.json'], merges: a.files['merges.txt'], config: a.files['tokenizer_config.json'] });
    assert.equal(tok.modelMaxLength, 16);
    assert.ok(tok.vocabSize < 700, `vocab ${tok.vocabSize}`);
    for (const c of captions.slice(0, 50)) {
      const ids = tok.encode(c);
      assert.equal(ids.length, c.split(' ').length + 2, c);
      assert.equal(tok.decode(ids, { skipSpecialTokens: true }), c);
    }
    // A word the captions never had still tokenizes (byte fallback), into several pieces.
    assert.ok(tok.encode('zebra').length > 3);
  });

  test('contrastive targets share mass between duplicate captions', () => {
    assert.deepEqual([...contrastiveTargets(['a', 'b', 'a'])], [0.5, 0, 0.5, 0, 1, 0, 0.5, 0, 0.5]);
    // Rows against more columns (the hard negatives): a negative equal to a row's caption is its target too.
    assert.deepEqual([...contrastiveTargets(['a', 'b'], ['a', 'b', 'c', 'b'])], [1, 0, 0, 0, 0, 0.5, 0, 0.5]);
  });
});

describe('hard negative captions (NegCLIP)', () => {
  test('relation flips, colour and shape swaps, size flips; never a held-out pair', () => {
    assert.equal(relationSwap('a red circle above a blue square'), 'a red circle below a blue square');
    assert.equal(relationSwap('a red circle to the left of a blue square'), 'a red circle to the right of a blue square');
    assert.equal(relationSwap('a small red circle'), null);
    assert.deepEqual(bindingSwaps('a red circle above a green square'), ['a green circle above a red square', 'a red square above a green circle']);
    // Both swaps make the same two objects; here one is "blue triangle" (held out): no binding negative.
    assert.deepEqual(bindingSwaps('a red triangle below a blue square'), []);
    assert.deepEqual(bindingSwaps('a red circle above a red square'), ['a red square above a red circle']);
    const random = new Random(1);
    assert.deepEqual(hardNegatives('a small cyan square', random), ['a large cyan square']);
    assert.deepEqual(hardNegatives('a cyan square', random), []);
    const r = new Random(7);
    let twoObject = 0;
    for (let i = 0; i < 400; i++) {
      const caption = promptText(randomPrompt(r, 'train').prompt);
      const negatives = hardNegatives(caption, r);
      for (const n of negatives) {
        const p = parsePrompt(n);
        assert.ok(p !== null && n !== caption, `${caption} → ${n}`);
        assert.ok(!p.objects.some((o) => isHeldOutPair(o.colour, o.shape)), `${caption} → ${n} names a held-out pair`);
      }
      if (parsePrompt(caption)?.relation) {
        twoObject += 1;
        assert.equal(negatives[0], relationSwap(caption));
      }
    }
    assert.ok(twoObject > 100);
  });
});

describe('text-to-image trainers', () => {
  test('stage configuration: the learning-rate schedule is checked; runs saved before it read as constant', () => {
    assert.equal(normaliseStageConfig({ steps: 10 }).lrSchedule, 'constant');
    assert.equal(normaliseStageConfig({ steps: 10, lrSchedule: 'cosine' }).lrSchedule, 'cosine');
    assert.throws(() => normaliseStageConfig({ steps: 10, lrSchedule: 'step' as never }), (err: Error & { code?: string }) => err.code === 'INVALID_CONFIG' && err.message === 'training: lrSchedule: unknown option "step" (expected one of constant, linear, cosine)');
  });

  test('VAE: loss falls on a fixed batch; resume is bit-for-bit; PSNR and scaling factor are reported', async () => {
    const trend = lossTrend(new VaeTrainer(e, { ...TRAIN, steps: 10, datasetSize: 4 }, TINY_VAE), 10);
    assert.ok(trend.last < 0.8 * trend.first, JSON.stringify(trend));
    await checkResume(() => new VaeTrainer(e, { ...TRAIN, steps: 4 }, TINY_VAE), 4, 2, ['model', 'ema', 'optimizer'], 'vae');
    const t = new VaeTrainer(e, { ...TRAIN, steps: 1 }, TINY_VAE);
    const ev = t.evaluate();
    t.dispose();
    assert.ok(ev.psnrTest > 0 && ev.psnrTest < 60 && Number.isFinite(ev.psnrHeldOut), JSON.stringify(ev));
    assert.ok(ev.scalingFactor > 0, JSON.stringify(ev));
  });

  test('CLIP: loss falls on a fixed batch; resume is bit-for-bit', async () => {
    const tokenizer = loadClipTokenizer(tokenizerFolder());
    const trainer = new ClipTrainer(e, tokenizer, { ...TRAIN, steps: 12, datasetSize: 8, batchSize: 8 }, TINY_CLIP);
    const trend = lossTrend(trainer, 12);
    trainer.dispose();
    assert.ok(trend.last < 0.8 * trend.first, JSON.stringify(trend));
    await checkResume(() => new ClipTrainer(e, tokenizer, { ...TRAIN, steps: 4 }, TINY_CLIP), 4, 1, ['text-model', 'text-optimizer', 'head-model', 'head-optimizer'], 'clip');
  });

  test('CLIP with hard negatives: the negatives enter the image→text softmax; the swap probes are reported; resume is bit-for-bit', async () => {
    const tokenizer = loadClipTokenizer(tokenizerFolder());
    const config = { ...TRAIN, steps: 4, batchSize: 16 };
    // Same initial weights and batch: the extra columns can only add to the image→text log-sum-exp.
    const plain = new ClipTrainer(e, tokenizer, config, TINY_CLIP);
    const withNegatives = new ClipTrainer(e, tokenizer, config, { ...TINY_CLIP, hardNegatives: true });
    const a = plain.trainStep().loss;
    const b = withNegatives.trainStep().loss;
    assert.ok(b > a + 1e-4, `loss with hard negatives ${b}, without ${a}`);
    const ev = withNegatives.evaluate();
    plain.dispose();
    withNegatives.dispose();
    assert.ok(ev.relationTest >= 0 && ev.relationTest <= 1 && ev.bindingTest >= 0 && ev.bindingTest <= 1, JSON.stringify(ev));
    await checkResume(() => new ClipTrainer(e, tokenizer, config, { ...TINY_CLIP, hardNegatives: true }), 4, 2, ['text-model', 'text-optimizer', 'head-model', 'head-optimizer'], 'clip-negatives');
    // With size words in two-object captions (and their hard negatives keeping the sizes), too.
    await checkResume(() => new ClipTrainer(e, tokenizer, config, { ...TINY_CLIP, hardNegatives: true, pairSizes: 0.5 }), 4, 2, ['text-model', 'text-optimizer', 'head-model', 'head-optimizer'], 'clip-pair-sizes');
    assert.equal(relationSwap('a small red circle above a blue square'), 'a small red circle below a blue square');
    assert.deepEqual(bindingSwaps('a small red circle above a large blue square'), ['a small blue circle above a large red square', 'a small red square above a large blue circle']);
  });

  describe('UNet and the diffusers folder', () => {
    let vaeTrainer: VaeTrainer;
    let clipTrainer: ClipTrainer;
    let tokenizerDir: string;
    before(() => {
      tokenizerDir = tokenizerFolder();
      vaeTrainer = new VaeTrainer(e, { ...TRAIN, steps: 1 }, TINY_VAE);
      vaeTrainer.trainStep();
      writeVaeFolder(join(dir, 'vae-run'), vaeTrainer, 0.7);
      clipTrainer = new ClipTrainer(e, loadClipTokenizer(tokenizerDir), { ...TRAIN, steps: 1 }, TINY_CLIP);
      clipTrainer.trainStep();
      writeTextEncoderFolder(join(dir, 'clip-run'), clipTrainer);
      writeTokenizerFolder(join(dir, 'clip-run'), 'bpe', 5);
    });
    after(() => {
      vaeTrainer.dispose();
      clipTrainer.dispose();
    });
    const frozen = () => ({ vae: loadVaeFolder(e, join(dir, 'vae-run')), textEncoder: loadTextEncoderFolder(e, join(dir, 'clip-run')), tokenizer: loadClipTokenizer(join(dir, 'clip-run', 'tokenizer')) });

    test('UNet: loss falls on a fixed batch; resume is bit-for-bit', async () => {
      const models = frozen();
      assert.equal(models.vae.config.scaling_factor, 0.7);
      const trend = lossTrend(new UNetTrainer(e, models, { ...TRAIN, steps: 12, datasetSize: 4, learningRate: 5e-3 }, { ...TINY_UNET, captionDropout: 0 }), 12, 3);
      assert.ok(trend.last < trend.first, JSON.stringify(trend));
      await checkResume(() => new UNetTrainer(e, models, { ...TRAIN, steps: 4 }, TINY_UNET), 4, 3, ['model', 'ema', 'optimizer'], 'unet');
      models.vae.params.dispose();
      models.textEncoder.params.dispose();
    });

    test('min-SNR-γ: each sample weighted by min(SNR, γ)/SNR; a cosine-scheduled, weighted run resumes bit for bit', async () => {
      const models = frozen();
      const trainer = new UNetTrainer(e, models, { ...TRAIN, steps: 4 }, { ...TINY_UNET, snrGamma: 5 });
      const timesteps = Float32Array.from([0, 100, 400, 700, 999]);
      const weights = trainer.lossWeights(timesteps)!;
      // SD's scaled-linear schedule, written out here: √β linear from √0.00085 to √0.012 over 1000 steps.
      let alphaBar = 1;
      const snr = new Map<number, number>();
      for (let t = 0; t < 1000; t++) {
        const beta = (Math.sqrt(0.00085) + (t / 999) * (Math.sqrt(0.012) - Math.sqrt(0.00085))) ** 2;
        alphaBar *= 1 - beta;
        snr.set(t, alphaBar / (1 - alphaBar));
      }
      // (float32 β in the trainer's schedule, double here: agreement to 10⁻⁴ relative.)
      timesteps.forEach((t, i) => assert.ok(Math.abs(weights[i] / (Math.min(snr.get(t)!, 5) / snr.get(t)!) - 1) < 1e-4, `t=${t}: ${weights[i]}`));
      assert.ok(weights[0] < 0.01 && weights[4] === 1, 'nearly clean steps are weighted down, noisy ones not');
      assert.equal(new UNetTrainer(e, models, { ...TRAIN, steps: 1 }, TINY_UNET).lossWeights(timesteps), null);
      // The weighted loss of a batch is the weighted mean of its samples' own losses.
      const random = new Random(11);
      const n = timesteps.length;
      const zt = random.normalArray(n * 8 * 8 * 4);
      const noise = random.normalArray(zt.length);
      const context = trainer.encodeText(['a red circle', 'a blue square', '', 'a small green triangle', 'a cyan circle above a red square']);
      const per = zt.length / n;
      const batchLoss = e.readSync(e.tidy(() => trainer.epsilonLoss(trainer.unet, e.tensor(zt, [n, 8, 8, 4]), timesteps, context, e.tensor(noise, [n, 8, 8, 4]), weights)))[0];
      let expected = 0;
      for (let i = 0; i < n; i++) {
        const own = e.tidy(() => trainer.epsilonLoss(trainer.unet, e.tensor(zt.slice(i * per, (i + 1) * per), [1, 8, 8, 4]), timesteps.slice(i, i + 1), e.slice(context, [i, 0, 0], [1, -1, -1]), e.tensor(noise.slice(i * per, (i + 1) * per), [1, 8, 8, 4])));
        expected += (weights[i] * e.readSync(own)[0]) / n;
      }
      context.dispose();
      assert.ok(Math.abs(batchLoss - expected) < 1e-4 * expected, `${batchLoss} vs ${expected}`);
      trainer.dispose();
      await checkResume(() => new UNetTrainer(e, models, { ...TRAIN, steps: 4, lrSchedule: 'cosine', warmupSteps: 1 }, { ...TINY_UNET, snrGamma: 5 }), 4, 2, ['model', 'ema', 'optimizer'], 'unet-snr');
      models.vae.params.dispose();
      models.textEncoder.params.dispose();
    });

    test('summary dropout: the chosen captions\' rows from end-of-text on become the empty prompt\'s; off draws nothing; a run with it resumes bit for bit', async () => {
      const models = frozen();
      const captions = ['a red circle', 'a small green triangle', '', 'a cyan circle above a red square'];
      const all = new UNetTrainer(e, models, { ...TRAIN, steps: 1 }, { ...TINY_UNET, summaryDropout: 1 });
      const encoded = all.encodeText(captions);
      const empty = all.encodeText(['']);
      const dropped = all.dropSummaries(encoded, captions);
      assert.notEqual(dropped, encoded);
      const [n, length, width] = encoded.shape;
      const [before, after, none] = [e.readSync(encoded), e.readSync(dropped), e.readSync(empty)];
      const ids = models.tokenizer.call(captions, { padding: 'max_length', truncation: true }).inputIds;
      for (let i = 0; i < n; i++) {
        const from = captions[i] === '' ? length : ids[i].indexOf(models.tokenizer.eosTokenId);
        assert.ok(from > 1 && from <= length);
        for (let t = 0; t < length; t++) {
          const row = after.subarray((i * length + t) * width, (i * length + t + 1) * width);
          const want = t < from ? before.subarray((i * length + t) * width, (i * length + t + 1) * width) : none.subarray(t * width, (t + 1) * width);
          assert.deepEqual(row, want, `caption ${i}, position ${t}`);
        }
      }
      // The word rows still differ between captions ("red" against "small"; position 1 is "a" in both).
      assert.notDeepEqual(after.subarray(2 * width, 3 * width), after.subarray((length + 2) * width, (length + 3) * width));
      for (const t of [encoded, empty, dropped]) t.dispose();
      all.dispose();
      const off = new UNetTrainer(e, models, { ...TRAIN, steps: 1 }, TINY_UNET);
      const state = off.random.state();
      const context = off.encodeText(captions);
      assert.equal(off.dropSummaries(context, captions), context);
      assert.deepEqual(off.random.state(), state);
      context.dispose();
      off.dispose();
      await checkResume(() => new UNetTrainer(e, models, { ...TRAIN, steps: 4 }, { ...TINY_UNET, summaryDropout: 0.5 }), 4, 2, ['model', 'ema', 'optimizer'], 'unet-summary');
      models.vae.params.dispose();
      models.textEncoder.params.dispose();
    });

    test('pair sizes: a run with them resumes bit for bit; out of [0, 1] is refused', async () => {
      const models = frozen();
      await checkResume(() => new UNetTrainer(e, models, { ...TRAIN, steps: 4 }, { ...TINY_UNET, pairSizes: 0.5 }), 4, 2, ['model', 'ema', 'optimizer'], 'unet-pair-sizes');
      assert.throws(() => new UNetTrainer(e, models, { ...TRAIN, steps: 4 }, { ...TINY_UNET, pairSizes: 1.5 }), /pairSizes must be in \[0, 1\]/);
      models.vae.params.dispose();
      models.textEncoder.params.dispose();
    });

    test('grounding and binding: a run with them resumes bit for bit (the losses draw no random numbers)', async () => {
      const models = frozen();
      await checkResume(() => new UNetTrainer(e, models, { ...TRAIN, steps: 4 }, { ...TINY_UNET, groundingWeight: 0.5, bindingWeight: 0.5 }), 4, 2, ['model', 'ema', 'optimizer'], 'unet-grounding');
      models.vae.params.dispose();
      models.textEncoder.params.dispose();
    });

    test('train-unet --unet-config: the file\'s keys over the default UNet reach the saved config; refused on --resume, when malformed or invalid', async () => {
      const program = new Command('diffusion').exitOverride();
      registerTextToImageTrainingCommands(program);
      const run = async (args: string[]): Promise<void> => {
        const write = process.stdout.write;
        process.stdout.write = quietText(write);
        try {
          await program.parseAsync(['train-unet', '--vae', join(dir, 'vae-run'), '--clip', join(dir, 'clip-run'), '--steps', '1', '--batch-size', '2', '--no-progress', '--backend', 'auto', ...args], { from: 'user' });
        } finally {
          process.stdout.write = write;
        }
      };
      const configFile = join(dir, 'unet-config.json');
      writeFileSync(configFile, JSON.stringify({ block_out_channels: [8, 16], layers_per_block: [1, 2], attention_head_dim: [2, 4], cross_attention_dim: 8, norm_num_groups: 4 }));
      const out = join(dir, 'unet-config-run');
      await run(['--out', out, '--unet-config', configFile]);
      const saved = JSON.parse(readFileSync(join(out, 'pipeline', 'unet', 'config.json'), 'utf8')) as Record<string, unknown>;
      assert.deepEqual([saved.block_out_channels, saved.layers_per_block, saved.attention_head_dim, saved.cross_attention_dim], [[8, 16], [1, 2], [2, 4], 8]);
      // Keys the file leaves out keep the default UNet's values.
      assert.deepEqual(saved.down_block_types, DEFAULT_UNET_OPTIONS.model.down_block_types);
      // The second block's two resnets and two attentions are in the weights.
      const weights = openSafetensorsFile(join(out, 'pipeline', 'unet', 'diffusion_pytorch_model.safetensors'));
      try {
        assert.ok(weights.names().includes('down_blocks.1.attentions.1.proj_in.weight'));
        assert.ok(!weights.names().includes('down_blocks.0.attentions.1.proj_in.weight'));
      } finally {
        weights.close();
      }
      await assert.rejects(run(['--out', out, '--resume', '--unet-config', configFile]), /a resumed run keeps the UNet it was started with/);
      // --init-unet: a new run from that run's pipeline folder, grown by a transformer layer in block 0.
      const grownFile = join(dir, 'unet-config-grown.json');
      writeFileSync(grownFile, JSON.stringify({ block_out_channels: [8, 16], layers_per_block: [1, 2], attention_head_dim: [2, 4], cross_attention_dim: 8, norm_num_groups: 4, transformer_layers_per_block: [2, 1] }));
      const grownOut = join(dir, 'unet-init-run');
      await run(['--out', grownOut, '--init-unet', join(out, 'pipeline'), '--unet-config', grownFile]);
      const grownSaved = JSON.parse(readFileSync(join(grownOut, 'pipeline', 'unet', 'config.json'), 'utf8')) as Record<string, unknown>;
      assert.deepEqual(grownSaved.transformer_layers_per_block, [2, 1]);
      assert.equal(readStageState(grownOut, 'unet').options.initUnet, join(out, 'pipeline', 'unet'));
      await assert.rejects(run(['--out', grownOut, '--resume', '--init-unet', join(out, 'pipeline')]), /a resumed run continues from its own checkpoint/);
      writeFileSync(grownFile, JSON.stringify({ block_out_channels: [8, 16], layers_per_block: [1, 2], attention_head_dim: [4, 4], cross_attention_dim: 8, norm_num_groups: 4 }));
      await assert.rejects(run(['--out', join(dir, 'unet-init-bad'), '--init-unet', join(out, 'pipeline'), '--unet-config', grownFile]), /"attention_head_dim" is \[2,4\] there and \[4,4\] in this run/);
      assert.ok(!existsSync(join(dir, 'unet-init-bad')), 'a refused --init-unet makes no run folder');
      writeFileSync(configFile, '{"block_out_channels": [8, 16],');
      await assert.rejects(run(['--out', join(dir, 'unet-config-bad'), '--unet-config', configFile]), (err: Error & { code?: string }) => err.code === 'CHECKPOINT_CORRUPT' && err.message.includes(configFile));
      writeFileSync(configFile, JSON.stringify({ block_out_channels: [8, 12], attention_head_dim: 8, cross_attention_dim: 8, norm_num_groups: 4 }));
      await assert.rejects(run(['--out', join(dir, 'unet-config-bad'), '--unet-config', configFile]), (err: Error & { code?: string }) => err.code === 'INVALID_CONFIG' && /not divisible into 8 attention heads/.test(err.message));
    });

    test('--init-unet: a UNet grown by transformer layers starts as the source\'s function (added blocks are the identity); other config changes are refused', async () => {
      const models = frozen();
      const source = new UNetTrainer(e, models, { ...TRAIN, steps: 2 }, TINY_UNET);
      source.trainStep();
      source.trainStep();
      const folder = join(dir, 'init-source');
      mkdirSync(folder, { recursive: true });
      writeSafetensorsFile(join(folder, 'diffusion_pytorch_model.safetensors'), torchStateDict(source.shipped));
      const sourceConfig = { ...source.modelConfig };
      const grownOptions = { ...TINY_UNET, model: { ...TINY_UNET.model, transformer_layers_per_block: [2, 3] } };
      const grown = new UNetTrainer(e, models, { ...TRAIN, steps: 2, seed: 9 }, grownOptions);
      const weights = openSafetensorsFile(join(folder, 'diffusion_pytorch_model.safetensors'));
      try {
        // Block 0 adds one layer; block 1 two, and the mid block (block 1's count) two: 1 + 2 + 2 in the down path, 2·1 + 2·2 in the up path.
        assert.equal(initialiseUNetFrom(sourceConfig, weights, grown), 1 + 2 + 2 + 2 + 4);
      } finally {
        weights.close();
      }
      const random = new Random(4);
      const sample = e.tensor(random.normalArray(3 * 8 * 8 * 4), [3, 8, 8, 4]);
      const context = source.encodeText(['a red circle', '', 'a blue square below a green triangle']);
      const timesteps = [10, 500, 990];
      for (const model of [grown.unet, grown.ema]) {
        const difference = maxAbsDiff(e.readSync(model.forward(e, sample, timesteps, context)), e.readSync(source.shipped.forward(e, sample, timesteps, context)));
        assert.ok(difference < 1e-5, `grown model differs from the source by ${difference}`);
      }
      // The added blocks are there, with their residual outputs zero and their other weights not.
      const added = 'down_blocks.1.attentions.0.transformer_blocks.2';
      assert.ok(e.readSync(grown.unet.builder.store.get(`${added}.attn2.to_out.0.weight`)).every((v) => v === 0));
      assert.ok(e.readSync(grown.unet.builder.store.get(`${added}.attn2.to_q.weight`)).some((v) => v !== 0));
      // A step moves them off the identity.
      grown.trainStep();
      assert.ok(e.readSync(grown.unet.builder.store.get(`${added}.ff.net.2.weight`)).some((v) => v !== 0));
      // Anything but more transformer layers changes the function: refused, naming the key.
      const other = new UNetTrainer(e, models, { ...TRAIN, steps: 1 }, { ...TINY_UNET, model: { ...TINY_UNET.model, attention_head_dim: 4 } });
      const file = openSafetensorsFile(join(folder, 'diffusion_pytorch_model.safetensors'));
      try {
        assert.throws(() => initialiseUNetFrom(sourceConfig, file, other), (err: Error & { code?: string }) => err.code === 'INVALID_CONFIG' && /"attention_head_dim" is 2 there and 4 in this run/.test(err.message));
      } finally {
        file.close();
        other.dispose();
      }
      assert.throws(() => checkGrownConfig(grown.modelConfig, sourceConfig, 'grown'), /block 0 has 2 transformer layers there and 1 in this run; layers can be added, not removed/);
      source.dispose();
      grown.dispose();
      models.vae.params.dispose();
      models.textEncoder.params.dispose();
    });

    test('the saved folder loads with loadStableDiffusion and gives the same images; names and configs are diffusers\'', async () => {
      const models = frozen();
      const trainer = new UNetTrainer(e, models, { ...TRAIN, steps: 1 }, TINY_UNET);
      trainer.trainStep();
      const folder = join(dir, 'pipeline');
      writePipelineFolder(folder, trainer, join(dir, 'clip-run', 'tokenizer'));
      const inMemory = new StableDiffusionPipeline(e, { ...models, unet: trainer.shipped, scheduler: latentSchedulerFromDiffusers({ ...SHAPES_SCHEDULER_CONFIG }) });
      const loaded = loadStableDiffusion(e, folder);
      const options = { prompt: ['a small red circle', 'a blue square above a green triangle'], steps: 3, guidance: 3, seed: 7 };
      const a = await inMemory.textToImage(options);
      const b = await loaded.textToImage(options);
      assert.equal(a.width, 32);
      assert.ok(maxAbsDiff(a.images, b.images) < 1e-6, `max diff ${maxAbsDiff(a.images, b.images)}`);
      loaded.dispose();

      // Config keys: every key of diffusers' / transformers' own files (the fixtures) and no others.
      const keys = (path: string): string[] => Object.keys(JSON.parse(readFileSync(path, 'utf8')) as object).filter((k) => !k.startsWith('_')).sort();
      const fixtures = new URL('./fixtures/sd/', import.meta.url).pathname;
      assert.deepEqual(keys(join(folder, 'unet', 'config.json')), keys(join(fixtures, 'unet-tiny', 'config.json')));
      const vaeKeys = keys(join(folder, 'vae', 'config.json'));
      for (const k of keys(join(fixtures, 'vae-tiny', 'config.json'))) assert.ok(vaeKeys.includes(k), `vae config lacks ${k}`);
      const textKeys = keys(join(folder, 'text_encoder', 'config.json'));
      for (const k of keys(join(fixtures, 'clip-text-quick-gelu', 'config.json')).filter((k) => !['dtype', 'transformers_version'].includes(k))) assert.ok(textKeys.includes(k), `text_encoder config lacks ${k}`);
      const index = JSON.parse(readFileSync(join(folder, 'model_index.json'), 'utf8')) as Record<string, unknown>;
      assert.deepEqual(index.unet, ['diffusers', 'UNet2DConditionModel']);
      assert.deepEqual(index.tokenizer, ['transformers', 'CLIPTokenizer']);
      // State-dict names: diffusers' and transformers' module paths, PyTorch layouts.
      const names = (path: string): string[] => {
        const f = openSafetensorsFile(path);
        const out = f.names();
        f.close();
        return out;
      };
      const unetNames = names(join(folder, 'unet', 'diffusion_pytorch_model.safetensors'));
      for (const n of ['conv_in.weight', 'time_embedding.linear_1.weight', 'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight', 'mid_block.attentions.0.proj_in.weight', 'up_blocks.1.resnets.0.conv_shortcut.weight', 'conv_out.bias']) {
        assert.ok(unetNames.includes(n), `unet lacks ${n}`);
      }
      const vaeNames = names(join(folder, 'vae', 'diffusion_pytorch_model.safetensors'));
      for (const n of ['encoder.conv_in.weight', 'encoder.mid_block.attentions.0.to_q.weight', 'quant_conv.weight', 'post_quant_conv.weight', 'decoder.up_blocks.2.resnets.1.conv2.weight']) assert.ok(vaeNames.includes(n), `vae lacks ${n}`);
      const textNames = names(join(folder, 'text_encoder', 'model.safetensors'));
      for (const n of ['text_model.embeddings.token_embedding.weight', 'text_model.encoder.layers.0.self_attn.q_proj.weight', 'text_model.final_layer_norm.bias']) assert.ok(textNames.includes(n), `text_encoder lacks ${n}`);
      trainer.dispose();
      models.vae.params.dispose();
      models.textEncoder.params.dispose();
    });

    test('eval-t2i runs the real pipeline and writes the report (a stand-in model: the numbers are not judged)', async () => {
      const program = new Command('diffusion').exitOverride();
      registerTextToImageTrainingCommands(program);
      const out = join(dir, 'eval.json');
      const write = process.stdout.write;
      process.stdout.write = quietText(write);
      try {
        await program.parseAsync(['eval-t2i', '--model', join(dir, 'pipeline'), '--steps', '1', '--samples-per-prompt', '1', '--two-object-prompts', '2', '--sized-pair-prompts', '3', '--batch-size', '128', '--out', out, '--backend', 'auto'], { from: 'user' });
      } finally {
        process.stdout.write = write;
      }
      const report = JSON.parse(readFileSync(out, 'utf8')) as { shapes: { kinds: Record<string, { samples: number; fullyCorrect: number }>; sizedPairs: { prompts: number; samples: number; size: number | null }; frechet: { distance: number } }; sampler: { steps: number } };
      assert.equal(report.shapes.kinds['single-object'].samples, 45);
      assert.equal(report.shapes.kinds['two-object'].samples, 2);
      assert.equal(report.shapes.kinds['held-out'].samples, 9 + 2);
      assert.deepEqual([report.shapes.sizedPairs.prompts, report.shapes.sizedPairs.samples], [3, 3]);
      assert.equal(typeof report.shapes.sizedPairs.size, 'number', 'every sized-pair prompt states a size');
      assert.ok(Number.isFinite(report.shapes.frechet.distance));
      assert.equal(report.sampler.steps, 1);
    });

    test('eval-t2i --no-shapes --fashion-classifier: class prompts only, their grid; nothing to evaluate is an error', async () => {
      // A classifier trained for one epoch on 20 labelled images: enough to exercise the path.
      const labelled = join(dir, 'labelled');
      const samples = function* (split: number): Generator<{ image: Uint8Array; record: CaptionRecord }> {
        for (let i = 0; i < 20; i++) yield { image: shapesSample(split, i, 'train').image, record: { caption: fashionCaption(i % 10, 0), label: i % 10 } };
      };
      for (const [k, split] of (['train', 'test'] as const).entries()) {
        writeCaptionDataset(splitPath(labelled, split), { name: 'fashion-mnist', split, count: 20, height: 32, width: 32, channels: 3, classNames: [...FASHION_MNIST_CLASSES], source: 'test' }, samples(k));
      }
      const classifierFile = join(dir, 'classifier.safetensors');
      const [train, testSplit] = [openCaptionDataset(labelled, 'train'), openCaptionDataset(labelled, 'test')];
      try {
        trainFashionClassifier(e, train, testSplit, { epochs: 1, out: classifierFile });
      } finally {
        train.close();
        testSplit.close();
      }
      const cli = async (args: string[]): Promise<void> => {
        const program = new Command('diffusion').exitOverride();
        registerTextToImageTrainingCommands(program);
        const write = process.stdout.write;
        process.stdout.write = quietText(write);
        try {
          await program.parseAsync(['eval-t2i', '--model', join(dir, 'pipeline'), '--steps', '1', '--backend', 'auto', ...args], { from: 'user' });
        } finally {
          process.stdout.write = write;
        }
      };
      const out = join(dir, 'eval-fashion.json');
      const grid = join(dir, 'grid-fashion.png');
      await cli(['--no-shapes', '--fashion-classifier', classifierFile, '--fashion-samples-per-class', '2', '--out', out, '--grid', grid]);
      const report = JSON.parse(readFileSync(out, 'utf8')) as { shapes?: unknown; fashion: { samples: number; classAccuracy: number; perClass: number[]; classifierTestAccuracy: number } };
      assert.equal(report.shapes, undefined);
      assert.equal(report.fashion.samples, 20);
      assert.equal(report.fashion.perClass.length, 10);
      assert.ok(report.fashion.classAccuracy >= 0 && report.fashion.classAccuracy <= 1);
      assert.ok(Number.isFinite(report.fashion.classifierTestAccuracy));
      const png = PNG.sync.read(readFileSync(grid));
      assert.equal(png.height, 10 * 32 + 11, 'one row per class prompt (1-pixel gaps)');
      await assert.rejects(cli(['--no-shapes']), /--no-shapes leaves nothing to evaluate/);
      await assert.rejects(cli(['--fashion-classifier', join(dir, 'none.safetensors')]), /none\.safetensors: no such file/);
    });
  });
});
