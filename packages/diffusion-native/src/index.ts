import type * as TF from '@tensorflow/tfjs';
import { addonUnavailableReason, type ConvRoute, loadAddon } from './addon.ts';
import { installNativeBackend, NATIVE_BACKEND_NAME } from './backend.ts';

/**
 * @flashdiff/diffusion-native — a tfjs backend named 'native' over an N-API addon (oneDNN
 * convolutions, OpenBLAS matrix products, OpenMP elementwise kernels). Usage:
 *
 *   import * as tf from '@tensorflow/tfjs';
 *   import { registerNativeBackend } from '@flashdiff/diffusion-native';
 *   if (await registerNativeBackend(tf)) await tf.setBackend('native');
 */
export { NATIVE_BACKEND_NAME, setConvRoute, getConvRoute, setKernelProfiling, kernelProfile } from './backend.ts';
export { batchNormTraining, gelu, groupNorm, layerNorm, nativeAdamUpdate, nativeEmaUpdate, nativeSquareSum, silu } from './ops.ts';
export type { AdamScalars } from './optimizer-kernels.ts';
export type { ConvRoute };

export class NativeBackendError extends Error {
  readonly code: NativeBackendErrorCode;
  constructor(code: NativeBackendErrorCode, message: string) {
    super(message);
    this.name = 'NativeBackendError';
    this.code = code;
  }
}
export type NativeBackendErrorCode = 'ADDON_UNAVAILABLE' | 'INVALID_THREADS';

/** True when the addon is built and loads on this machine. */
export function nativeBackendAvailable(): boolean {
  return loadAddon() !== null;
}

/** Why the addon is unavailable ('' when it is available). */
export function nativeBackendUnavailableReason(): string {
  return addonUnavailableReason();
}

/**
 * Registers the 'native' backend with this tfjs instance (idempotent). Resolves false when the addon
 * is not built (see nativeBackendUnavailableReason()); it never switches the active backend.
 */
export async function registerNativeBackend(tf: typeof TF): Promise<boolean> {
  const addon = loadAddon();
  if (!addon) return false;
  installNativeBackend(tf, addon);
  return true;
}

/** Threads the addon's kernels use (OpenMP, oneDNN and OpenBLAS); default 2 or FLASHDIFF_NATIVE_THREADS. */
export function setNativeThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new NativeBackendError('INVALID_THREADS', `setNativeThreads: threads must be an integer in 1..256, got ${threads}`);
  }
  const addon = loadAddon();
  if (!addon) throw new NativeBackendError('ADDON_UNAVAILABLE', `setNativeThreads: ${addonUnavailableReason()}`);
  addon.setThreads(threads);
}

/**
 * Give the C heap's free pages back to the system (glibc's malloc_trim): after large tfjs tensors
 * are freed (a model that now runs in onnxruntime), so that the next large allocation does not
 * raise the resident set above what is live. False when nothing was released or the addon is absent.
 */
export function trimMemory(): boolean {
  return loadAddon()?.trimMemory?.() ?? false;
}

export { NATIVE_BACKEND_NAME as BACKEND_NAME };
