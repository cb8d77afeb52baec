import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nativeBackendAvailable, nativeBackendUnavailableReason } from '@flashdiff/diffusion-native';
import { initBackend } from '../src/backend-node.ts';
import { describeEngineCases } from './engine-cases.ts';

/**
 * The same numerical suite as engine.test.ts on @flashdiff/diffusion-native's 'native' backend (fused
 * conv + bias, native GELU and training BatchNorm, tfjs's own conv gradients on oneDNN/OpenBLAS).
 * Skipped, with the reason, when the addon is not built; FLASHDIFF_REQUIRE_NATIVE=1 turns that into
 * a failure.
 */
const available = nativeBackendAvailable();
const reason = available ? '' : nativeBackendUnavailableReason();

if (!available && process.env.FLASHDIFF_REQUIRE_NATIVE === '1') {
  test('native backend is built (FLASHDIFF_REQUIRE_NATIVE=1)', () => assert.fail(`native backend unavailable: ${reason}`));
}

describeEngineCases('native', () => initBackend('native'), available ? false : `native backend unavailable: ${reason}`);

describe('backend selection', () => {
  const bin = fileURLToPath(new URL('../bin/diffusion.js', import.meta.url));
  const backendNode = fileURLToPath(new URL('../src/backend-node.ts', import.meta.url));
  const disabled = { ...process.env, FLASHDIFF_NATIVE_DISABLE: '1' };

  test('--backend native without the addon: one line naming the reason, exit 2', () => {
    const r = spawnSync(process.execPath, [bin, 'bench', '--backend', 'native', '--iters', '1'], { encoding: 'utf8', env: disabled, timeout: 60_000 });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^diffusion: --backend native is unavailable: disabled by FLASHDIFF_NATIVE_DISABLE=1; use --backend wasm instead\n$/);
  });

  test("initBackend('native') throws BACKEND_UNAVAILABLE and 'auto' falls back to wasm without the addon", () => {
    const script = `
      const { initBackend } = await import(${JSON.stringify(backendNode)});
      const codes = [];
      try { await initBackend('native'); } catch (error) { codes.push(error.code); }
      const engine = await initBackend('auto');
      console.log(JSON.stringify({ codes, name: engine.name }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: disabled, timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { codes: ['BACKEND_UNAVAILABLE'], name: 'tfjs-wasm' });
  });

  test("'auto' picks native when the addon is built", { skip: available ? false : `native backend unavailable: ${reason}` }, async () => {
    const engine = await initBackend('auto');
    assert.equal(engine.name, 'tfjs-native');
  });
});
