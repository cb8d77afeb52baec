// Token grounding (train/t2i/token-grounding.ts): the caption words' token positions, the object
// masks, the loss against a direct computation and its gradient, the cross-attention probe, and the
// UNet trainer and train-unet with it. The frozen VAE, text encoder and tokenizer are the shipped
// Shapes model's (in the repository); the UNets are tiny.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initBackend } from '../src/backend-node.ts';
import { renderScene, shapesSample, PALETTE, type ShapesScene } from '../src/data/shapes.ts';
import { UNet2DConditionModel, readUNetConfig } from '../src/models/sd/unet-2d-condition.ts';
import { Random } from '../src/rng.ts';
import type { Tensor, TensorEngine } from '../src/tensor/engine.ts';
import { loadClipTokenizer } from '../src/text/clip-tokenizer-node.ts';
import type { Tokenizer } from '../src/text/tokenizer.ts';
import { pairCaptionWithSizes } from '../src/data/shapes.ts';
import { loadTextEncoderFolder, loadVaeFolder } from '../src/node/t2i-train-cli.ts';
import { GROUNDING_SLOTS, GroundingBatch, bindingLoss, groundedWords, groundingLoss, objectMask, poolMask, type AttentionRecord } from '../src/train/t2i/token-grounding.ts';
import { DEFAULT_UNET_OPTIONS, UNetTrainer } from '../src/train/t2i/unet-trainer.ts';

const PACKAGE = new URL('..', import.meta.url).pathname;
const SHIPPED = join(PACKAGE, 'models', 'shapes-t2i');
const TINY_MODEL = { ...DEFAULT_UNET_OPTIONS.model, block_out_channels: [8, 8], attention_head_dim: 2, norm_num_groups: 4 };
const TINY_UNET = { ...DEFAULT_UNET_OPTIONS, model: TINY_MODEL, evalImages: 4 };
const TRAIN = { batchSize: 4, learningRate: 3e-3, warmupSteps: 0, emaDecay: 0.9, seed: 3, dataSeed: 5 };

let e: TensorEngine;
let shippedTokenizer: Tokenizer;
let clipTokenizer: Tokenizer;
let dir: string;
before(async () => {
  e = await initBackend('auto');
  shippedTokenizer = loadClipTokenizer(join(SHIPPED, 'tokenizer'));
  clipTokenizer = loadClipTokenizer(join(PACKAGE, 'assets', 'clip-tokenizer'));
  dir = mkdtempSync(join(tmpdir(), 't2i-grounding-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The first training scene of the stream with `objects` objects. */
function sceneWith(objects: number, seed = 1): ShapesScene {
  for (let i = 0; ; i++) {
    const { scene } = shapesSample(seed, i, 'train');
    if (scene.objects.length === objects) return scene;
  }
}

describe('grounded words', () => {
  test('each colour and shape word: its token positions (bos at 0) and its object, in both vocabularies, with and without size words', () => {
    const pair = sceneWith(2);
    const single = sceneWith(1);
    const captions: Array<[string, ShapesScene]> = [
      [pair.caption, pair],
      [pairCaptionWithSizes(pair, [true, true]), pair],
      [pairCaptionWithSizes(pair, [false, true]), pair],
      [single.caption, single],
    ];
    for (const tokenizer of [shippedTokenizer, clipTokenizer]) {
      for (const [caption, scene] of captions) {
        const words = groundedWords(caption, scene, tokenizer);
        assert.equal(words.length, 2 * scene.objects.length, caption);
        const ids = tokenizer.call([caption]).inputIds[0];
        for (const w of words) {
          assert.equal(tokenizer.decode(w.positions.map((p) => ids[p]), { skipSpecialTokens: true }).trim(), w.word, `${caption}: ${w.word}`);
          const o = scene.objects[w.object];
          assert.ok(o.colour === w.word || o.shape === w.word, `${caption}: ${w.word} is object ${w.object}'s`);
        }
        // The first object's words come first, whatever the relation says.
        assert.deepEqual(words.map((w) => w.object), scene.objects.length === 2 ? [0, 0, 1, 1] : [0, 0]);
      }
    }
    assert.deepEqual(groundedWords('', pair, shippedTokenizer), []);
  });

  test('a caption that does not fit its scene is refused, naming the word', () => {
    const single = sceneWith(1);
    const other = single.objects[0].colour === 'red' ? 'green' : 'red';
    assert.throws(
      () => groundedWords(`a ${other} ${single.objects[0].shape}`, single, shippedTokenizer),
      (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && err.message.includes(`colour "${other}"`),
    );
    assert.throws(() => groundedWords('a large one', single, shippedTokenizer), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && /does not name the colour and shape/.test(err.message));
  });
});

describe('object masks', () => {
  test('the mask is exactly the object\'s pixels in the rendered scene; pooling keeps the area', () => {
    const scene = sceneWith(2, 4);
    for (let j = 0; j < 2; j++) {
      const mask = objectMask(scene, j);
      const alone = renderScene([scene.objects[j]]);
      const [r, g, b] = PALETTE[scene.objects[j].colour];
      let painted = 0;
      for (let p = 0; p < 32 * 32; p++) {
        const on = alone[3 * p] === r && alone[3 * p + 1] === g && alone[3 * p + 2] === b;
        assert.equal(mask[p], on ? 1 : 0, `object ${j} pixel ${p}`);
        painted += on ? 1 : 0;
      }
      assert.ok(painted > 20);
      for (const side of [8, 4]) {
        const pooled = poolMask(mask, side);
        const area = pooled.reduce((a, v) => a + v, 0) * (32 / side) ** 2;
        assert.ok(Math.abs(area - painted) < 1e-3, `side ${side}: ${area} vs ${painted}`);
        assert.ok(pooled.every((v) => v >= 0 && v <= 1));
      }
    }
    assert.throws(() => poolMask(objectMask(scene, 0), 5), (err: Error & { code?: string }) => err.code === 'SHAPE_MISMATCH');
  });
});

/**
 * The gradient of `lossOf(softmax(logits))` with respect to seeded normal logits of `shape`, checked
 * against a forward finite difference (step 10⁻²) at each index of `at` (within 5 % + 10⁻⁵).
 */
function checkedSoftmaxGradient(lossOf: (probabilities: Tensor) => Tensor, shape: number[], seed: number, at: number[]): Float32Array {
  const logits = new Random(seed).normalArray(shape[0] * shape[1] * shape[2]);
  const variable = e.variable(e.tensor(logits, shape), `logits-${seed}`, true);
  const loss = (): Tensor => lossOf(e.softmax(variable));
  const { value, grads } = e.valueAndGrads(loss, [variable]);
  const base = e.readSync(value)[0];
  const gradient = e.readSync(grads[0]);
  value.dispose();
  grads[0].dispose();
  const step = 1e-2;
  for (const index of at) {
    const moved = logits.slice();
    moved[index] += step;
    variable.assign(e.tensor(moved, shape));
    const numeric = (e.readSync(e.tidy(loss))[0] - base) / step;
    assert.ok(Math.abs(numeric - gradient[index]) < 0.05 * Math.abs(gradient[index]) + 1e-5, `index ${index}: ${numeric} vs ${gradient[index]}`);
  }
  variable.dispose();
  return gradient;
}

/** The loss written out directly over the probabilities (float64). */
function directLoss(probabilities: Float32Array[], heads: number, batch: GroundingBatch, shapes: number[][]): number {
  let total = 0;
  probabilities.forEach((p, r) => {
    const [, cells, tokens] = shapes[r];
    const side = Math.sqrt(cells);
    const masks = batch.masksAt(side);
    let sum = 0;
    for (let i = 0; i < batch.count; i++) {
      for (let k = 0; k < GROUNDING_SLOTS; k++) {
        if (batch.weights[i * GROUNDING_SLOTS + k] === 0) continue;
        let inside = 0;
        let all = 0;
        for (let u = 0; u < cells; u++) {
          let a = 0;
          for (let h = 0; h < heads; h++) {
            for (let t = 0; t < tokens; t++) if (batch.selection[(i * tokens + t) * GROUNDING_SLOTS + k] === 1) a += p[((i * heads + h) * cells + u) * tokens + t] / heads;
          }
          inside += a * masks[(i * cells + u) * GROUNDING_SLOTS + k];
          all += a;
        }
        sum += (1 - inside / all) ** 2;
      }
    }
    total += sum / batch.slotsUsed;
  });
  return total / probabilities.length;
}

describe('the grounding loss', () => {
  const heads = 2;
  const pair = sceneWith(2, 2);
  const single = sceneWith(1, 2);
  const captions = [pair.caption, '', single.caption];
  const scenes = [pair, pair, single];

  test('equals the token loss written out; unused slots and empty captions count for nothing', () => {
    const batch = new GroundingBatch(3, 77, captions, scenes, shippedTokenizer);
    assert.equal(batch.slotsUsed, 4 + 0 + 2);
    const random = new Random(5);
    const shapes = [
      [3 * heads, 64, 77],
      [3 * heads, 16, 77],
    ];
    const values = shapes.map((s) => {
      const logits = random.normalArray(s[0] * s[1] * s[2]).map((v) => 3 * v);
      return e.readSync(e.tidy(() => e.softmax(e.tensor(logits, s))));
    });
    const got = e.readSync(e.tidy(() => groundingLoss(e, values.map((v, r): AttentionRecord => ({ probabilities: e.tensor(v, shapes[r]), heads })), batch)))[0];
    const want = directLoss(values, heads, batch, shapes);
    assert.ok(Math.abs(got - want) < 1e-5, `${got} vs ${want}`);
    assert.ok(want > 0.1 && want < 1);
    assert.throws(() => groundingLoss(e, [], batch), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT');
    assert.throws(
      () => e.tidy(() => groundingLoss(e, [{ probabilities: e.zeros([3 * heads, 60, 77]), heads }], batch)),
      (err: Error & { code?: string }) => err.code === 'SHAPE_MISMATCH',
    );
  });

  test('its gradient through the softmax matches finite differences, and attention moved onto the object lowers it', () => {
    const batch = new GroundingBatch(3, 77, captions, scenes, shippedTokenizer);
    // The first object's colour word of sample 0, at a cell inside and at a cell outside its mask.
    const position = groundedWords(pair.caption, pair, shippedTokenizer)[0].positions[0];
    const mask = batch.masksAt(4);
    const inside = [...Array(16).keys()].reduce((best, u) => (mask[u * GROUNDING_SLOTS] > mask[best * GROUNDING_SLOTS] ? u : best), 0);
    const outside = [...Array(16).keys()].find((u) => mask[u * GROUNDING_SLOTS] === 0 && mask[u * GROUNDING_SLOTS + 2] === 0)!;
    assert.ok(mask[inside * GROUNDING_SLOTS] > 0.2 && outside !== undefined);
    const gradient = checkedSoftmaxGradient((p) => groundingLoss(e, [{ probabilities: p, heads }], batch), [3 * heads, 16, 77], 6, [inside * 77 + position, outside * 77 + position]);
    // More attention inside the object lowers the loss; outside raises it.
    assert.ok(gradient[inside * 77 + position] < 0 && gradient[outside * 77 + position] > 0);
  });
});

/** The binding loss written out directly over the probabilities (float64). */
function directBinding(probabilities: Float32Array[], heads: number, batch: GroundingBatch, shapes: number[][]): number {
  let total = 0;
  probabilities.forEach((p, r) => {
    const [, cells, tokens] = shapes[r];
    const masks = batch.masksAt(Math.sqrt(cells));
    // Attention of cell u of sample i to slot k's tokens, mean over heads.
    const slot = (i: number, u: number, k: number): number => {
      let a = 0;
      for (let h = 0; h < heads; h++) {
        for (let t = 0; t < tokens; t++) if (batch.selection[(i * tokens + t) * GROUNDING_SLOTS + k] === 1) a += p[((i * heads + h) * cells + u) * tokens + t] / heads;
      }
      return a;
    };
    let sum = 0;
    let objects = 0;
    for (let i = 0; i < batch.count; i++) {
      if (batch.weights[i * GROUNDING_SLOTS + 3] === 0) continue;
      for (let j = 0; j < 2; j++) {
        let weighted = 0;
        let area = 0;
        for (let u = 0; u < cells; u++) {
          const m = masks[(i * cells + u) * GROUNDING_SLOTS + 2 * j];
          const right = slot(i, u, 2 * j) + slot(i, u, 2 * j + 1);
          const wrong = slot(i, u, 2 - 2 * j) + slot(i, u, 3 - 2 * j);
          weighted += (m * wrong) / (right + wrong);
          area += m;
        }
        sum += weighted / area;
        objects++;
      }
    }
    total += sum / objects;
  });
  return total / probabilities.length;
}

describe('the binding loss', () => {
  const heads = 2;
  const pair = sceneWith(2, 4);
  const single = sceneWith(1, 4);

  test('equals the per-pixel share written out; one-object and empty captions count for nothing', () => {
    const batch = new GroundingBatch(4, 77, [pair.caption, '', single.caption, pairCaptionWithSizes(pair, [true, false])], [pair, pair, single, pair], shippedTokenizer);
    assert.deepEqual([...batch.pairWeights], [1, 1, 0, 0, 0, 0, 1, 1]);
    const random = new Random(8);
    const shapes = [
      [4 * heads, 64, 77],
      [4 * heads, 16, 77],
    ];
    const values = shapes.map((s) => e.readSync(e.tidy(() => e.softmax(e.tensor(random.normalArray(s[0] * s[1] * s[2]).map((v) => 3 * v), s)))));
    const got = e.readSync(e.tidy(() => bindingLoss(e, values.map((v, r): AttentionRecord => ({ probabilities: e.tensor(v, shapes[r]), heads })), batch)))[0];
    const want = directBinding(values, heads, batch, shapes);
    assert.ok(Math.abs(got - want) < 1e-5, `${got} vs ${want}`);
    // Random maps read both objects' words about alike.
    assert.ok(want > 0.3 && want < 0.7, `${want}`);
    const singles = new GroundingBatch(2, 77, [single.caption, ''], [single, single], shippedTokenizer);
    const none = e.readSync(e.tidy(() => bindingLoss(e, [{ probabilities: e.softmax(e.tensor(random.normalArray(2 * heads * 16 * 77), [2 * heads, 16, 77])), heads }], singles)))[0];
    assert.equal(none, 0);
  });

  test('attention at an object\'s pixels moved to its own words lowers it, to the other object\'s raises it (gradient = finite differences)', () => {
    const batch = new GroundingBatch(1, 77, [pair.caption], [pair], shippedTokenizer);
    const words = groundedWords(pair.caption, pair, shippedTokenizer);
    const mask = batch.masksAt(4);
    // The cell most inside object 0 (and outside object 1).
    const cell = [...Array(16).keys()].reduce((best, u) => (mask[u * GROUNDING_SLOTS] - mask[u * GROUNDING_SLOTS + 2] > mask[best * GROUNDING_SLOTS] - mask[best * GROUNDING_SLOTS + 2] ? u : best), 0);
    assert.ok(mask[cell * GROUNDING_SLOTS] > 0.2 && mask[cell * GROUNDING_SLOTS + 2] === 0);
    const own = cell * 77 + words[0].positions[0];
    const other = cell * 77 + words[2].positions[0];
    const gradient = checkedSoftmaxGradient((p) => bindingLoss(e, [{ probabilities: p, heads }], batch), [heads, 16, 77], 9, [own, other]);
    assert.ok(gradient[own] < 0 && gradient[other] > 0, `${gradient[own]}, ${gradient[other]}`);
  });
});

describe('the cross-attention probe and the UNet trainer', () => {
  const frozen = () => ({ vae: loadVaeFolder(e, SHIPPED), textEncoder: loadTextEncoderFolder(e, SHIPPED), tokenizer: shippedTokenizer });

  test('the probe sees every cross-attention layer\'s probabilities and leaves the forward unchanged', () => {
    const config = readUNetConfig(TINY_MODEL, 'test');
    const unet = new UNet2DConditionModel(e, new Random(1), config);
    const random = new Random(2);
    const sample = e.tensor(random.normalArray(2 * 8 * 8 * 4), [2, 8, 8, 4]);
    const context = e.tensor(random.normalArray(2 * 77 * 64), [2, 77, 64]);
    const plain = e.readSync(e.tidy(() => unet.forward(e, sample, [10, 500], context)));
    const seen: Array<{ shape: number[]; heads: number; layer: string; rowSum: number }> = [];
    unet.builder.crossAttentionProbe = (p, heads, layer) => {
      const values = e.readSync(p);
      seen.push({ shape: p.shape.slice(), heads, layer, rowSum: values.subarray(0, 77).reduce((a, v) => a + v, 0) });
    };
    const probed = e.readSync(e.tidy(() => unet.forward(e, sample, [10, 500], context)));
    unet.builder.crossAttentionProbe = null;
    assert.deepEqual(probed, plain);
    // Down: one layer per block; mid: one; up: two per block. Only attn2 (cross) layers report.
    assert.equal(seen.length, 1 + 1 + 1 + 2 + 2, seen.map((s) => s.layer).join(', '));
    assert.ok(seen.every((s) => s.layer.endsWith('.attn2') && s.heads === 2 && s.shape[0] === 4 && s.shape[2] === 77 && Math.abs(s.rowSum - 1) < 1e-5));
    assert.deepEqual([...new Set(seen.map((s) => s.shape[1]))].sort((a, b) => a - b), [16, 64]);
    for (const t of [sample, context]) t.dispose();
    unet.params.dispose();
  });

  test('with a weight, steps report the grounding loss, draw what a run without it draws, and lower it on a fixed batch; evaluation reports it', () => {
    const models = frozen();
    const config = { ...TRAIN, steps: 40, datasetSize: 4, learningRate: 1e-2 };
    const grounded = new UNetTrainer(e, models, config, { ...TINY_UNET, captionDropout: 0, groundingWeight: 1 });
    const plain = new UNetTrainer(e, models, config, { ...TINY_UNET, captionDropout: 0 });
    const first = grounded.trainStep();
    const other = plain.trainStep();
    assert.equal(typeof first.groundingLoss, 'number');
    assert.equal(other.groundingLoss, undefined);
    // The grounding term draws nothing: both trainers' streams stay together.
    assert.deepEqual(grounded.random.state(), plain.random.state());
    const losses = [first.groundingLoss];
    for (let i = 1; i < 40; i++) losses.push(grounded.trainStep().groundingLoss);
    const mean = (xs: Array<number | undefined>): number => xs.reduce((a: number, b) => a + (b as number), 0) / xs.length;
    assert.ok(mean(losses.slice(-5)) < mean(losses.slice(0, 5)) - 0.05, `grounding loss ${mean(losses.slice(0, 5))} → ${mean(losses.slice(-5))}`);
    const evaluation = grounded.evaluate();
    assert.ok(evaluation.validationGroundingLoss > 0 && evaluation.validationGroundingLoss < 1);
    grounded.dispose();
    plain.dispose();
    models.vae.params.dispose();
    models.textEncoder.params.dispose();
  });

  test('with a binding weight, steps report the binding loss and lower it on a fixed batch, drawing what a plain run draws; evaluation reports it; a bad weight of either term is refused', () => {
    const models = frozen();
    const config = { ...TRAIN, steps: 40, datasetSize: 4, learningRate: 1e-2, dataSeed: 7 };
    const bound = new UNetTrainer(e, models, config, { ...TINY_UNET, captionDropout: 0, bindingWeight: 1 });
    const plain = new UNetTrainer(e, models, config, { ...TINY_UNET, captionDropout: 0 });
    const losses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const step = bound.trainStep();
      plain.trainStep();
      assert.equal(typeof step.groundingLoss, 'number');
      losses.push(step.bindingLoss);
    }
    assert.deepEqual(bound.random.state(), plain.random.state());
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(mean(losses.slice(0, 5)) > 0.3, `binding loss at the start ${mean(losses.slice(0, 5))}`);
    assert.ok(mean(losses.slice(-5)) < mean(losses.slice(0, 5)) - 0.05, `binding loss ${mean(losses.slice(0, 5))} → ${mean(losses.slice(-5))}`);
    const evaluation = bound.evaluate();
    assert.ok(evaluation.validationBindingLoss > 0 && evaluation.validationBindingLoss < 1);
    bound.dispose();
    plain.dispose();
    // Either weight: negative is refused, and so is a data cache (it has no scenes to take masks from).
    for (const weight of ['groundingWeight', 'bindingWeight']) {
      assert.throws(() => new UNetTrainer(e, models, { ...TRAIN, steps: 1 }, { ...TINY_UNET, [weight]: -1 }), (err: Error & { code?: string }) => err.code === 'INVALID_CONFIG');
      assert.throws(
        () => new UNetTrainer(e, models, { ...TRAIN, steps: 1, data: '/somewhere/train.bin' }, { ...TINY_UNET, [weight]: 0.1 }),
        (err: Error & { code?: string }) => err.code === 'INVALID_CONFIG' && /Shapes generator/.test(err.message),
      );
    }
    models.vae.params.dispose();
    models.textEncoder.params.dispose();
  });

  test('train-unet --grounding --binding: the log carries both losses and the run state their weights; a negative weight is a clear error', () => {
    const unetConfig = join(dir, 'unet.json');
    writeFileSync(unetConfig, JSON.stringify({ block_out_channels: [8, 8], attention_head_dim: 2, norm_num_groups: 4 }));
    const bin = join(PACKAGE, 'bin', 'diffusion.js');
    const out = join(dir, 'run');
    const common = ['train-unet', '--vae', SHIPPED, '--clip', SHIPPED, '--unet-config', unetConfig, '--steps', '2', '--batch-size', '2', '--no-progress', '--backend', 'auto'];
    execFileSync(process.execPath, [bin, ...common, '--out', out, '--grounding', '0.5', '--binding', '0.25'], { stdio: 'pipe' });
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss?: number; groundingLoss?: number; bindingLoss?: number });
    const steps = log.filter((l) => l.loss !== undefined);
    assert.equal(steps.length, 2);
    assert.ok(steps.every((l) => typeof l.groundingLoss === 'number' && l.groundingLoss > 0 && l.groundingLoss < 1));
    assert.ok(steps.every((l) => typeof l.bindingLoss === 'number' && l.bindingLoss >= 0 && l.bindingLoss < 1));
    const state = readFileSync(join(out, 'state', 'state.json'), 'utf8');
    assert.match(state, /"groundingWeight": ?0\.5/);
    assert.match(state, /"bindingWeight": ?0\.25/);
    const bad = spawnSync(process.execPath, [bin, ...common, '--out', join(dir, 'bad'), '--grounding', '-1'], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--grounding/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
    const badBinding = spawnSync(process.execPath, [bin, ...common, '--out', join(dir, 'bad-binding'), '--binding', 'x'], { encoding: 'utf8' });
    assert.notEqual(badBinding.status, 0);
    assert.match(badBinding.stderr, /--binding/);
    assert.doesNotMatch(badBinding.stderr, /\n\s+at /);
  });
});
