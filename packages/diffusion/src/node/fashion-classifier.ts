/**
 * Node-only: the Fashion-MNIST evaluation classifier of issue 15 — the project's MNIST evaluation
 * CNN (src/models/classifier.ts, trained by src/eval/classifier-train.ts) reused at 32×32 on the
 * grey channel of the cached Fashion-MNIST training split, scored on its test split, saved as
 * safetensors with its accuracy in the metadata. Generated RGB samples are averaged to grey before
 * classification, so a colour cast in a sample does not decide its class.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensureDirectory } from '@flashdiff/cli-kit';
import { decodeSafetensors, encodeSafetensors } from '../checkpoint/safetensors.ts';
import type { CaptionDataset } from '../data/caption-dataset.ts';
import { FASHION_MNIST_CLASSES } from '../data/fashion-mnist.ts';
import { DiffusionError } from '../errors.ts';
import { classify, classifierConfigFor, createClassifier, trainClassifier } from '../eval/classifier-train.ts';
import type { Classifier } from '../models/classifier.ts';
import type { TensorEngine } from '../tensor/engine.ts';

export interface FashionClassifierReport {
  trainImages: number;
  testImages: number;
  epochs: number;
  /** Accuracy on the test split (never trained on). */
  testAccuracy: number;
  seconds: number;
}

const CONFIG_BASE = { name: 'fashion-mnist', count: 0, height: 32, width: 32, channels: 1, labels: null, numClasses: 10, classNames: [...FASHION_MNIST_CLASSES], images: new Float32Array(0) };

/** Train on the train split (grey), score on the test split, write `out` (safetensors). */
export function trainFashionClassifier(
  engine: TensorEngine,
  train: CaptionDataset,
  test: CaptionDataset,
  options: { epochs: number; seed?: number; limit?: number; out: string; log?: (line: string) => void },
): FashionClassifierReport {
  const log = options.log ?? (() => {});
  const t0 = performance.now();
  const trainSet = train.toImageDataset({ grey: true, limit: options.limit });
  const testSet = test.toImageDataset({ grey: true });
  if (trainSet.numClasses !== 10 || testSet.numClasses !== 10) throw new DiffusionError('DATA_INVALID', `${train.path}: not a Fashion-MNIST cache (expected 10 classes)`);
  log(`training the Fashion-MNIST classifier on ${trainSet.count} images (${options.epochs} epochs)…`);
  const classifier = trainClassifier(engine, trainSet, {
    epochs: options.epochs,
    batchSize: 100,
    learningRate: 2e-3,
    seed: options.seed ?? 7,
    maxShift: 1,
    onEpoch: (epoch, loss) => log(`  epoch ${epoch + 1}: loss ${loss.toFixed(4)}`),
  });
  try {
    const { predictions } = classify(engine, classifier, testSet.images, testSet.count);
    let correct = 0;
    for (let i = 0; i < testSet.count; i++) if (predictions[i] === (testSet.labels as Int32Array)[i]) correct += 1;
    const report: FashionClassifierReport = { trainImages: trainSet.count, testImages: testSet.count, epochs: options.epochs, testAccuracy: correct / testSet.count, seconds: Math.round((performance.now() - t0) / 100) / 10 };
    ensureDirectory(dirname(options.out));
    const tmp = `${options.out}.tmp-${process.pid}`;
    writeFileSync(tmp, encodeSafetensors(classifier.params.exportValues(), { data: 'fashion-mnist-32-grey', epochs: String(options.epochs), testAccuracy: String(report.testAccuracy), trainImages: String(report.trainImages) }));
    renameSync(tmp, options.out);
    return report;
  } finally {
    classifier.params.dispose();
  }
}

/** Load a classifier written by trainFashionClassifier. */
export function loadFashionClassifier(engine: TensorEngine, file: string): { classifier: Classifier; testAccuracy: number } {
  if (!existsSync(file)) throw new DiffusionError('CHECKPOINT_MISSING', `${file}: no such file (train it with \`diffusion data fashion-classifier --data DIR --out ${file}\`)`);
  const parsed = decodeSafetensors(new Uint8Array(readFileSync(file)), file);
  if (parsed.metadata.data !== 'fashion-mnist-32-grey') throw new DiffusionError('CHECKPOINT_CORRUPT', `${file}: not a Fashion-MNIST classifier (metadata data = ${String(parsed.metadata.data)})`);
  const classifier = createClassifier(engine, classifierConfigFor(CONFIG_BASE));
  classifier.params.importValues(parsed.tensors, file);
  return { classifier, testAccuracy: Number(parsed.metadata.testAccuracy) };
}

/** Classify N×32×32×3 RGB images in [0, 1] (averaged to grey, scaled to [−1, 1]). */
export function classifyFashion(engine: TensorEngine, classifier: Classifier, images: Float32Array, count: number): Int32Array {
  if (images.length !== count * 32 * 32 * 3) throw new DiffusionError('SHAPE_MISMATCH', `classifyFashion: ${images.length} values for ${count}×32×32×3`);
  const grey = new Float32Array(count * 32 * 32);
  for (let p = 0; p < grey.length; p++) grey[p] = ((images[p * 3] + images[p * 3 + 1] + images[p * 3 + 2]) / 3) * 2 - 1;
  return classify(engine, classifier, grey, count).predictions;
}
