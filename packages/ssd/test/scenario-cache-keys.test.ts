// Scenario cache keys (issue 18 asks for them; the caches themselves, DFTL's mapping-table cache
// and a DRAM write cache, do not exist yet): a cache key anywhere in a scenario is refused like
// any unknown key — file:line:col, the dotted key, why, and the keys that are known there — and
// so is a --vary of one; nothing is silently ignored.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSsdError } from '../src/index.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { parseVary } from '../src/sweep/index.ts';

function refusal(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ssd-cache-keys-'));
  try {
    const path = join(dir, name);
    writeFileSync(path, text);
    let message = '';
    assert.throws(
      () => loadScenario(path),
      (e: unknown) => {
        assert.ok(isSsdError(e, 'INVALID_CONFIG'), String(e));
        message = e.message.replace(path, 'FILE');
        return true;
      },
    );
    return message;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const NO_CACHES = 'the simulator has no caches yet (no DFTL mapping-table cache, no DRAM write cache), so no cache key is accepted';

describe('scenario cache keys', () => {
  test('YAML: a cache key under device or device.ftl names file:line:col, the key and why', () => {
    const yaml = 'device:\n  preset: ssd-small\n  ftl:\n    overProvisioning: 0.2\n    mappingTableCache: { entries: 4096 }\n';
    const m = refusal('s.yaml', yaml);
    assert.ok(m.startsWith(`FILE:5:5: device.ftl.mappingTableCache: unknown key 'mappingTableCache'; ${NO_CACHES}; known keys here: overProvisioning, gcPolicy,`), m);
    const dram = refusal('s.yaml', 'device:\n  preset: ssd-small\n  dramWriteCache:\n    bytes: 268435456\n');
    assert.ok(dram.startsWith(`FILE:3:3: device.dramWriteCache: unknown key 'dramWriteCache'; ${NO_CACHES}; known keys here: preset, geometry,`), dram);
  });

  test('JSON: the same, with the line and column of the key', () => {
    const m = refusal('s.json', '{\n  "device": {\n    "preset": "ssd-small",\n    "caches": {"dftl": {"entries": 1024}}\n  }\n}\n');
    assert.ok(m.startsWith(`FILE:4:5: device.caches: unknown key 'caches'; ${NO_CACHES}; known keys here:`), m);
  });

  test('an unknown key that is not a cache key says only that it is unknown (and the nearest key)', () => {
    const m = refusal('s.yaml', 'device:\n  preset: ssd-small\n  queueDepht: 8\n');
    assert.ok(m.startsWith("FILE:3:3: device.queueDepht: unknown key 'queueDepht' (did you mean 'queueDepth'?); known keys here:"), m);
    assert.ok(!m.includes('cache'), m);
  });

  test('--vary of a cache key is refused too', () => {
    assert.throws(() => parseVary('device.cache.entries=1024,4096'), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /device\.cache\.entries/.test(e.message));
  });
});
