/**
 * Node-only: choose and initialise the tfjs backend behind the TensorEngine seam.
 * wasm (default): tfjs-backend-wasm with SIMD, one thread; its .wasm files are located next to the
 * package's dist/ entry. cpu: tfjs's pure-JS backend. tensorflow: @tensorflow/tfjs-node, an optional
 * peer that is loaded only when asked for. native: @flashdiff/diffusion-native's tfjs backend (oneDNN
 * convolutions, OpenBLAS matrix products, OpenMP loops; built at npm install when Debian's
 * libopenblas-dev is present), with its fused GELU and training BatchNorm and tfjs's own convolution
 * gradients. auto: native when its addon is built, wasm otherwise.
 * diffusion-native is imported dynamically here only, so the browser entry never reaches it.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { DiffusionError } from './errors.ts';
import { TfjsEngine } from './tensor/tfjs-engine.ts';
import type { TensorEngine } from './tensor/engine.ts';
import type { TfjsEngineOptions } from './tensor/tfjs-engine.ts';

export const BACKENDS = ['wasm', 'cpu', 'tensorflow', 'native', 'auto'] as const;
export type BackendName = (typeof BACKENDS)[number];

let current: { backend: BackendName; engine: TensorEngine } | null = null;

/** Registers diffusion-native's 'native' backend; null (and the reason) when its addon is not built. */
async function loadNative(): Promise<{ options: TfjsEngineOptions } | { reason: string }> {
  const native = await import('@flashdiff/diffusion-native');
  if (!(await native.registerNativeBackend(tf))) return { reason: native.nativeBackendUnavailableReason() };
  return { options: { fusedOps: {
        gelu: native.gelu,
        silu: native.silu,
        batchNormTraining: native.batchNormTraining,
        groupNorm: native.groupNorm,
        layerNorm: native.layerNorm,
        adamUpdate: native.nativeAdamUpdate,
        squareSum: native.nativeSquareSum,
        emaUpdate: native.nativeEmaUpdate,
      }, backendConvGradients: true } };
}

export async function initBackend(requested: BackendName = 'wasm'): Promise<TensorEngine> {
  if (current && current.backend === requested) return current.engine;
  let backend: Exclude<BackendName, 'auto'> = requested === 'auto' ? 'native' : requested;
  let options: TfjsEngineOptions = {};
  if (backend === 'native') {
    const native = await loadNative();
    if ('reason' in native) {
      if (requested !== 'auto') throw new DiffusionError('BACKEND_UNAVAILABLE', `--backend native is unavailable: ${native.reason}; use --backend wasm instead`);
      backend = 'wasm';
    } else {
      options = native.options;
    }
  } else if (backend === 'cpu') {
    // tfjs-backend-cpu has real Conv2DBackpropInput/Filter kernels (only wasm lacks them).
    options = { backendConvGradients: true };
  }
  if (backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    const dist = require.resolve('@tensorflow/tfjs-backend-wasm').replace(/[^/\\]+$/, '');
    wasm.setWasmPaths(dist);
    // Threads are not used: they need worker files and gain little on 2 shared cores.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  } else if (backend === 'tensorflow') {
    try {
      const moduleName = '@tensorflow/tfjs-node';
      await import(/* @vite-ignore */ moduleName);
      options = { backendConvGradients: true };
    } catch {
      throw new DiffusionError(
        'BACKEND_UNAVAILABLE',
        '--backend tensorflow needs the optional package @tensorflow/tfjs-node (npm install @tensorflow/tfjs-node); use --backend wasm instead',
      );
    }
  }
  const ok = await tf.setBackend(backend);
  if (!ok) throw new DiffusionError('BACKEND_UNAVAILABLE', `tfjs backend "${backend}" failed to initialise`);
  await tf.ready();
  const engine = new TfjsEngine(`tfjs-${backend}`, options);
  current = { backend: requested, engine };
  return engine;
}
