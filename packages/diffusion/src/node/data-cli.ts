/**
 * `diffusion data …` — write the issue-15 data sets to their cache, preview them, measure the
 * Shapes detector and train the Fashion-MNIST evaluation classifier. Registered on the main
 * program by src/cli.ts; errors propagate to its handler (one line; exit 2 for bad flags and bad
 * data, 1 otherwise). Progress goes to stderr on a TTY; results to stdout.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensureDirectory } from '@flashdiff/cli-kit';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { BACKENDS, type BackendName, initBackend } from '../backend-node.ts';
import { type CaptionRecord, openCaptionDataset, splitPath, writeCaptionDataset } from '../data/caption-dataset.ts';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, FASHION_MNIST_SPLITS, fashionMnistSamples, loadFashionMnistRaw } from '../data/fashion-mnist.ts';
import { SHAPES_SPLITS, type ShapesScene, type ShapesSplit, shapesSample } from '../data/shapes.ts';
import { measureDetectorAccuracy } from '../eval/shapes-detector.ts';
import { imagesToGrid } from '../image/grid.ts';
import { encodePng } from '../image/png-node.ts';
import { Random } from '../rng.ts';
import { trainFashionClassifier } from './fashion-classifier.ts';

const integer = (min: number) => (value: string): number => {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer ≥ ${min}`);
  return n;
};
const unitFloat = (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('must be a number in [0, 1]');
  return n;
};

function progress(what: string): (done: number) => void {
  return (done) => {
    if (process.stderr.isTTY) process.stderr.write(`\r${what}: ${done}`);
  };
}
function endProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\n');
}

/** The attributes stored with a Shapes caption (centroids rounded to 1/1000 px). */
export function shapesRecord(scene: ShapesScene): CaptionRecord {
  return {
    caption: scene.caption,
    attributes: {
      objects: scene.objects.map((o) => ({ colour: o.colour, shape: o.shape, size: o.size, side: o.side, bbox: o.bbox, centroid: o.centroid.map((v) => Math.round(v * 1000) / 1000) })),
      relation: scene.relation,
      sizeStated: scene.sizeStated,
    },
  };
}

function* shapesSplitSamples(seed: number, split: ShapesSplit, n: number): Generator<{ image: Uint8Array; record: CaptionRecord }> {
  for (let i = 0; i < n; i++) {
    const { scene, image } = shapesSample(seed, i, split);
    yield { image, record: shapesRecord(scene) };
  }
}

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('make, preview and check the text-to-image data sets (Shapes, Fashion-MNIST)');

  data
    .command('shapes')
    .description('write the Shapes data set: <out>/train (n scenes), test (held-in pairs) and held-out (scenes with a held-out colour–shape pair)')
    .option('--n <n>', 'training scenes', integer(1), 50_000)
    .option('--test-n <n>', 'test scenes (default n/10, at least 1)', integer(1))
    .option('--held-out-n <n>', 'held-out scenes (default n/10, at least 1)', integer(1))
    .option('--seed <n>', 'seed', integer(0), 0)
    .requiredOption('--out <dir>', 'output directory')
    .action((o) => {
      const counts: Record<ShapesSplit, number> = { train: o.n, test: o.testN ?? Math.max(1, Math.round(o.n / 10)), 'held-out': o.heldOutN ?? Math.max(1, Math.round(o.n / 10)) };
      const summary: Record<string, unknown> = { out: o.out, seed: o.seed };
      for (const split of SHAPES_SPLITS) {
        const path = splitPath(o.out, split);
        const header = writeCaptionDataset(
          path,
          { name: 'shapes', split, count: counts[split], height: 32, width: 32, channels: 3, source: `shapes grammar (issue 15), seed ${o.seed}, split ${split}, samples 0..${counts[split] - 1}` },
          shapesSplitSamples(o.seed, split, counts[split]),
          progress(`shapes ${split}`),
        );
        endProgress();
        summary[split] = { file: path, count: header.count };
      }
      process.stdout.write(JSON.stringify(summary) + '\n');
    });

  data
    .command('fashion-mnist')
    .description(`write Fashion-MNIST with captions (32×32 RGB): <out>/train (60,000) and <out>/test (10,000), from Debian's dataset-fashion-mnist`)
    .option('--source <dir>', 'folder holding the four idx .gz files', FASHION_MNIST_DIR)
    .option('--seed <n>', 'seed of the caption templates', integer(0), 0)
    .requiredOption('--out <dir>', 'output directory')
    .action((o) => {
      // Read both splits before writing anything, so that a bad source leaves no partial output.
      const raw = Object.fromEntries(FASHION_MNIST_SPLITS.map((split) => [split, loadFashionMnistRaw(split, o.source)]));
      const summary: Record<string, unknown> = { out: o.out, source: o.source, seed: o.seed };
      FASHION_MNIST_SPLITS.forEach((split, k) => {
        const path = splitPath(o.out, split);
        const header = writeCaptionDataset(
          path,
          { name: 'fashion-mnist', split, count: raw[split].count, height: 32, width: 32, channels: 3, classNames: [...FASHION_MNIST_CLASSES], source: `${o.source} (${split}), padded to 32×32, grey copied to RGB; caption seed ${o.seed}` },
          fashionMnistSamples(raw[split], o.seed + k),
          progress(`fashion-mnist ${split}`),
        );
        endProgress();
        summary[split] = { file: path, count: header.count };
      });
      process.stdout.write(JSON.stringify(summary) + '\n');
    });

  data
    .command('preview')
    .description('write a PNG grid of random samples of a cached split; print their captions (grid order, row by row)')
    .argument('<dir>', 'data set directory (as written by data shapes / data fashion-mnist)')
    .option('--split <name>', 'split', 'train')
    .option('--n <n>', 'images', integer(1), 64)
    .option('--columns <n>', 'grid columns (default √n)', integer(1))
    .option('--seed <n>', 'which samples', integer(0), 0)
    .requiredOption('--out <file.png>', 'output PNG')
    .action((dir: string, o) => {
      const dataset = openCaptionDataset(dir, o.split);
      try {
        const n = Math.min(o.n, dataset.count);
        const indices = new Random(o.seed).permutation(dataset.count).slice(0, n);
        const images = dataset.readImages(indices);
        const { height, width, channels } = dataset.header;
        const columns: number = o.columns ?? Math.ceil(Math.sqrt(n));
        ensureDirectory(dirname(o.out));
        const tmp = `${o.out}.tmp-${process.pid}`;
        writeFileSync(tmp, encodePng(imagesToGrid(images, n, height, width, channels, columns)));
        renameSync(tmp, o.out);
        const lines = Array.from(indices, (k, i) => `${Math.floor(i / columns)},${i % columns}\t#${k}\t${dataset.records[k].caption}`);
        process.stdout.write(lines.join('\n') + '\n');
      } finally {
        dataset.close();
      }
    });

  data
    .command('check-detector')
    .description('measure the Shapes attribute detector on ground-truth scenes: clean, with Gaussian noise, 3×3 blur, both')
    .option('--n <n>', 'scenes', integer(1), 5000)
    .option('--seed <n>', 'seed of the scenes and the noise', integer(0), 0)
    .addOption(new Option('--split <name>', 'which scenes').choices(SHAPES_SPLITS).default('train'))
    .option('--noise <sigma>', 'Gaussian noise σ (images in [0, 1])', unitFloat, 0.05)
    .action((o) => {
      const report = measureDetectorAccuracy({ n: o.n, seed: o.seed, split: o.split as ShapesSplit, noiseSigma: o.noise });
      process.stdout.write(JSON.stringify(report) + '\n');
    });

  data
    .command('fashion-classifier')
    .description('train the Fashion-MNIST evaluation classifier on a cached train split; report its test-split accuracy')
    .requiredOption('--data <dir>', 'directory written by data fashion-mnist')
    .option('--epochs <n>', 'epochs', integer(1), 3)
    .option('--limit <n>', 'train on the first n images only (quick runs)', integer(1))
    .option('--seed <n>', 'seed', integer(0), 7)
    .option('--out <file>', 'classifier weights (default <data>/classifier.safetensors)')
    .addOption(new Option('--backend <name>', 'tensor backend').choices(BACKENDS).default('auto'))
    .action(async (o) => {
      const train = openCaptionDataset(o.data, 'train');
      const test = openCaptionDataset(o.data, 'test');
      try {
        const engine = await initBackend(o.backend as BackendName);
        const out: string = o.out ?? join(o.data, 'classifier.safetensors');
        const report = trainFashionClassifier(engine, train, test, { epochs: o.epochs, seed: o.seed, limit: o.limit, out, log: (line) => process.stderr.write(line + '\n') });
        process.stdout.write(JSON.stringify({ out, backend: engine.name, ...report }) + '\n');
      } finally {
        train.close();
        test.close();
      }
    });
}
