// Scenario files: schema errors naming key and file:line, shipped scenarios, flags over the file,
// and a scenario run equal to the same run from flags.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_FTL_OPTIONS, isSsdError } from '../src/index.ts';
import { schemaAt } from '../src/scenario/schema.ts';
import { loadScenario, shippedScenarioNames } from '../src/scenario/load.ts';
import { applyOverrides, overrideFor, parseScenarioValue, scenarioKey } from '../src/scenario/overrides.ts';
import { runScenario } from '../src/scenario/run.ts';

const bin = fileURLToPath(new URL('../bin/ssdsim.js', import.meta.url));
const ssdsim = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });

function withFile(name: string, text: string, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'ssd-scenario-'));
  try {
    const path = join(dir, name);
    writeFileSync(path, text);
    fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function rejects(name: string, text: string, ...fragments: string[]): void {
  withFile(name, text, (path) => {
    assert.throws(() => loadScenario(path), (e: unknown) => {
      assert.ok(isSsdError(e, 'INVALID_CONFIG'), String(e));
      for (const f of fragments) assert.ok(e.message.includes(f.replace('FILE', path)), `'${e.message}' lacks '${f}'`);
      return true;
    });
  });
}

const SMALL = 'device:\n  preset: ssd-small\n  geometry: { channels: 2, diesPerChannel: 1, blocksPerDie: 32, pagesPerBlock: 16 }\n';

describe('scenario schema', () => {
  test('an unknown key names the key, file:line:col and the nearest known key (YAML)', () => {
    rejects('s.yaml', 'device:\n  preset: seed-mini\n  ftl:\n    overProvisioning: 0.2\n    gcPolicyy: greedy\n', 'FILE:5:5: device.ftl.gcPolicyy: unknown key', "did you mean 'gcPolicy'");
    rejects('s.yaml', 'devices:\n  preset: seed-mini\n', 'FILE:1:1: devices: unknown key');
  });
  test('JSON: unknown keys, bad values and syntax errors name file:line', () => {
    rejects('s.json', '{\n  "device": {"preset": "seed-mini"},\n  "workload": {"kind": "hotcold", "writez": "3x"}\n}\n', 'FILE:3:35: workload.writez: unknown key');
    rejects('s.json', '{\n  "device": {\n    "ftl": {"gcPolicy": "lru"}\n  }\n}\n', 'FILE:3:13: device.ftl.gcPolicy', "'lru' is not one of");
    rejects('s.json', '{\n  "device": {"preset": "seed-mini",}\n}\n', 'FILE:2:', 'not valid JSON');
  });
  test('types, ranges, enums, cross-key rules', () => {
    rejects('s.yaml', 'workload:\n  readRatio: 1.5\n', 'FILE:2:3: workload.readRatio: must be ≤ 1');
    rejects('s.yaml', 'device:\n  geometry:\n    channels: 2.5\n', 'FILE:3:5: device.geometry.channels: must be an integer');
    rejects('s.yaml', 'workload:\n  writes: lots\n', 'workload.writes', "'4x'");
    rejects('s.yaml', 'precondition:\n  state: half\n', 'precondition.state', 'none, sequential, random, steady');
    rejects('s.yaml', 'device:\n  preset: ssd-small\n  preset: seed-mini\n', 'FILE:3:', 'unique');
    rejects('s.yaml', 'workload:\n  kind: trace\n', 'workload.path', 'needs the trace');
    rejects('s.yaml', '- just\n- a list\n', '(top level): must be a mapping');
    rejects('s.txt', 'device: {}\n', '.yaml, .yml or .json');
  });
  test('every shipped scenario loads; MQSim default device as MQSim ssdconfig.xml gives it', () => {
    const names = shippedScenarioNames();
    for (const n of ['ssd-small', 'ssd-4k', 'seed-mini', 'mqsim-default']) assert.ok(names.includes(n), n);
    for (const n of names) loadScenario(n);
    const m = loadScenario('mqsim-default');
    // One die per MQSim chip (its two dies never overlap) of 2 × 2 planes, as bench/ssd-mqsim.ts validates it.
    assert.deepEqual(m.device.geometry, { channels: 8, diesPerChannel: 4, blocksPerDie: 8192, pagesPerBlock: 256, pageSize: 8192, spareSize: 448, planesPerDie: 4 });
    assert.deepEqual([m.device.multiPlane, m.device.multiPlaneDiesPerChip, m.device.multiPlaneSamePage], [true, 2, true]);
    // MQSim's Overprovisioning_Ratio 0.07 of physical = 0.07 / 0.93 of user.
    assert.ok(Math.abs((m.device.ftl.overProvisioning as number) - 0.07 / 0.93) < 1e-6);
    assert.deepEqual(m.device.timing, { tR: 75000, tPROG: 750000, tBERS: 3800000, transferPerByte: 3.003 });
    assert.deepEqual([m.device.ftl.hostAllocation, m.device.transactionScheduling, m.device.unmappedReads, m.device.partialPageWrites], ['cwdp', 'read-first', 'flash-read', 'read-modify-write']);
  });
  test('every FTL option is a scenario key (device.ftl.*)', () => {
    for (const key of Object.keys(DEFAULT_FTL_OPTIONS)) assert.ok(schemaAt(`device.ftl.${key}`), key);
  });
  test('a trace path is relative to the scenario file', () => {
    withFile('t.yaml', 'workload:\n  kind: trace\n  path: traces/x.trace\n', (path) => {
      assert.equal(loadScenario(path).workload.path, join(path, '..', 'traces/x.trace'));
    });
  });
  test('overrides: short names, dotted keys, percentages, validation naming the source', () => {
    assert.equal(scenarioKey('op'), 'device.ftl.overProvisioning');
    assert.equal(parseScenarioValue('device.ftl.overProvisioning', '20%'), 0.2);
    const s = applyOverrides(loadScenario('seed-mini'), [overrideFor('device.ftl.gcPolicy', 'fifo'), overrideFor('seed', 7)]);
    assert.equal(s.device.ftl.gcPolicy, 'fifo');
    assert.equal(s.workload.seed, 7);
    assert.equal(s.device.ftl.gcUnit, 'superblock'); // kept from the file
    assert.throws(() => applyOverrides(s, [overrideFor('device.ftl.gcPolicy', 'lru')], '--vary gc'), /--vary gc: device\.ftl\.gcPolicy/);
    assert.throws(() => scenarioKey('nope'), /not a scenario key/);
  });
});

describe('scenario runs', () => {
  test('a CLI flag overrides the file; --print-config shows the resolved scenario', () => {
    withFile('s.yaml', `${SMALL}  ftl: { overProvisioning: 0.25, gcPolicy: cost-benefit }\nworkload: { kind: hotcold, writes: 3x }\n`, (path) => {
      const r = ssdsim('run', path, '--gc', 'fifo', '--print-config', '--json');
      assert.equal(r.status, 0, r.stderr);
      const s = JSON.parse(r.stdout);
      assert.equal(s.device.ftl.gcPolicy, 'fifo');
      assert.equal(s.device.ftl.overProvisioning, 0.25);
      assert.equal(s.workload.kind, 'hotcold');
      assert.equal(s.device.geometry.blocksPerDie, 32);
      const yaml = ssdsim('run', path, '--print-config');
      assert.match(yaml.stdout, /gcPolicy: cost-benefit/);
    });
  });
  test('the same run from a scenario file and from flags gives the same report', () => {
    withFile('s.yaml', `${SMALL}  ftl: { overProvisioning: 0.25, gcPolicy: cost-benefit }\nworkload: { kind: hotcold, writes: 3x, seed: 4 }\n`, (path) => {
      const fromFile = runScenario(loadScenario(path));
      const r = ssdsim('run', '--preset', 'ssd-small', '--channels', '2', '--dies', '1', '--blocks', '32', '--pages-per-block', '16', '--op', '0.25', '--gc', 'cost-benefit', '--workload', 'hotcold', '--writes', '3x', '--seed', '4', '--json');
      assert.equal(r.status, 0, r.stderr);
      const fromFlags = JSON.parse(r.stdout);
      for (const k of ['waf', 'hostPageWrites', 'nandPageWrites', 'gcRuns', 'erases'] as const) assert.equal(fromFile[k], fromFlags[k], k);
      assert.deepEqual(fromFile.timeSeries.map((p) => p.intervalWaf), fromFlags.timeSeries.map((p: { intervalWaf: number }) => p.intervalWaf));
    });
  });
  test('replay: the time-series interval follows the page writes, not the request count', () => {
    // 3000 one-page requests and 30 requests of 100 pages: the same writes, the same points.
    const one = Array.from({ length: 3000 }, (_, i) => `${i * 1000} 0 ${(i % 500) * 8} 8 0`).join('\n');
    const big = Array.from({ length: 30 }, (_, i) => `${i * 100000} 0 ${i * 800} 800 0`).join('\n');
    const points: number[] = [];
    for (const text of [one, big]) {
      withFile('t.trace', text + '\n', (trace) => {
        const r = ssdsim('replay', trace, '--preset', 'ssd-small', '--channels', '2', '--dies', '1', '--blocks', '32', '--pages-per-block', '16', '--json');
        assert.equal(r.status, 0, r.stderr);
        const report = JSON.parse(r.stdout);
        assert.equal(report.hostPageWrites, 3000);
        assert.equal(report.config.snapshotEvery, 30);
        points.push(report.timeSeries.length);
      });
    }
    assert.ok(points[0]! >= 100 && points[0]! <= 101, String(points));
    assert.ok(points[1]! >= 30 && points[1]! <= 101, String(points));
  });
});
