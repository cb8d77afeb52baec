export * from './types.ts';
export * from './geometry.ts';
export * from './store.ts';
export * from './device.ts';
export * from './timing.ts';
export * from './ecc/hamming.ts';
export * from './image-store.ts';
export { splitmix32 } from './random.ts';
