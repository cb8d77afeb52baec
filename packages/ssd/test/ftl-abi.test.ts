// The FTL kernel's ABI: the "ftl" globals the compiled kernel (src/ftl-kernel-wasm.ts, built from
// kernel/ftl/) imports are exactly the tables and parameters Ftl hands it (src/ftl/state.ts), and
// the constants both sides share come from one file (src/ftl/abi.ts, imported by the kernel).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FTL_KERNEL_WASM_BASE64 } from '../src/ftl-kernel-wasm.ts';
import { KERNEL_PARAMETERS, KERNEL_TABLES } from '../src/ftl/state.ts';

const kernelDir = fileURLToPath(new URL('../kernel/ftl/', import.meta.url));

describe('FTL kernel ABI', () => {
  test('the kernel imports every table and parameter Ftl provides, and nothing else', () => {
    const module = new WebAssembly.Module(Buffer.from(FTL_KERNEL_WASM_BASE64, 'base64'));
    const imported = WebAssembly.Module.imports(module).filter((i) => i.module === 'ftl').map((i) => i.name).sort();
    assert.deepEqual(imported, [...KERNEL_TABLES, ...KERNEL_PARAMETERS].sort());
  });

  test('no kernel file redefines a constant of src/ftl/abi.ts', () => {
    const abi = readFileSync(fileURLToPath(new URL('../src/ftl/abi.ts', import.meta.url)), 'utf8');
    const names = [...abi.matchAll(/^export const (\w+)/gm)].map((m) => m[1]!);
    assert.ok(names.length > 10);
    for (const file of readdirSync(kernelDir)) {
      const text = readFileSync(kernelDir + file, 'utf8');
      for (const name of names) assert.doesNotMatch(text, new RegExp(`\\b(const|let|var)\\s+${name}\\b`), `${file} defines ${name}`);
    }
  });
});
