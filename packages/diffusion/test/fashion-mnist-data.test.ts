import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { initBackend } from '../src/backend-node.ts';
import { openCaptionDataset, writeCaptionDataset } from '../src/data/caption-dataset.ts';
import { COLOUR_NAMES, SHAPE_NAMES, SIZE_NAMES } from '../src/data/shapes.ts';
import {
  FASHION_CAPTION_TEMPLATES,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  FASHION_MNIST_NOUNS,
  fashionCaption,
  fashionClassFromPrompt,
  fashionEvaluationPrompts,
  fashionMnistSamples,
  loadFashionMnistRaw,
  padTo32Rgb,
} from '../src/data/fashion-mnist.ts';
import { classifyFashion, loadFashionClassifier, trainFashionClassifier } from '../src/node/fashion-classifier.ts';

const dir = mkdtempSync(join(tmpdir(), 'diffusion-fashion-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function idx(dims: number[], data: Uint8Array): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  const view = new DataView(head.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/** A fake Fashion-MNIST folder: `count` images per split, image k of class k % 10 is a bar at row 2k % 28 of value 200 + label. */
function writeFakeFashion(folder: string, count = 20): void {
  mkdirSync(folder, { recursive: true });
  for (const [images, labels] of [
    ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'],
    ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'],
  ]) {
    const pixels = new Uint8Array(count * 784);
    const classes = new Uint8Array(count);
    for (let k = 0; k < count; k++) {
      classes[k] = k % 10;
      for (let x = 0; x < 28; x++) pixels[k * 784 + ((2 * classes[k]) % 28) * 28 + x] = 200 + classes[k];
    }
    writeFileSync(join(folder, images), gzipSync(idx([count, 28, 28], pixels)));
    writeFileSync(join(folder, labels), gzipSync(idx([count], classes)));
  }
}

describe('Fashion-MNIST with captions', () => {
  const fake = join(dir, 'fake');
  writeFakeFashion(fake);

  test('idx files read, padded to 32×32 RGB, captions name the class', () => {
    const raw = loadFashionMnistRaw('train', fake);
    assert.equal(raw.count, 20);
    assert.deepEqual(Array.from(raw.labels.subarray(0, 12)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    const padded = padTo32Rgb(raw.images.subarray(3 * 784, 4 * 784));
    // Class 3: row 6 of the 28×28 image → row 8 of the 32×32 one, columns 2..29, grey in R, G, B.
    for (let x = 0; x < 32; x++) {
      const v = x >= 2 && x < 30 ? 203 : 0;
      assert.deepEqual(Array.from(padded.subarray((8 * 32 + x) * 3, (8 * 32 + x) * 3 + 3)), [v, v, v]);
    }
    let lit = 0;
    for (const v of padded) lit += Number(v > 0);
    assert.equal(lit, 28 * 3);
    const samples = [...fashionMnistSamples(raw, 0)];
    assert.equal(samples.length, 20);
    const templates = new Set<string>();
    for (const { record } of samples) {
      assert.equal(fashionClassFromPrompt(record.caption), record.label, record.caption);
      templates.add(record.caption.replace(FASHION_MNIST_NOUNS[record.label as number], '{}'));
    }
    assert.ok(templates.size >= 3, `seeded template choice: ${[...templates]}`);
    assert.deepEqual([...fashionMnistSamples(raw, 0)].map((s) => s.record), samples.map((s) => s.record));
  });

  test('every template and class parses back to its class', () => {
    for (let label = 0; label < 10; label++) {
      for (let t = 0; t < FASHION_CAPTION_TEMPLATES.length; t++) assert.equal(fashionClassFromPrompt(fashionCaption(label, t)), label, fashionCaption(label, t));
    }
    assert.equal(fashionCaption(9, 1), 'a photo of an ankle boot');
    // No Shapes word in any Fashion caption, so one text encoder can serve both sets.
    const shapesWords = new Set<string>([...COLOUR_NAMES, ...SHAPE_NAMES, ...SIZE_NAMES]);
    for (let label = 0; label < 10; label++) {
      for (let t = 0; t < FASHION_CAPTION_TEMPLATES.length; t++) assert.ok(fashionCaption(label, t).split(' ').every((w) => !shapesWords.has(w)), fashionCaption(label, t));
    }
    assert.equal(fashionClassFromPrompt('a sneaker'), 7);
    assert.equal(fashionClassFromPrompt('a red circle'), null);
    assert.deepEqual(fashionEvaluationPrompts().map((p) => p.label), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('missing folder, truncated and corrupt idx files: DATA_INVALID naming the file', () => {
    const expectInvalid = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (err: Error & { code?: string }) => err.code === 'DATA_INVALID' && pattern.test(err.message), pattern.source);
    expectInvalid(() => loadFashionMnistRaw('train', join(dir, 'absent')), /absent: Fashion-MNIST not found; install it with `apt-get install dataset-fashion-mnist`/);
    const broken = join(dir, 'broken');
    writeFakeFashion(broken, 10);
    const images = join(broken, 'train-images-idx3-ubyte.gz');
    writeFileSync(images, gzipSync(idx([10, 28, 28], new Uint8Array(10 * 784)).subarray(0, 4000)));
    expectInvalid(() => loadFashionMnistRaw('train', broken), /train-images-idx3-ubyte\.gz: 3984 data bytes for shape \(10, 28, 28\)/);
    writeFileSync(images, Buffer.from('not gzip'));
    expectInvalid(() => loadFashionMnistRaw('train', broken), /train-images-idx3-ubyte\.gz: not a valid gzip file/);
    writeFileSync(images, gzipSync(new Uint8Array([0, 0, 0x0d, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28])));
    expectInvalid(() => loadFashionMnistRaw('train', broken), /train-images-idx3-ubyte\.gz: not an idx file of unsigned bytes/);
    writeFakeFashion(broken, 10);
    writeFileSync(join(broken, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([9], new Uint8Array(9))));
    expectInvalid(() => loadFashionMnistRaw('train', broken), /train-labels-idx1-ubyte\.gz: 9 labels for the 10 images/);
    writeFileSync(join(broken, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([10], new Uint8Array(10).fill(12))));
    expectInvalid(() => loadFashionMnistRaw('train', broken), /label 12 at index 0 outside 0\.\.9/);
    rmSync(join(broken, 't10k-images-idx3-ubyte.gz'));
    expectInvalid(() => loadFashionMnistRaw('test', broken), /t10k-images-idx3-ubyte\.gz: cannot read \(ENOENT\)/);
  });

  test('the Debian package: 10,000 test images, 1,000 per class', { skip: !existsSync(FASHION_MNIST_DIR) && `${FASHION_MNIST_DIR} not installed` }, () => {
    const raw = loadFashionMnistRaw('test');
    assert.equal(raw.count, 10_000);
    const perClass = new Array<number>(10).fill(0);
    for (const l of raw.labels) perClass[l] += 1;
    assert.deepEqual(perClass, new Array<number>(10).fill(1000));
    // Background black, garment bright: corners of every image are dark.
    let cornerSum = 0;
    for (let k = 0; k < 200; k++) cornerSum += raw.images[k * 784] + raw.images[k * 784 + 27];
    assert.ok(cornerSum / 400 < 5, `corner mean ${cornerSum / 400}`);
  });

  test('evaluation classifier: trains on a cached split, saves, loads, classifies RGB in [0, 1]', async () => {
    const cache = join(dir, 'cache');
    for (const split of ['train', 'test'] as const) {
      const raw = loadFashionMnistRaw(split, fake);
      writeCaptionDataset(join(cache, `${split}.bin`), { name: 'fashion-mnist', split, count: raw.count, height: 32, width: 32, channels: 3, classNames: [...FASHION_MNIST_CLASSES], source: 'fake' }, fashionMnistSamples(raw, 1));
    }
    const train = openCaptionDataset(cache, 'train');
    const testSplit = openCaptionDataset(cache, 'test');
    const engine = await initBackend('auto');
    const out = join(cache, 'classifier.safetensors');
    const report = trainFashionClassifier(engine, train, testSplit, { epochs: 1, out });
    assert.equal(report.trainImages, 20);
    assert.equal(report.testImages, 20);
    assert.ok(report.testAccuracy >= 0 && report.testAccuracy <= 1);
    const { classifier, testAccuracy } = loadFashionClassifier(engine, out);
    assert.equal(testAccuracy, report.testAccuracy);
    const images = Float32Array.from(testSplit.readImages([0, 1, 2]), (v) => (v + 1) / 2);
    const predictions = classifyFashion(engine, classifier, images, 3);
    assert.equal(predictions.length, 3);
    assert.ok(predictions.every((p) => p >= 0 && p < 10));
    classifier.params.dispose();
    train.close();
    testSplit.close();
    assert.throws(() => loadFashionClassifier(engine, join(cache, 'none.safetensors')), /none\.safetensors: no such file/);
  });
});
