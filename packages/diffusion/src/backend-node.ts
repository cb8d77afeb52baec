/**
 * Node-only: choose and initialise the tfjs backend behind the TensorEngine seam.
 * wasm (default): tfjs-backend-wasm with SIMD, one thread; its .wasm files are located next to the
 * package's dist/ entry. cpu: tfjs's pure-JS backend. tensorflow: @tensorflow/tfjs-node, an optional
 * peer that is loaded only when asked for.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { DiffusionError } from './errors.ts';
import { TfjsEngine } from './tensor/tfjs-engine.ts';
import type { TensorEngine } from './tensor/engine.ts';

export const BACKENDS = ['wasm', 'cpu', 'tensorflow'] as const;
export type BackendName = (typeof BACKENDS)[number];

let current: { backend: BackendName; engine: TensorEngine } | null = null;

export async function initBackend(backend: BackendName = 'wasm'): Promise<TensorEngine> {
  if (current && current.backend === backend) return current.engine;
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
  const engine = new TfjsEngine(`tfjs-${backend}`);
  current = { backend, engine };
  return engine;
}
