// Loading a WebAssembly kernel that scripts/build-kernels.ts stored as base64 in a TypeScript
// module (see kernel/ in this package and in @flashdiff/ssd).
//
// A kernel that cannot be loaded is not an error: the TypeScript code computes the same results,
// only slower. Where that fallback must not pass unnoticed (CI: .ci/run), FLASHDIFF_REQUIRE_KERNEL=1
// turns it into NandError KERNEL_UNAVAILABLE naming the kernel and the reason.
import { NandError } from './types.ts';

/** Whether the environment asks that every kernel load (FLASHDIFF_REQUIRE_KERNEL=1; Node only). */
export function kernelRequired(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.FLASHDIFF_REQUIRE_KERNEL === '1';
}

/** Throws KERNEL_UNAVAILABLE when kernels are required; else returns null (the caller falls back). */
export function kernelUnavailable(what: string, reason: unknown): null {
  if (kernelRequired()) {
    throw new NandError('KERNEL_UNAVAILABLE', `${what}: ${reason instanceof Error ? reason.message : String(reason)} (FLASHDIFF_REQUIRE_KERNEL=1 forbids the TypeScript fallback)`);
  }
  return null;
}

const modules = new Map<string, WebAssembly.Module | null>();

/** The compiled module of a base64 kernel (cached), or null where WebAssembly cannot compile it. */
export function kernelModule(base64: string): WebAssembly.Module | null {
  let module = modules.get(base64);
  if (module !== undefined) return module;
  try {
    const text = atob(base64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    module = new WebAssembly.Module(bytes);
  } catch (e) {
    module = null;
    modules.set(base64, module);
    return kernelUnavailable('WebAssembly kernel does not compile', e);
  }
  modules.set(base64, module);
  return module;
}

/** Values a kernel imports as immutable globals, by import module ("device", "ftl") and name. */
export type KernelGlobals = Readonly<Record<string, Readonly<Record<string, number>>>>;

/**
 * An instance of a kernel over `memory` (imported as env.memory) with its table offsets and
 * parameters as imported immutable globals (V8 loads each from the instance at every use, as it
 * would a mutable one), its exports typed as `T`; null when the module cannot be compiled or
 * instantiated here.
 */
export function instantiateKernel<T>(base64: string, memory: WebAssembly.Memory, globals: KernelGlobals = {}): T | null {
  const module = kernelModule(base64);
  if (module === null) return kernelUnavailable('WebAssembly kernel does not compile', 'cached failure');
  try {
    return new WebAssembly.Instance(module, { ...globals, env: { memory } }).exports as unknown as T;
  } catch (e) {
    return kernelUnavailable('WebAssembly kernel does not link', e);
  }
}
