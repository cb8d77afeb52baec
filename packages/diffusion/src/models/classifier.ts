import { DiffusionError } from '../errors.ts';
import type { Tensor, TensorEngine } from '../tensor/engine.ts';
import { Conv2d, Dense } from './layers.ts';
import type { ParameterStore } from './parameters.ts';

/**
 * The evaluation classifier: a small CNN trained by the project on the same data.
 * conv3×3(c1)–ReLU–maxpool2 → conv3×3(c2)–ReLU–maxpool2 → dense(hidden)–ReLU [features] → dense(classes).
 * The ReLU'd hidden layer is the penultimate feature vector used for the Fréchet distance.
 */
export interface ClassifierConfig {
  kind: 'classifier';
  inChannels: number;
  height: number;
  width: number;
  numClasses: number;
  channels: [number, number];
  hidden: number;
}

export class Classifier {
  private readonly conv1: Conv2d;
  private readonly conv2: Conv2d;
  private readonly fc1: Dense;
  private readonly fc2: Dense;
  constructor(
    readonly config: ClassifierConfig,
    readonly params: ParameterStore,
  ) {
    const c = config;
    if (c.height % 4 !== 0 || c.width % 4 !== 0) throw new DiffusionError('INVALID_CONFIG', 'classifier: image sides must be multiples of 4');
    this.conv1 = new Conv2d(params, 'conv1', c.inChannels, c.channels[0], 3);
    this.conv2 = new Conv2d(params, 'conv2', c.channels[0], c.channels[1], 3);
    this.fc1 = new Dense(params, 'fc1', (c.height / 4) * (c.width / 4) * c.channels[1], c.hidden);
    this.fc2 = new Dense(params, 'fc2', c.hidden, c.numClasses);
  }
  features(e: TensorEngine, x: Tensor): Tensor {
    const n = x.shape[0];
    let h = e.maxPool(e.relu(this.conv1.apply(e, x)), 2);
    h = e.maxPool(e.relu(this.conv2.apply(e, h)), 2);
    return e.relu(this.fc1.apply(e, e.reshape(h, [n, h.size / n])));
  }
  logits(e: TensorEngine, x: Tensor): Tensor {
    return this.fc2.apply(e, this.features(e, x));
  }
}
