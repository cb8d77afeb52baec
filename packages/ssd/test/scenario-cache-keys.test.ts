// Scenario cache keys (issue 18 over issue 17's caches): device.dataCache.* (the DRAM write-back
// data cache) and device.ftl.mappingCacheEntries / mappingCacheBytes (the DFTL cached mapping
// table) are accepted in files, by flags' short names and by --vary; a key that looks like a cache
// key but is not one is refused like any unknown key — file:line:col, the dotted key, the real
// cache keys, and the keys known there — and so is a --vary of one; nothing is silently ignored.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSsdError, runScenario } from '../src/index.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { CACHE_KEYS_HINT } from '../src/scenario/schema.ts';
import { parseVary, planSweep } from '../src/sweep/index.ts';

function withFile<T>(name: string, text: string, f: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'ssd-cache-keys-'));
  try {
    const path = join(dir, name);
    writeFileSync(path, text);
    return f(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function refusal(name: string, text: string): string {
  return withFile(name, text, (path) => {
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
  });
}

const TINY = 'device:\n  preset: ssd-small\n  geometry: { blocksPerDie: 16, channels: 2, diesPerChannel: 1 }\n';

describe('scenario cache keys', () => {
  test('YAML: device.dataCache and device.ftl.mappingCacheEntries reach the simulator and its report', () => {
    const yaml = `${TINY}  ftl: { mappingCacheEntries: 64 }\n  dataCache: { capacityPages: 32, flushIdleUs: 500 }\nworkload: { kind: uniform, writes: 1x }\n`;
    const report = withFile('s.yaml', yaml, (path) => runScenario(loadScenario(path)));
    assert.equal(report.dataCache!.capacityPages, 32);
    assert.equal(report.mappingCache!.capacityEntries, 64);
    assert.equal((report.config.dataCache as { flushIdleUs: number }).flushIdleUs, 500);
    assert.ok(report.mappingCache!.translationReads > 0);
  });

  test('JSON: sizes in bytes', () => {
    const json = JSON.stringify({ device: { preset: 'ssd-small', geometry: { blocksPerDie: 16, channels: 2, diesPerChannel: 1 }, ftl: { mappingCacheBytes: 4096 }, dataCache: { capacityBytes: 65536 } }, workload: { kind: 'uniform', writes: 1000 } });
    const report = withFile('s.json', json, (path) => runScenario(loadScenario(path)));
    assert.equal(report.dataCache!.capacityPages, 16);
    assert.ok(report.mappingCache!.capacityEntries > 0);
  });

  test('a misspelled cache key names file:line:col, the key and the real cache keys', () => {
    const m = refusal('s.yaml', 'device:\n  preset: ssd-small\n  ftl:\n    overProvisioning: 0.2\n    mappingTableCache: { entries: 4096 }\n');
    assert.ok(m.startsWith(`FILE:5:5: device.ftl.mappingTableCache: unknown key 'mappingTableCache'; ${CACHE_KEYS_HINT}; known keys here: overProvisioning, gcPolicy,`), m);
    const dram = refusal('s.yaml', 'device:\n  preset: ssd-small\n  dataCache:\n    bytes: 268435456\n');
    assert.ok(dram.startsWith(`FILE:4:5: device.dataCache.bytes: unknown key 'bytes'; known keys here: capacityPages, capacityBytes,`), dram);
    const both = refusal('s.yaml', 'device:\n  dataCache: { capacityPages: 4, capacityBytes: 65536 }\n');
    assert.ok(/device\.dataCache: give capacityPages or capacityBytes, not both/.test(both), both);
  });

  test('an unknown key that is not a cache key says only that it is unknown (and the nearest key)', () => {
    const m = refusal('s.yaml', 'device:\n  preset: ssd-small\n  queueDepht: 8\n');
    assert.ok(m.startsWith("FILE:3:3: device.queueDepht: unknown key 'queueDepht' (did you mean 'queueDepth'?); known keys here:"), m);
    assert.ok(!m.includes('cache'), m);
  });

  test('--vary of the cache keys: short names, 0 = off; an unknown cache key is refused', () => {
    const base = withFile('s.yaml', `${TINY}workload: { kind: uniform, writes: 500 }\n`, (path) => loadScenario(path));
    const plan = planSweep(base, [parseVary('data-cache=0,16'), parseVary('mapping-cache=0,32')]);
    assert.equal(plan.points.length, 4);
    const reports = plan.points.map((p) => runScenario(p.scenario));
    assert.deepEqual(reports.map((r) => [r.dataCache?.capacityPages ?? 0, r.mappingCache?.capacityEntries ?? 0]), [[0, 0], [0, 32], [16, 0], [16, 32]]);
    assert.throws(() => parseVary('device.cache.entries=1024,4096'), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /device\.cache\.entries/.test(e.message));
  });
});
