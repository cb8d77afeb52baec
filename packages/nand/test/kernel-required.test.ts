// FLASHDIFF_REQUIRE_KERNEL=1 (CI): a WebAssembly kernel that fails to compile or link is an error
// instead of a silent fallback to the TypeScript code.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNandDevice, instantiateKernel, isNandError } from '../src/index.ts';

const memory = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
const previous = process.env.FLASHDIFF_REQUIRE_KERNEL;

describe('FLASHDIFF_REQUIRE_KERNEL', () => {
  afterEach(() => {
    if (previous === undefined) delete process.env.FLASHDIFF_REQUIRE_KERNEL;
    else process.env.FLASHDIFF_REQUIRE_KERNEL = previous;
  });

  test('unset: a kernel that does not compile is null (the caller falls back)', () => {
    delete process.env.FLASHDIFF_REQUIRE_KERNEL;
    assert.equal(instantiateKernel(btoa('not wasm at all'), memory), null);
  });

  test('=1: a kernel that does not compile, or does not link, throws KERNEL_UNAVAILABLE', () => {
    process.env.FLASHDIFF_REQUIRE_KERNEL = '1';
    assert.throws(() => instantiateKernel(btoa('still not wasm'), memory), (e: unknown) => isNandError(e, 'KERNEL_UNAVAILABLE') && /does not compile/.test(e.message));
    // A valid module importing a global that is not given: it compiles, and fails to link.
    const needsGlobal = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 2, 8, 1, 1, 100, 1, 103, 3, 127, 0]);
    const base64 = btoa(String.fromCharCode(...needsGlobal));
    assert.throws(() => instantiateKernel(base64, memory), (e: unknown) => isNandError(e, 'KERNEL_UNAVAILABLE') && /does not link/.test(e.message));
  });

  test('=1: the real kernels load (the metadata device gets its kernel)', () => {
    process.env.FLASHDIFF_REQUIRE_KERNEL = '1';
    const nand = createNandDevice({ geometry: { pageSize: 2048, spareSize: 64, pagesPerBlock: 4, blocksPerDie: 4, diesPerChannel: 1, channels: 1 }, metadataOnly: true });
    assert.notEqual((nand as { metadataKernel?: unknown }).metadataKernel ?? null, null);
  });
});
