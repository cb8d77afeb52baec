/**
 * What the 'native' backend's kernel files share: the shape of a kernel override (the tfjs call's
 * params and the cpu kernel it replaces, to hand the call back to), the context each file's table is
 * built from, and the two checks every override makes on its tensors.
 */
import type * as TF from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './addon.ts';

type TensorInfo = TF.TensorInfo;
export type KernelParams = Parameters<TF.KernelFunc>[0];
export type Attrs = Record<string, unknown>;
/** A replacement kernel: serves the call, or returns `fallback(params)` (the cpu kernel it replaced). */
export type KernelOverride = (params: KernelParams, fallback: TF.KernelFunc) => TensorInfo | TensorInfo[];

export interface KernelContext {
  tf: typeof TF;
  addon: NativeAddon;
  /** The convolution route (an index into CONV_ROUTES), read at each call. */
  route: () => number;
}

/** The float32 values behind a tensor of the cpu backend (callers check the dtype first). */
export function values(backend: MathBackendCPU, t: TensorInfo): Float32Array {
  return backend.data.get(t.dataId).values as Float32Array;
}

/** Whether every given tensor is float32 (the addon's only type); absent optional inputs pass. */
export function allFloat(...ts: Array<TensorInfo | undefined>): boolean {
  return ts.every((t) => t === undefined || t.dtype === 'float32');
}
