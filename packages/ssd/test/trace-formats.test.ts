// The trace formats (MSR/SNIA CSV, blkparse, flashdiff, DiskSim), format detection and the
// robustness rules (empty, out of order, huge addresses, requests larger than the device).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  SsdSimulator, detectTraceFormat, fitToDevice, readLines, formatFlashdiffTrace, isSsdError, loadTrace, parseBlkparse, parseMsrCsv, parseTraceText, tracePageWrites,
} from '../src/index.ts';
import type { SsdErrorCode, TraceRequest } from '../src/index.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/traces/${name}`, import.meta.url));
const geometry = { pageSize: 4096, spareSize: 128, pagesPerBlock: 16, blocksPerDie: 32, diesPerChannel: 1, channels: 2 };

function throwsCode(fn: () => unknown, code: SsdErrorCode, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isSsdError(e, code), `expected ${code}, got ${String(e)}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `'${e.message}' lacks '${f}'`);
    return true;
  });
}

describe('MSR Cambridge / SNIA CSV', () => {
  test('the fixture: FILETIME ticks to ns relative to the first, bytes to sectors', () => {
    const t = loadTrace(fixture('msr-sample.csv'));
    assert.equal(t.format, 'msr');
    const r = t.requests;
    assert.equal(r.length, 6);
    assert.deepEqual(r[0], { arrivalNs: 0, device: 1, sector: 3154152960 / 512, sectors: 8, isRead: true, line: 2 });
    // 128166372003163477 − 128166372003061629 = 101848 ticks of 100 ns (exact only in BigInt).
    assert.equal(r[1]!.arrivalNs, 10_184_800);
    assert.equal(r[1]!.sectors, 32);
    assert.equal(r[1]!.isRead, false);
    // …016382155 − …003061629 = 13320526 ticks.
    assert.equal(r[3]!.arrivalNs, 1_332_052_600);
    // Offset 1000, size 700: bytes 1000 … 1699 lie in sectors 1 … 3.
    assert.deepEqual([r[5]!.sector, r[5]!.sectors], [1, 3]);
  });

  test('bad lines name the file and line', () => {
    throwsCode(() => parseMsrCsv('1,h,0,Read,0,512,1\n2,h,0,Erase,0,512,1\n', 'm.csv'), 'TRACE_PARSE', 'm.csv:2:', "'Erase'");
    throwsCode(() => parseMsrCsv('1,h,0,Read,0,512\n', 'm.csv'), 'TRACE_PARSE', 'm.csv:1:', '7 comma-separated');
    throwsCode(() => parseMsrCsv('1,h,0,Write,9007199254740992,512,1\n', 'm.csv'), 'TRACE_PARSE', 'm.csv:1:', 'beyond 2^53');
    throwsCode(() => parseMsrCsv('1,h,0,Write,0,0,1\n', 'm.csv'), 'TRACE_PARSE', 'm.csv:1:', 'Size');
  });
});

describe('blkparse text', () => {
  test('D events by default; Q and C on request; flushes, plugs and the summary skipped', () => {
    const text = readFileSync(fixture('blkparse-sample.txt'), 'utf8');
    const d = parseBlkparse(text, 'b.txt');
    assert.equal(d.event, 'D');
    assert.deepEqual(
      d.requests.map((r) => [r.arrivalNs, r.sector, r.sectors, r.isTrim ? 'T' : r.isRead ? 'R' : 'W', r.line]),
      [[6000, 223490, 8, 'W', 6], [105000, 1024, 16, 'R', 8], [1001000, 223490, 8, 'T', 14], [1510000, 4096, 24, 'W', 16]],
    );
    const q = parseBlkparse(text, 'b.txt', 'Q');
    assert.deepEqual(q.requests.map((r) => r.arrivalNs), [0, 100000, 1000000, 1500000]);
    const c = parseBlkparse(text, 'b.txt', 'C');
    assert.deepEqual(c.requests.map((r) => r.arrivalNs), [311000, 512000, 1600000, 2200000]);
    assert.equal(detectTraceFormat(text), 'blkparse');
  });

  test('a discard becomes a TRIM: the report counts the trimmed pages', () => {
    const t = loadTrace(fixture('blkparse-sample.txt'));
    const sim = new SsdSimulator({ geometry, snapshotEvery: 0 });
    sim.startMeasurement();
    const report = sim.replay(t.requests);
    // Sectors 223490 … 223497 = bytes 114426880 … 114430975: 4 KiB pages 27936 and 27937, both written first.
    assert.equal(report.counters.hostTrimCommands, 1);
    assert.equal(report.counters.hostTrimmedPages, 2);
    // Plus sectors 4096 … 4119: pages 512 … 514.
    assert.equal(report.hostPageWrites, 2 + 3);
    sim.ftl.checkConsistency();
    const lba = 27936 % sim.userPages;
    assert.equal(sim.ftl.read(lba), 'unmapped');
  });

  test('a line that is not an event names the line', () => {
    throwsCode(() => parseBlkparse('  8,0 3 1 0.000000000 697 Q W 8 + 8 [a]\nhello there\n', 'b.txt'), 'TRACE_PARSE', 'b.txt:2:');
    throwsCode(() => parseBlkparse('  8,0 3 1 0.000000000 697 D W 18014398509481984 + 8 [a]\n', 'b.txt'), 'TRACE_PARSE', 'b.txt:1:', 'beyond 2^53');
  });
});

describe('flashdiff trace', () => {
  test('reads, writes and TRIMs; formatting round-trips', () => {
    const t = loadTrace(fixture('flashdiff-sample.trace'));
    assert.equal(t.format, 'flashdiff');
    assert.deepEqual(t.requests.map((r) => (r.isTrim ? 'T' : r.isRead ? 'R' : 'W')), ['W', 'W', 'R', 'T', 'W', 'R']);
    const again = parseTraceText(formatFlashdiffTrace(t.requests), 'x').requests;
    assert.deepEqual(again.map(({ line: _l, ...r }) => r), t.requests.map(({ line: _l, ...r }) => r));
    const sim = new SsdSimulator({ geometry, snapshotEvery: 0 });
    sim.startMeasurement();
    const report = sim.replay(t.requests);
    assert.equal(report.counters.hostTrimmedPages, 4); // sectors 0 … 31 = pages 0 … 3, all written
    assert.equal(report.hostPageWrites, 8 + 8 + 1);
  });
  test('an unknown op names the line', () => {
    throwsCode(() => parseTraceText('# flashdiff-trace v1\n0 W 0 8\n5 X 0 8\n', 'f.trace'), 'TRACE_PARSE', 'f.trace:3:', "'X'");
  });
});

describe('format detection and the shared rules', () => {
  test('each fixture is detected by content', () => {
    for (const [file, format] of [['msr-sample.csv', 'msr'], ['blkparse-sample.txt', 'blkparse'], ['flashdiff-sample.trace', 'flashdiff'], ['ssdsim-example.ascii', 'disksim']] as const) {
      assert.equal(loadTrace(fixture(file)).format, format, file);
    }
    assert.equal(detectTraceFormat('timestamp, hostname,disknumber,type,offset,size,responsetime\n'), 'msr');
  });
  test('files are read in pieces: lines across piece boundaries, CRLF and UTF-8 intact; same requests as from the text', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssd-lines-'));
    try {
      const path = join(dir, 'l.txt');
      const text = 'ab\r\ncdé€f\n\n# ünïcode ✓\r\nlast';
      writeFileSync(path, text);
      for (const chunk of [1, 2, 3, 7, 64]) assert.deepEqual([...readLines(path, chunk)], ['ab', 'cdé€f', '', '# ünïcode ✓', 'last'], `chunk ${chunk}`);
      for (const file of ['msr-sample.csv', 'blkparse-sample.txt', 'flashdiff-sample.trace', 'mqsim-tpcc-small.trace']) {
        assert.deepEqual(loadTrace(fixture(file)).requests, parseTraceText(readFileSync(fixture(file), 'utf8'), fixture(file)).requests, file);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test('an unknown format asks for --format; a forced format parses as that format', () => {
    throwsCode(() => parseTraceText('\n{"not": "a trace"}\n', 't.json'), 'TRACE_PARSE', 't.json:2:', '--format');
    throwsCode(() => parseTraceText('10 0 8 16 0\n', 'x', { format: 'msr' }), 'TRACE_PARSE', 'x:1:', '7 comma-separated');
  });
  test('an empty trace is an error, or a warning when allowed', () => {
    throwsCode(() => parseTraceText('# only a comment\n\n', 'e.trace'), 'TRACE_EMPTY', 'e.trace', '--allow-empty');
    const t = parseTraceText('', 'e.trace', { allowEmpty: true });
    assert.equal(t.requests.length, 0);
    assert.match(t.warnings[0]!, /no requests/);
  });
  test('arrival times going backwards: an error naming the line, or sorted (stably) with sort', () => {
    const text = '10 0 0 8 0\n30 0 8 8 0\n20 0 16 8 1\n30 0 24 8 1\n';
    throwsCode(() => parseTraceText(text, 'o.trace'), 'TRACE_ORDER', 'o.trace:3:', 'line 2', '--sort');
    const t = parseTraceText(text, 'o.trace', { sort: true });
    assert.equal(t.sorted, true);
    assert.deepEqual(t.requests.map((r) => r.line), [1, 3, 2, 4]);
  });
  test('LBAs beyond 2^53 bytes and overflowing sizes are errors naming the line (no hang)', () => {
    throwsCode(() => parseTraceText('1 0 0 8 0\n2 0 100000000000000000000 8 0\n'), 'TRACE_PARSE', '<trace>:2:', 'beyond 2^53');
    throwsCode(() => parseTraceText('1 0 0 18014398509481985 0\n'), 'TRACE_PARSE', '<trace>:1:', 'overflows');
    throwsCode(() => parseTraceText('# flashdiff-trace v1\n1 W 17592186044416 8\n'), 'TRACE_PARSE', ':2:', 'beyond 2^53');
    // A request built by hand reaches replay's own guard instead of spinning.
    const sim = new SsdSimulator({ geometry, snapshotEvery: 0 });
    const bad: TraceRequest = { arrivalNs: 0, device: 0, sector: 1e20, sectors: 8, isRead: false, line: 7 };
    throwsCode(() => sim.replay([bad]), 'TRACE_PARSE', 'line 7');
  });
  test('requests larger than the device are split into device-sized pieces', () => {
    const user = 4096 * 100;
    const reqs: TraceRequest[] = [
      { arrivalNs: 0, device: 0, sector: 8, sectors: 2000, isRead: false, line: 1 },
      { arrivalNs: 5, device: 0, sector: 0, sectors: 8, isRead: true, line: 2 },
    ];
    const { requests, split } = fitToDevice(reqs, user);
    assert.equal(split, 1);
    assert.deepEqual(requests.map((r) => [r.sector, r.sectors, r.line]), [[8, 800, 1], [808, 800, 1], [1608, 400, 1], [0, 8, 2]]);
    // Pieces of 800 sectors from sector 8 stay page-aligned: the same 250 pages are written.
    assert.equal(tracePageWrites(requests, 4096), 250);
    assert.equal(tracePageWrites(reqs, 4096), 250);
    assert.equal(fitToDevice(reqs, 1 << 30).requests, reqs);
  });
});
