// TableMemory and allocateTables (src/tables.ts), and that the committed WebAssembly kernels are
// the compilation of their AssemblyScript sources (scripts/build-kernels.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TableMemory, allocateTables, float64Table, int32Table, uint8Table } from '../src/index.ts';
import { KERNELS, compileKernel, generatedModule } from '../../../scripts/build-kernels.ts';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

describe('table memory', () => {
  test('tables are laid out 8-byte aligned, filled, and appended after earlier ones', () => {
    const memory = TableMemory.create();
    assert.ok(memory !== null, 'Node offers shared WebAssembly memory');
    const first = memory.allocate({ bytes: uint8Table(5, 7), words: int32Table(3, -1), doubles: float64Table(2, Infinity) });
    assert.equal(first.offsets.bytes % 8, 0);
    assert.equal(first.offsets.words - first.offsets.bytes, 8);
    assert.equal(first.offsets.doubles - first.offsets.words, 16);
    assert.deepEqual([...first.views.bytes], [7, 7, 7, 7, 7]);
    assert.deepEqual([...first.views.words], [-1, -1, -1]);
    assert.deepEqual([...first.views.doubles], [Infinity, Infinity]);
    const second = memory.allocate({ next: int32Table(1) });
    assert.equal(second.offsets.next, first.offsets.doubles + 16);
    assert.equal(memory.usedBytes, second.offsets.next + 8);
  });

  test('growing the memory keeps every earlier view valid', () => {
    const memory = TableMemory.create()!;
    const small = memory.allocate({ a: int32Table(4) });
    small.views.a[3] = 42;
    const big = memory.allocate({ b: uint8Table(3 * 65536) }); // grows by at least 3 pages
    big.views.b[big.views.b.length - 1] = 9;
    assert.equal(small.views.a.length, 4);
    assert.equal(small.views.a[3], 42);
    small.views.a[0] = 5;
    assert.equal(new Int32Array(memory.memory.buffer, small.offsets.a, 4)[0], 5, 'the old view and the grown buffer are the same bytes');
    assert.ok(memory.memory.buffer.byteLength >= big.offsets.b + 3 * 65536);
  });

  test('without a memory the tables get an ArrayBuffer of their own; a memory refuses tables past 4 GiB', () => {
    const plain = allocateTables({ a: int32Table(2, 3) }, null);
    assert.equal(plain.inMemory, false);
    assert.ok(plain.views.a.buffer instanceof ArrayBuffer);
    assert.deepEqual([...plain.views.a], [3, 3]);
    const memory = TableMemory.create()!;
    assert.throws(() => memory.allocate({ huge: uint8Table(2 ** 32) }), RangeError);
    assert.equal(memory.usedBytes, 64, 'nothing was taken from the memory');
  });

  test('tables past 2 GiB get views at their addresses (the memory grows to 4 GiB)', () => {
    const memory = TableMemory.create()!;
    memory.allocate({ padding: uint8Table(2 ** 31) }); // untouched: never committed
    const high = memory.allocate({ words: int32Table(4, -3) });
    assert.ok(high.offsets.words > 2 ** 31);
    assert.deepEqual([...high.views.words], [-3, -3, -3, -3]);
    high.views.words[2] = 11;
    assert.equal(new Int32Array(memory.memory.buffer, high.offsets.words, 4)[2], 11);
  });
});

describe('WebAssembly kernels', () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  for (const kernel of KERNELS) {
    test(`${kernel.target} is the compilation of ${kernel.source}`, async () => {
      const expected = generatedModule(kernel, await compileKernel(kernel));
      assert.equal(readFileSync(`${root}${kernel.target}`, 'utf8'), expected, 'run npx tsx scripts/build-kernels.ts');
    });
  }
});
