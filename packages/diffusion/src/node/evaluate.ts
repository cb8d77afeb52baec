/** Node-only: evaluation — conditional accuracy and Fréchet distance on the project's classifier features. */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '@flashdiff/cli-kit';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors } from '../checkpoint/safetensors.ts';
import type { ImageDataset } from '../data/dataset.ts';
import { subset } from '../data/dataset.ts';
import { DiffusionError } from '../errors.ts';
import { classifierConfigFor, classify, createClassifier, trainClassifier } from '../eval/classifier-train.ts';
import { fitGaussian, frechetDistance } from '../eval/frechet.ts';
import type { Classifier } from '../models/classifier.ts';
import type { DiffusionModel } from '../models/index.ts';
import { Random } from '../rng.ts';
import { sampleImages } from '../sample.ts';
import type { NoiseScheduler } from '../schedulers/index.ts';
import type { TensorEngine } from '../tensor/engine.ts';

export interface EvalOptions {
  n: number;
  scheduler: NoiseScheduler;
  steps: number;
  guidance: number;
  seed: number;
  classifierEpochs: number;
  /** Directory for the cached classifier (a sub-folder of the checkpoint). */
  cacheDir: string;
  log?: (line: string) => void;
}

export interface EvalReport {
  accuracy: number;
  fd: number;
  fdRealVsReal: number;
  n: number;
  sampler: string;
  steps: number;
  guidance: number;
  /** The evaluation classifier's accuracy on held-out real images (see classifierSplit). */
  classifierAccuracy: number;
  sampleSeconds: number;
}

function fingerprint(d: ImageDataset): string {
  // Cheap identity of the data the classifier was trained on: name, shape and a sparse checksum.
  let sum = 0;
  const stride = Math.max(1, Math.floor(d.images.length / 4096));
  for (let i = 0; i < d.images.length; i += stride) sum = (sum * 31 + Math.round(d.images[i] * 1000)) % 1e9;
  return `${d.name}:${d.count}x${d.height}x${d.width}x${d.channels}:${d.numClasses}:${sum}`;
}

/**
 * The images the evaluation classifier never trains on, so that its accuracy on real data is an
 * honest held-out figure: a fixed, seeded 10 % of the data (at most 1,000 images).
 */
export function classifierSplit(d: ImageDataset): { train: Int32Array; heldOut: Int32Array } {
  const order = new Random(20_231_123).permutation(d.count);
  const heldOutCount = Math.min(1000, Math.floor(d.count / 10));
  return { heldOut: order.subarray(0, heldOutCount), train: order.subarray(heldOutCount) };
}

/** Load the cached classifier for this data, or train (on the non-held-out part) and cache one. */
export function loadOrTrainClassifier(engine: TensorEngine, d: ImageDataset, cacheDir: string, epochs: number, log: (line: string) => void): Classifier {
  const file = join(cacheDir, 'classifier.safetensors');
  const key = fingerprint(d);
  if (existsSync(file)) {
    try {
      const parsed = decodeSafetensors(new Uint8Array(readFileSync(file)), file);
      if (parsed.metadata.data === key && parsed.metadata.epochs === String(epochs) && parsed.metadata.split === 'held-out-10' && parsed.metadata.augment === 'shift-1') {
        const c = createClassifier(engine, classifierConfigFor(d));
        c.params.importValues(parsed.tensors, file);
        return c;
      }
    } catch (err) {
      log(`ignoring cached classifier: ${(err as Error).message}`);
    }
  }
  const train = subset(d, classifierSplit(d).train, `${d.name} (classifier training part)`);
  log(`training the evaluation classifier on ${train.count} of ${d.count} ${d.name} images (${epochs} epochs)…`);
  const c = trainClassifier(engine, train, { epochs, batchSize: 100, learningRate: 2e-3, seed: 7, maxShift: 1, onEpoch: (ep, loss) => log(`  classifier epoch ${ep + 1}: loss ${loss.toFixed(4)}`) });
  writeFileAtomic(file, encodeSafetensors(c.params.exportValues(), { data: key, epochs: String(epochs), split: 'held-out-10', augment: 'shift-1' }));
  return c;
}

export async function evaluateModel(engine: TensorEngine, model: DiffusionModel, data: ImageDataset, options: EvalOptions): Promise<EvalReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  if (!data.labels) throw new DiffusionError('DATA_INVALID', `${data.name}: evaluation needs labelled data`);
  const n = options.n;
  if (2 * n > data.count) throw new DiffusionError('INVALID_ARGUMENT', `--n ${n}: need 2·n ≤ ${data.count} real images for the real-vs-real distance`);
  const classifier = loadOrTrainClassifier(engine, data, options.cacheDir, options.classifierEpochs, log);
  try {
    const random = new Random(options.seed);
    const order = random.permutation(data.count);
    const realA = subset(data, order.subarray(0, n), 'real-a');
    const realB = subset(data, order.subarray(n, 2 * n), 'real-b');
    const classes = Int32Array.from({ length: n }, (_, i) => i % data.numClasses);
    const t0 = performance.now();
    const generated = await sampleImages(engine, model, {
      scheduler: options.scheduler,
      steps: options.steps,
      n,
      context: { kind: 'per-sample', classes },
      guidance: options.guidance,
      random,
      maxBatch: 100,
    });
    const sampleSeconds = (performance.now() - t0) / 1000;
    const gen = classify(engine, classifier, generated.images, n);
    const a = classify(engine, classifier, realA.images, n);
    const b = classify(engine, classifier, realB.images, n);
    let correct = 0;
    for (let i = 0; i < n; i++) if (gen.predictions[i] === classes[i]) correct += 1;
    // The classifier's own accuracy, on real images it was not trained on.
    const heldOut = subset(data, classifierSplit(data).heldOut, 'held-out');
    const h = classify(engine, classifier, heldOut.images, heldOut.count);
    let realCorrect = 0;
    for (let i = 0; i < heldOut.count; i++) if (h.predictions[i] === (heldOut.labels as Int32Array)[i]) realCorrect += 1;
    const dim = gen.featureDim;
    const ga = fitGaussian(a.features, n, dim);
    return {
      accuracy: correct / n,
      fd: frechetDistance(ga, fitGaussian(gen.features, n, dim)),
      fdRealVsReal: frechetDistance(ga, fitGaussian(b.features, n, dim)),
      n,
      sampler: options.scheduler.config.kind,
      steps: options.steps,
      guidance: options.guidance,
      classifierAccuracy: realCorrect / heldOut.count,
      sampleSeconds: Math.round(sampleSeconds * 10) / 10,
    };
  } finally {
    classifier.params.dispose();
  }
}
