import type { ImageDataset } from '../data/dataset.ts';
import { gatherBatch } from '../data/dataset.ts';
import { Classifier, type ClassifierConfig } from '../models/classifier.ts';
import { ParameterStore } from '../models/parameters.ts';
import { Random } from '../rng.ts';
import type { TensorEngine } from '../tensor/engine.ts';
import { Adam } from '../train/optimizer.ts';
import { DiffusionError } from '../errors.ts';

export interface ClassifierTrainingOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Shift each training image by up to this many pixels in x and y (0 = off); pads with the background value −1. */
  maxShift?: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

export function classifierConfigFor(d: ImageDataset): ClassifierConfig {
  return { kind: 'classifier', inChannels: d.channels, height: d.height, width: d.width, numClasses: d.numClasses, channels: [32, 64], hidden: 128 };
}

export function createClassifier(engine: TensorEngine, config: ClassifierConfig, seed = 0): Classifier {
  return new Classifier(config, new ParameterStore(engine, new Random(seed)));
}

/** Train the evaluation classifier with cross-entropy and Adam (constant learning rate). */
export function trainClassifier(engine: TensorEngine, d: ImageDataset, options: ClassifierTrainingOptions): Classifier {
  if (!d.labels || d.numClasses < 2) throw new DiffusionError('DATA_INVALID', `${d.name}: the evaluation classifier needs labelled data with ≥ 2 classes`);
  const e = engine;
  const classifier = createClassifier(e, classifierConfigFor(d), options.seed);
  const adam = new Adam(e, classifier.params, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, gradClipNorm: 5 });
  const random = new Random(options.seed + 1);
  const trainable = classifier.params.names('trainable').map((n) => classifier.params.get(n));
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const order = random.permutation(d.count);
    let lossSum = 0;
    let batches = 0;
    for (let start = 0; start < d.count; start += options.batchSize) {
      const idx = order.subarray(start, Math.min(d.count, start + options.batchSize));
      const { images, labels } = gatherBatch(d, idx);
      const b = idx.length;
      if (options.maxShift) shiftImages(images, b, d.height, d.width, d.channels, options.maxShift, random);
      const onehot = new Float32Array(b * d.numClasses);
      for (let i = 0; i < b; i++) onehot[i * d.numClasses + (labels as Int32Array)[i]] = 1;
      const x = e.tensor(images, [b, d.height, d.width, d.channels]);
      const y = e.tensor(onehot, [b, d.numClasses]);
      const { value, grads } = e.valueAndGrads(() => e.mulScalar(e.mean(e.sum(e.mul(y, e.logSoftmax(classifier.logits(e, x))), [1])), -1), trainable);
      lossSum += e.readSync(value)[0];
      batches += 1;
      value.dispose();
      x.dispose();
      y.dispose();
      adam.apply(grads, options.learningRate);
    }
    options.onEpoch?.(epoch, lossSum / batches);
  }
  adam.dispose();
  return classifier;
}

/**
 * Random translation augmentation, in place: each image moves by (dx, dy) ∈ [−max, max]², the
 * uncovered border taking the background value −1 (data are scaled to [−1, 1]).
 */
function shiftImages(images: Float32Array, count: number, height: number, width: number, channels: number, max: number, random: Random): void {
  const per = height * width * channels;
  const source = new Float32Array(per);
  for (let i = 0; i < count; i++) {
    const dx = random.int(2 * max + 1) - max;
    const dy = random.int(2 * max + 1) - max;
    if (dx === 0 && dy === 0) continue;
    const image = images.subarray(i * per, (i + 1) * per);
    source.set(image);
    image.fill(-1);
    for (let y = Math.max(0, dy); y < Math.min(height, height + dy); y++) {
      for (let x = Math.max(0, dx); x < Math.min(width, width + dx); x++) {
        const from = ((y - dy) * width + (x - dx)) * channels;
        image.set(source.subarray(from, from + channels), (y * width + x) * channels);
      }
    }
  }
}

/** Predicted class and penultimate features for every image (processed in chunks). */
export function classify(engine: TensorEngine, classifier: Classifier, images: Float32Array, count: number, chunk = 200): { predictions: Int32Array; features: Float32Array; featureDim: number } {
  const { height, width, inChannels: channels, hidden, numClasses } = classifier.config;
  const per = height * width * channels;
  const predictions = new Int32Array(count);
  const features = new Float32Array(count * hidden);
  for (let start = 0; start < count; start += chunk) {
    const b = Math.min(chunk, count - start);
    const [f, logits] = engine.tidy(() => {
      const x = engine.tensor(images.subarray(start * per, (start + b) * per), [b, height, width, channels]);
      const feats = classifier.features(engine, x);
      return [feats, classifier.logits(engine, x)];
    }) as [ReturnType<TensorEngine['zeros']>, ReturnType<TensorEngine['zeros']>];
    features.set(engine.readSync(f), start * hidden);
    const l = engine.readSync(logits);
    for (let i = 0; i < b; i++) {
      let best = 0;
      for (let k = 1; k < numClasses; k++) if (l[i * numClasses + k] > l[i * numClasses + best]) best = k;
      predictions[start + i] = best;
    }
    f.dispose();
    logits.dispose();
  }
  return { predictions, features, featureDim: hidden };
}
