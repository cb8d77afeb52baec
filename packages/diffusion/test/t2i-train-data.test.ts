/**
 * The text-to-image trainers reading a data-set cache (`--data`, issue 15) instead of the Shapes
 * generator: the stream of shuffled epochs, bit-for-bit resume from a cache, the generator kept as
 * the default (and what runs saved before the option read as), and one clear error for a missing,
 * corrupt or wrongly shaped cache, before any step is taken.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Command } from 'commander';
import { initBackend } from '../src/backend-node.ts';
import { type CaptionRecord, openCaptionDataset, splitPath, writeCaptionDataset } from '../src/data/caption-dataset.ts';
import { pairCaptionWithSizes, parsePrompt, shapesSample } from '../src/data/shapes.ts';
import { DiffusionError } from '../src/errors.ts';
import { openTrainingCache, readStageState, runStage, trainingCachePath } from '../src/node/t2i-stage-run.ts';
import { registerTextToImageTrainingCommands } from '../src/node/t2i-train-cli.ts';
import type { TensorEngine } from '../src/tensor/engine.ts';
import { evaluationBatch, normaliseStageConfig, shapesBatch, trainingBatch } from '../src/train/t2i/common.ts';
import { DEFAULT_VAE_OPTIONS, VaeTrainer } from '../src/train/t2i/vae-trainer.ts';

const TINY_VAE = { ...DEFAULT_VAE_OPTIONS, model: { ...DEFAULT_VAE_OPTIONS.model, block_out_channels: [4, 4, 8], norm_num_groups: 2 }, evalImages: 4 };
const TRAIN = { batchSize: 4, learningRate: 3e-3, warmupSteps: 0, emaDecay: 0.9, seed: 3, dataSeed: 5 };
/** 22 images in chunks of 4: the last chunk is short, and batches of 4 straddle epochs. */
const COUNT = 22;

let e: TensorEngine;
let dir: string;
let cache: string;

function writeShapesCache(out: string, count: number, size = 32, seed = 9): string {
  const samples = function* (): Generator<{ image: Uint8Array; record: CaptionRecord }> {
    for (let i = 0; i < count; i++) {
      const { scene, image } = shapesSample(seed, i, 'train');
      yield { image: size === 32 ? image : image.subarray(0, size * size * 3), record: { caption: scene.caption } };
    }
  };
  writeCaptionDataset(splitPath(out, 'train'), { name: 'shapes', split: 'train', count, height: size, width: size, channels: 3, source: `test, seed ${seed}`, chunkImages: 4 }, samples());
  return out;
}

before(async () => {
  e = await initBackend('auto');
  dir = mkdtempSync(join(tmpdir(), 't2i-data-'));
  cache = writeShapesCache(join(dir, 'shapes'), COUNT);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('CaptionDataset.streamBatch', () => {
  test('each epoch is a permutation of the split; batches straddle epochs; the same seed gives the same stream', () => {
    const dataset = openCaptionDataset(cache);
    try {
      const stream = dataset.streamBatch(5, 0, 3 * COUNT).indices;
      for (let epoch = 0; epoch < 3; epoch++) {
        const part = Array.from(stream.subarray(epoch * COUNT, (epoch + 1) * COUNT));
        assert.deepEqual(part.slice().sort((a, b) => a - b), Array.from({ length: COUNT }, (_, i) => i), `epoch ${epoch} is a permutation`);
        assert.deepEqual(part, Array.from(dataset.epochOrder(5, epoch)), `epoch ${epoch} is epochOrder(seed, epoch)`);
      }
      assert.notDeepEqual(Array.from(stream.subarray(0, COUNT)), Array.from(stream.subarray(COUNT, 2 * COUNT)), 'epochs are shuffled differently');
      // A batch read on its own (as a resumed run reads it) equals that slice of the stream.
      const straddling = dataset.streamBatch(5, 20, 4);
      assert.deepEqual(Array.from(straddling.indices), Array.from(stream.subarray(20, 24)));
      assert.deepEqual(straddling.captions, Array.from(straddling.indices, (k) => dataset.records[k].caption));
      assert.deepEqual(Array.from(straddling.images), Array.from(dataset.readImages(straddling.indices)));
      assert.notDeepEqual(Array.from(dataset.streamBatch(6, 0, COUNT).indices), Array.from(stream.subarray(0, COUNT)), 'another seed, another order');
    } finally {
      dataset.close();
    }
  });
});

describe('training batches from a cache', () => {
  test('without data the batches are the generator’s, as before; runs saved before the option read as the generator', () => {
    const config = normaliseStageConfig({ ...TRAIN, steps: 10 });
    assert.equal(config.data, null);
    const batch = trainingBatch(config, 3);
    const expected = shapesBatch(TRAIN.dataSeed, 12, 4);
    assert.deepEqual(batch.captions, expected.captions);
    assert.deepEqual(Array.from(batch.images), Array.from(expected.images));
  });

  test('pair sizes: off, the generator’s captions; on, two-object captions state the drawn sizes, keyed by stream position; a cache refuses them', () => {
    const plain = shapesBatch(7, 100, 64);
    assert.deepEqual(shapesBatch(7, 100, 64, 'train', 0, 0).captions, plain.captions);
    const all = shapesBatch(7, 100, 64, 'train', 0, 1);
    assert.deepEqual(Array.from(all.images), Array.from(plain.images), 'the images do not change');
    let pairs = 0;
    all.captions.forEach((caption, i) => {
      const { scene } = shapesSample(7, 100 + i);
      if (scene.objects.length === 1) return assert.equal(caption, plain.captions[i]);
      pairs += 1;
      assert.equal(caption, pairCaptionWithSizes(scene, [true, true]));
    });
    assert.ok(pairs > 20, `${pairs} two-object scenes`);
    // p = 0.4: about 0.4 of the objects of two-object captions get their size word.
    const some = shapesBatch(7, 0, 2000, 'train', 0, 0.4);
    let objects = 0;
    let sized = 0;
    for (const caption of some.captions) {
      const parsed = parsePrompt(caption)!;
      if (parsed.objects.length !== 2) continue;
      objects += 2;
      sized += parsed.objects.filter((o) => o.size !== null).length;
    }
    assert.ok(Math.abs(sized / objects - 0.4) < 0.04, `${sized} of ${objects} objects sized`);
    // Keyed by position: a batch read from the middle of the stream (a resumed run) agrees.
    assert.deepEqual(shapesBatch(7, 30, 10, 'train', 0, 0.4).captions, some.captions.slice(30, 40));
    const config = normaliseStageConfig({ ...TRAIN, steps: 10 });
    assert.deepEqual(trainingBatch(config, 2, null, 0.4).captions, shapesBatch(TRAIN.dataSeed, 8, 4, 'train', 0, 0.4).captions);
    const path = trainingCachePath(cache);
    const data = openTrainingCache(path);
    try {
      assert.throws(() => trainingBatch(normaliseStageConfig({ ...TRAIN, steps: 10, data: path }), 0, data, 0.4), /pair sizes need the Shapes generator/);
    } finally {
      data.close();
    }
  });

  test('with data, batch k is samples k·B … k·B + B − 1 of the cache’s stream (images in [−1, 1] and captions)', () => {
    const path = trainingCachePath(cache);
    const data = openTrainingCache(path);
    const dataset = openCaptionDataset(path);
    try {
      const config = normaliseStageConfig({ ...TRAIN, steps: 10, data: path });
      for (const step of [0, 5, 9]) {
        const batch = trainingBatch(config, step, data);
        const expected = dataset.streamBatch(TRAIN.dataSeed, step * 4, 4);
        assert.deepEqual(batch.captions, expected.captions);
        assert.deepEqual(Array.from(batch.images), Array.from(expected.images));
      }
      assert.throws(() => trainingBatch(config, 0, null), /not open \(no data cache given\)/);
      assert.throws(() => trainingBatch(normaliseStageConfig({ ...TRAIN, steps: 10 }), 0, data), /configuration names the Shapes generator/);
      assert.throws(() => normaliseStageConfig({ ...TRAIN, steps: 10, data: path, datasetSize: 8 }), /datasetSize applies to the Shapes generator/);
    } finally {
      data.close();
      dataset.close();
    }
  });

  test('VAE from a cache: stopped and resumed gives the same weights, optimiser and log as a straight run, and not the generator’s', async () => {
    const path = trainingCachePath(cache);
    const opts = { stageOptions: {}, saveEvery: 1000, evalEvery: 0, progress: false, publish: () => {}, log: () => {} };
    const run = async (out: string, data: string | null, maxSteps?: number, resume = false): Promise<void> => {
      const trainer = new VaeTrainer(e, { ...TRAIN, steps: 5, data }, TINY_VAE);
      const opened = data === null ? null : openTrainingCache(data);
      trainer.trainingData = opened;
      try {
        await runStage(trainer, { ...opts, out, resumeFrom: resume ? readStageState(out, 'vae') : null, maxSteps });
      } finally {
        opened?.close();
        trainer.dispose();
      }
    };
    const straight = join(dir, 'vae-straight');
    const parts = join(dir, 'vae-parts');
    const generator = join(dir, 'vae-generator');
    await run(straight, path);
    await run(parts, path, 2);
    assert.equal(readStageState(parts, 'vae').step, 2);
    await run(parts, path, undefined, true);
    await run(generator, null);
    const bytes = (out: string, name: string): Buffer => readFileSync(join(out, 'state', `${name}.safetensors`));
    for (const name of ['model', 'ema', 'optimizer']) assert.ok(bytes(straight, name).equals(bytes(parts, name)), `${name} differs after resume`);
    assert.ok(!bytes(straight, 'model').equals(bytes(generator, 'model')), 'the cache run trained on the generator’s batches');
    const losses = (out: string): string[] => readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss?: number }).filter((l) => l.loss !== undefined).map((l) => `${l.step}:${l.loss}`);
    assert.deepEqual(losses(parts), losses(straight));
    assert.equal(readStageState(straight, 'vae').training.data, path, 'state.json records the cache');
  });
});

describe('evaluation from a cache', () => {
  test('reads the cache’s test split (train’s own stream for the scaling factor); no Shapes held-out figures', () => {
    const both = join(dir, 'with-test');
    writeShapesCache(both, 12);
    const testSamples = function* (): Generator<{ image: Uint8Array; record: CaptionRecord }> {
      for (let i = 0; i < 8; i++) yield { image: shapesSample(77, i, 'test').image, record: { caption: shapesSample(77, i, 'test').scene.caption } };
    };
    writeCaptionDataset(splitPath(both, 'test'), { name: 'shapes', split: 'test', count: 8, height: 32, width: 32, channels: 3, source: 'test split' }, testSamples());
    const path = trainingCachePath(both);
    const data = openTrainingCache(path);
    const testSet = openCaptionDataset(splitPath(both, 'test'));
    const trainSet = openCaptionDataset(path);
    try {
      assert.equal(data.heldOut?.source, splitPath(both, 'test'));
      const config = normaliseStageConfig({ ...TRAIN, steps: 10, data: path });
      const test = evaluationBatch(config, data, 'test', 6, 5)!;
      assert.deepEqual(test.captions, testSet.streamBatch(6, 0, 5).captions);
      assert.deepEqual(Array.from(test.images), Array.from(testSet.streamBatch(6, 0, 5).images));
      assert.deepEqual(evaluationBatch(config, data, 'train', 7, 5)!.captions, trainSet.streamBatch(7, 0, 5).captions);
      assert.equal(evaluationBatch(config, data, 'held-out', 6, 5), null);
      // Without a cache: the generator’s splits, as before.
      const generator = normaliseStageConfig({ ...TRAIN, steps: 10 });
      assert.deepEqual(evaluationBatch(generator, null, 'held-out', 6, 3)!.captions, shapesBatch(6, 0, 3, 'held-out').captions);
      const trainer = new VaeTrainer(e, { ...TRAIN, steps: 1, data: path }, TINY_VAE);
      trainer.trainingData = data;
      try {
        const figures = trainer.evaluate();
        assert.deepEqual(Object.keys(figures).sort(), ['psnrTest', 'scalingFactor']);
        assert.ok(Number.isFinite(figures.psnrTest) && figures.scalingFactor! > 0);
      } finally {
        trainer.dispose();
      }
    } finally {
      data.close();
      testSet.close();
      trainSet.close();
    }
  });

  test('a test split whose images differ in size from the training split is refused when opened', () => {
    const mixed = join(dir, 'mixed');
    writeShapesCache(mixed, 8);
    writeShapesCache(join(dir, 'mixed-small'), 4, 16);
    for (const ext of ['bin', 'jsonl']) writeFileSync(join(mixed, `test.${ext}`), readFileSync(join(dir, 'mixed-small', `train.${ext}`)));
    assert.throws(() => openTrainingCache(trainingCachePath(mixed)), (err: unknown) => err instanceof DiffusionError && err.code === 'DATA_INVALID' && /test\.bin: 16×16×3 images, but .*train\.bin has 32×32×3/.test(err.message));
  });
});

describe('train-clip --data', () => {
  test('learns its BPE vocabulary from the cache’s captions and trains on the cache', async () => {
    const out = join(dir, 'clip-run');
    const words = join(dir, 'words');
    const samples = function* (): Generator<{ image: Uint8Array; record: CaptionRecord }> {
      for (let i = 0; i < 8; i++) yield { image: shapesSample(1, i, 'train').image, record: { caption: i % 2 ? 'a photo of a sneaker' : 'an ankle boot' } };
    };
    writeCaptionDataset(splitPath(words, 'train'), { name: 'words', split: 'train', count: 8, height: 32, width: 32, channels: 3, source: 'test' }, samples());
    const program = new Command('diffusion').exitOverride();
    registerTextToImageTrainingCommands(program);
    const stdout = process.stdout.write;
    let printed = '';
    // The command prints text; the test runner's own messages (Buffers, written while the
    // training loop yields) pass through.
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) =>
      typeof chunk === 'string' ? ((printed += chunk), true) : (stdout as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest)) as typeof process.stdout.write;
    try {
      await program.parseAsync(['train-clip', '--out', out, '--data', words, '--steps', '1', '--batch-size', '4', '--no-progress', '--backend', 'auto'], { from: 'user' });
    } finally {
      process.stdout.write = stdout;
    }
    assert.equal((JSON.parse(printed) as { step: number }).step, 1);
    const vocab = JSON.parse(readFileSync(join(out, 'tokenizer', 'vocab.json'), 'utf8')) as Record<string, number>;
    for (const word of ['sneaker</w>', 'ankle</w>', 'boot</w>']) assert.ok(word in vocab, `${word} is one token`);
    assert.ok(!('circle</w>' in vocab), 'no Shapes words: the generator’s captions were not used');
    assert.equal(readStageState(out, 'clip').training.data, trainingCachePath(words));
  });
});

describe('train-vae --data errors (one DATA_INVALID / INVALID_ARGUMENT naming the file; no step taken)', () => {
  const cli = async (args: string[]): Promise<void> => {
    const program = new Command('diffusion').exitOverride();
    registerTextToImageTrainingCommands(program);
    await program.parseAsync(args, { from: 'user' });
  };
  const rejects = async (args: string[], code: string, pattern: RegExp, out: string): Promise<void> => {
    await assert.rejects(cli(args), (err: unknown) => {
      assert.ok(err instanceof DiffusionError, String(err));
      assert.equal(err.code, code);
      assert.match(err.message, pattern);
      return true;
    });
    assert.ok(!existsSync(join(out, 'state')), 'no checkpoint written');
  };

  test('a missing cache', async () => {
    const out = join(dir, 'run-missing');
    await rejects(['train-vae', '--out', out, '--data', join(dir, 'nowhere'), '--steps', '2', '--no-progress', '--backend', 'auto'], 'DATA_INVALID', /nowhere\/train\.bin: no such file/, out);
  });

  test('a corrupt chunk is found before the first step', async () => {
    const broken = writeShapesCache(join(dir, 'broken'), COUNT);
    const bin = splitPath(broken, 'train');
    const bytes = readFileSync(bin);
    const header = openCaptionDataset(bin);
    const offset = header.header.imageOffset + 20 * 32 * 32 * 3 + 100; // image 20, in the last chunk
    header.close();
    bytes[offset] ^= 0x40;
    writeFileSync(bin, bytes);
    // Opening reads every chunk: the error comes before any batch is drawn.
    assert.throws(() => openTrainingCache(bin), /chunk 5 \(images 20–21\) fails its CRC-32 check/);
    openCaptionDataset(bin).close(); // the header and captions alone are fine
    const out = join(dir, 'run-corrupt');
    await rejects(['train-vae', '--out', out, '--data', bin, '--steps', '2', '--no-progress', '--backend', 'auto'], 'DATA_INVALID', /train\.bin: chunk 5 \(images 20–21\) fails its CRC-32 check \(corrupt\)/, out);
  });

  test('images of another size than the model takes', async () => {
    const small = writeShapesCache(join(dir, 'small'), 4, 16);
    const out = join(dir, 'run-small');
    await rejects(['train-vae', '--out', out, '--data', small, '--steps', '2', '--no-progress', '--backend', 'auto'], 'DATA_INVALID', /16×16×3 images, but the VAE takes 32×32×3/, out);
  });

  test('--resume --lr lowers the learning rate from the resumed step on and saves it with the run', async () => {
    const out = join(dir, 'run-lr');
    const trainer = new VaeTrainer(e, { ...TRAIN, steps: 1 }, TINY_VAE);
    await runStage(trainer, { out, resumeFrom: null, stageOptions: TINY_VAE as unknown as Record<string, unknown>, saveEvery: 1000, evalEvery: 0, progress: false, publish: () => {}, log: () => {} });
    trainer.dispose();
    const statePath = join(out, 'state', 'state.json');
    const saved = (JSON.parse(readFileSync(statePath, 'utf8')) as { training: { learningRate: number } }).training.learningRate;
    await cli(['train-vae', '--out', out, '--resume', '--lr', String(saved / 4), '--steps', '2', '--no-progress', '--backend', 'auto']);
    const after = JSON.parse(readFileSync(statePath, 'utf8')) as { step: number; training: { learningRate: number } };
    assert.equal(after.step, 2);
    assert.equal(after.training.learningRate, saved / 4);
  });

  test('--resume with another --data than the run was started with', async () => {
    const out = join(dir, 'run-generator');
    const path = trainingCachePath(cache);
    // A run on the generator (a tiny stand-in state, as an earlier version of the CLI saved it: no data field).
    const trainer = new VaeTrainer(e, { ...TRAIN, steps: 1 }, TINY_VAE);
    await runStage(trainer, { out, resumeFrom: null, stageOptions: TINY_VAE as unknown as Record<string, unknown>, saveEvery: 1000, evalEvery: 0, progress: false, publish: () => {}, log: () => {} });
    trainer.dispose();
    const statePath = join(out, 'state', 'state.json');
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as { training: Record<string, unknown> };
    delete state.training.data;
    writeFileSync(statePath, JSON.stringify(state));
    await assert.rejects(cli(['train-vae', '--out', out, '--resume', '--data', path, '--steps', '2', '--no-progress', '--backend', 'auto']), /the run in .* reads the Shapes generator; a resumed run keeps its data/);
  });
});

describe('a training stage under Ctrl-C', () => {
  test('SIGINT stops train-vae between steps: exit 130, "interrupted", the last checkpoint intact and resumable', async () => {
    // The stage loop used to run without turning the event loop, so the CLI's signal handler
    // never ran: a Ctrl-C went unanswered until --time-limit or the last step.
    const out = join(dir, 'interrupted');
    const bin = fileURLToPath(new URL('../bin/diffusion.js', import.meta.url));
    const child = spawn(process.execPath, [bin, 'train-vae', '--out', out, '--steps', '100000', '--batch-size', '2', '--save-every', '2', '--no-progress', '--backend', 'auto'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait for a few steps and a checkpoint, then interrupt.
    const logPath = join(out, 'log.jsonl');
    const deadline = Date.now() + 120_000;
    while (!(existsSync(join(out, 'state', 'state.json')) && existsSync(logPath) && readFileSync(logPath, 'utf8').split('\n').length > 5)) {
      if (Date.now() > deadline || child.exitCode !== null) assert.fail(`no checkpoint in time: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGINT');
    // A run that does not answer within 20 s is killed, and the test fails.
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<'unanswered'>((resolve) => (timer = setTimeout(() => resolve('unanswered'), 20_000)))]);
    clearTimeout(timer);
    if (code === 'unanswered') child.kill('SIGKILL');
    assert.equal(code, 130, stderr);
    assert.match(stderr, /diffusion: interrupted/);
    const saved = readStageState(out, 'vae');
    assert.ok(saved.step >= 2 && saved.step % 2 === 0, `checkpoint at step ${saved.step}`);
    assert.deepEqual(readdirSync(join(out, 'state')).filter((f) => f.includes('.tmp')), [], 'no temporary files left');
  });
});
