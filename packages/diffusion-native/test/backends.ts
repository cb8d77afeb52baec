import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { nativeBackendUnavailableReason, registerNativeBackend, setConvRoute, type ConvRoute } from '../src/index.ts';

/**
 * The backends the numerical suite runs against. 'native' appears twice, once per convolution
 * route. When the addon is not built, the native cases are skipped with the reason, unless
 * FLASHDIFF_REQUIRE_NATIVE=1 (CI, after installing libopenblas-dev/libdnnl-dev) makes them fail.
 */
export interface BackendCase {
  label: string;
  backend: 'cpu' | 'wasm' | 'native';
  route?: ConvRoute;
}

export const BACKEND_CASES: BackendCase[] = [
  { label: 'cpu', backend: 'cpu' },
  { label: 'wasm', backend: 'wasm' },
  { label: 'native (oneDNN convolutions)', backend: 'native', route: 'onednn' },
  { label: 'native (im2col + OpenBLAS convolutions)', backend: 'native', route: 'blas' },
];

export const requireNative = process.env.FLASHDIFF_REQUIRE_NATIVE === '1';

/** null when usable; otherwise why not (the caller skips, or fails when native is required). */
export async function prepareBackend(c: BackendCase): Promise<string | null> {
  if (c.backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const dist = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm').replace(/[^/\\]+$/, '');
    wasm.setWasmPaths(dist);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  }
  if (c.backend === 'native') {
    if (!(await registerNativeBackend(tf))) return nativeBackendUnavailableReason();
    setConvRoute(c.route ?? 'onednn');
  }
  if (!(await tf.setBackend(c.backend))) return `tf.setBackend('${c.backend}') failed`;
  await tf.ready();
  if (c.backend === 'wasm') registerWasmConv2dBackpropFilter();
  return null;
}

/**
 * tfjs-backend-wasm 4.x lacks Conv2DBackpropFilter; a 2-D convolution is a 3-D one of depth 1, so
 * the test describes the tensors in 5-D and calls its Conv3DBackpropFilterV2 (packages/diffusion
 * ships the same fix for training on wasm).
 */
function registerWasmConv2dBackpropFilter(): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  const conv3d = tf.getKernel('Conv3DBackpropFilterV2', 'wasm');
  if (!conv3d) return;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const a = attrs as unknown as { strides: number | [number, number]; pad: 'same' | 'valid'; filterShape: number[] };
      const [sh, sw] = typeof a.strides === 'number' ? [a.strides, a.strides] : a.strides;
      const [kh, kw, ci, co] = a.filterShape;
      const out = conv3d.kernelFunc({
        inputs: {
          x: { dataId: x.dataId, shape: [x.shape[0], 1, ...x.shape.slice(1)], dtype: x.dtype },
          dy: { dataId: dy.dataId, shape: [dy.shape[0], 1, ...dy.shape.slice(1)], dtype: dy.dtype },
        },
        backend,
        attrs: { strides: [1, sh, sw], pad: a.pad, filterShape: [1, kh, kw, ci, co] },
      }) as tf.TensorInfo;
      return { dataId: out.dataId, shape: [kh, kw, ci, co], dtype: out.dtype };
    },
  });
}
