// DiskSim ASCII trace parsing and replay of the three sample traces in test/fixtures/traces.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SsdSimulator, isSsdError, parseTrace, readTraceFile } from '../src/index.ts';

const fixtures = fileURLToPath(new URL('./fixtures/traces/', import.meta.url));
const traces = ['mqsim-tpcc-small.trace', 'mqsim-wsrch-small.trace', 'ssdsim-example.ascii'].map((f) => join(fixtures, f));
// A small device (4 dies × 64 blocks × 64 pages of 4 KiB) so the traces wrap around it.
const geometry = { pageSize: 4096, spareSize: 128, pagesPerBlock: 64, blocksPerDie: 64, diesPerChannel: 1, channels: 4 };

describe('DiskSim trace parsing', () => {
  test('parses the five columns', () => {
    const r = parseTrace('10 0 8 16 0\n\n# comment\n25 3 100 1 1\n', 'x.trace');
    assert.deepEqual(r, [
      { arrivalNs: 10, device: 0, sector: 8, sectors: 16, isRead: false, line: 1 },
      { arrivalNs: 25, device: 3, sector: 100, sectors: 1, isRead: true, line: 4 },
    ]);
  });

  for (const [text, line, what] of [
    ['1 0 0 8 0\n2 0 0 8\n', 2, '5 columns'],
    ['1 0 0 8 0\n2 0 0 8 0\n3 0 x 8 0\n', 3, "lba 'x'"],
    ['1 0 0 8 2\n', 1, 'type'],
    ['1 0 0 0 0\n', 1, 'size'],
    ['-5 0 0 8 0\n', 1, 'arrival time'],
  ] as const) {
    test(`a malformed line is an error naming file and line (${what})`, () => {
      assert.throws(() => parseTrace(text, 'bad.trace'), (e: unknown) => {
        assert.ok(isSsdError(e, 'TRACE_PARSE'));
        assert.match(e.message, new RegExp(`^bad\\.trace:${line}: `));
        assert.ok(e.message.includes(what), e.message);
        return true;
      });
    });
  }

  test('a malformed line in a file names the path and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssd-trace-'));
    try {
      const path = join(dir, 'broken.trace');
      writeFileSync(path, '100 0 0 8 0\n200 0 8 8 1\n300 0 16 eight 0\n');
      assert.throws(() => readTraceFile(path), (e: unknown) => isSsdError(e, 'TRACE_PARSE') && e.message.startsWith(`${path}:3:`));
      assert.throws(() => readTraceFile(join(dir, 'missing.trace')), (e: unknown) => isSsdError(e, 'TRACE_IO'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('trace replay', () => {
  for (const path of traces) {
    test(`replays ${path.split('/').at(-1)}`, () => {
      const requests = readTraceFile(path);
      assert.ok(requests.length > 5000);
      // Expected page counts, computed independently of the replayer.
      let writes = 0;
      let reads = 0;
      for (const r of requests) {
        const pages = Math.floor(((r.sector + r.sectors) * 512 - 1) / 4096) - Math.floor((r.sector * 512) / 4096) + 1;
        if (r.isRead) reads += pages;
        else writes += pages;
      }
      const sim = new SsdSimulator({ geometry, ftl: { overProvisioning: 0.2 }, snapshotEvery: 1000 });
      sim.precondition();
      const report = sim.replay(requests);
      assert.equal(report.hostPageWrites, writes);
      assert.equal(report.hostPageReads, reads);
      assert.ok(report.waf >= 1, `WAF ${report.waf}`);
      assert.equal(report.nandPageWrites, report.hostPageWrites + report.gcMovedPages + report.metadataPagePrograms + report.wearLevelingMovedPages + report.counters.retirementMovedPages);
      assert.ok(report.latencyUs.p50 > 0 && report.latencyUs.p50 <= report.latencyUs.p99 && report.latencyUs.p99 <= report.latencyUs.p999);
      assert.ok(report.throughput.simulatedSeconds > 0);
      assert.ok(report.timeSeries.length >= Math.floor(writes / 1000));
      sim.ftl.checkConsistency();
    });
  }

  test('idle gaps run background GC', () => {
    // Bursts of 100 random writes separated by 200 ms of idle time.
    const lines: string[] = [];
    let t = 0;
    let x = 12345;
    for (let burst = 0; burst < 100; burst++) {
      for (let i = 0; i < 100; i++) {
        x = (x * 1103515245 + 12345) % 2147483648;
        lines.push(`${t} 0 ${(x % 100000) * 8} 8 0`);
        t += 1000;
      }
      t += 200_000_000;
    }
    const requests = parseTrace(lines.join('\n'), 'bursts');
    const withBg = new SsdSimulator({ geometry, ftl: { overProvisioning: 0.2, backgroundGcTarget: 5 }, backgroundGcIdleNs: 1_000_000 });
    withBg.precondition();
    const a = withBg.replay(requests);
    const without = new SsdSimulator({ geometry, ftl: { overProvisioning: 0.2, backgroundGcTarget: 5 }, backgroundGcIdleNs: 0 });
    without.precondition();
    const b = without.replay(requests);
    assert.ok(a.counters.backgroundGcRuns > 0);
    assert.equal(b.counters.backgroundGcRuns, 0);
    assert.ok(a.latencyUs.p99 < b.latencyUs.p99, `p99 with background GC ${a.latencyUs.p99} µs vs ${b.latencyUs.p99} µs`);
  });
});
