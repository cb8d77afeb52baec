// The byte-level DiskSim reader (src/traces/disksim-bytes.ts, what loadTrace uses for a DiskSim
// file) against the text parser (parseTraceText / parseDiskSim on the decoded text): the same
// requests, or the same TRACE_PARSE message, on every trace fixture of every format the package
// reads (DiskSim/MQSim's, SSDsim's, MSR/SNIA CSV, blkparse, flashdiff), on hand-written edge
// lines, at chunk sizes that cut lines anywhere, and on seeded random mutations of MQSim's trace.
// The same for the other input a run parses, the scenario file: the one-pass reader of its plain
// YAML (src/scenario/fast-yaml.ts) against the yaml package, value and key positions.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTrace, parseDiskSim, parseTraceText } from '../src/index.ts';
import { parseDiskSimBytes, parseDiskSimFile } from '../src/traces/disksim-bytes.ts';
import { readSimpleYaml } from '../src/scenario/fast-yaml.ts';
import { SHIPPED_SCENARIO_DIR, parseScenarioYaml, shippedScenarioNames } from '../src/scenario/load.ts';

const traceDir = fileURLToPath(new URL('./fixtures/traces/', import.meta.url));
const fixture = (name: string): string => join(traceDir, name);
const ioError = (e: unknown): Error => new Error(String(e));

/** The requests, or the error's message: what both readers must agree on. */
function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (e) {
    return { error: (e as Error).message, code: (e as { code?: string }).code };
  }
}

/** Text as the file's reader sees it: a leading BOM is dropped (readLines' TextDecoder does). */
const textOf = (bytes: Uint8Array): string => new TextDecoder('utf-8').decode(bytes);

describe('trace parsing: the byte reader and the text parser agree', () => {
  test('every fixture, each format: loadTrace (bytes for DiskSim, lines otherwise) = parseTraceText on the file text', () => {
    const files = ['mqsim-tpcc-small.trace', 'mqsim-wsrch-small.trace', 'ssdsim-example.ascii', 'msr-sample.csv', 'blkparse-sample.txt', 'flashdiff-sample.trace'];
    const formats = new Set<string>();
    for (const file of files) {
      const loaded = loadTrace(fixture(file));
      formats.add(loaded.format);
      const expected = parseTraceText(readFileSync(fixture(file), 'utf8'), fixture(file));
      assert.equal(loaded.format, expected.format, file);
      assert.ok(loaded.requests.length > 0, file);
      assert.deepEqual(loaded.requests, expected.requests, file);
    }
    assert.deepEqual([...formats].sort(), ['blkparse', 'disksim', 'flashdiff', 'msr']);
  });

  test('chunk sizes that cut lines and CRLF pairs anywhere give the same requests', () => {
    const path = fixture('mqsim-tpcc-small.trace');
    const expected = parseDiskSim(readFileSync(path, 'utf8'), path);
    for (const chunk of [1, 2, 3, 7, 64, 4093]) assert.deepEqual(parseDiskSimFile(path, ioError, path, chunk), expected, `chunk ${chunk}`);
  });

  test('edge lines: CRLF, BOM, comments, blank and odd whitespace, long and fractional numbers, Unicode', () => {
    const lines = [
      '\ufeff0 0 8 16 0', // a BOM at the start of the file is dropped
      '1500.25\t1  24   8 1\r',
      '  2000 0 0 1 1  ',
      '\r',
      '3000 2.5 40 8 0',
      '4000 0 48 8 1.0',
      '5000\u000b0 56 8 0',
      '   # a comment ünïcode ✓',
      '\u00a06000 0 64 8 0\u00a0',
      '7000 0 0000012345678901 8 0', // 16 digits: read by Number()
      `8000 0 ${2 ** 44 - 8} 8 0`,
      '0009000 00 072 08 1',
      '12345678901234567890 0 80 8 0', // an arrival time past 2^53: Number() rounds it
      '',
    ];
    const dir = mkdtempSync(join(tmpdir(), 'ssd-parse-'));
    try {
      const path = join(dir, 't.trace');
      const bytes = Buffer.from(lines.join('\n'), 'utf8');
      writeFileSync(path, bytes);
      const expected = parseDiskSim(textOf(bytes), path);
      assert.equal(expected.length, 11);
      for (const chunk of [1, 5, 1 << 20]) assert.deepEqual(parseDiskSimFile(path, ioError, path, chunk), expected, `chunk ${chunk}`);
      assert.deepEqual(parseDiskSimBytes(bytes, path), expected);
      assert.deepEqual(loadTrace(path).requests, expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('malformed lines: the same TRACE_PARSE message naming the same line', () => {
    const bad = ['1 0 8 16 2', '1 0 8 0 0', '1 0 -8 16 0', '1 0 8 16', '1 0 8 16 0 7', '1. 0 8 16 0', '1 0 8.5 16 0', '1 0 100000000000000000000 8 0', '1 0 8 16 0 # c', 'x', '1 0 8 16 \u00ff'];
    for (const line of bad) {
      const text = `0 0 0 8 0\n\n${line}\n1 0 0 8 0\n`;
      const got = outcome(() => parseDiskSimBytes(Buffer.from(text, 'utf8'), 'bad.trace'));
      const expected = outcome(() => parseDiskSim(text, 'bad.trace'));
      assert.equal((expected as { code?: string }).code, 'TRACE_PARSE', line);
      assert.match((expected as { error: string }).error, /^bad\.trace:3: /, line);
      assert.deepEqual(got, expected, line);
    }
  });

  test('seeded random byte mutations of MQSim lines: same requests or same error', () => {
    const source = readFileSync(fixture('mqsim-wsrch-small.trace'), 'utf8').split('\n').slice(0, 400);
    // xorshift32, seeded: deterministic mutations.
    let x = 0x9e3779b9;
    const next = (n: number): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
    const alphabet = '0123456789 \t.\r#-+eE\u00a0\u000bx';
    let errors = 0;
    for (let round = 0; round < 300; round++) {
      const chosen = Array.from({ length: 6 }, () => source[next(source.length)]!);
      const k = next(chosen.length);
      const chars = [...chosen[k]!];
      const edits = 1 + next(3);
      for (let e = 0; e < edits; e++) {
        const at = next(chars.length + 1);
        const op = next(3);
        const c = alphabet[next(alphabet.length)]!;
        if (op === 0) chars.splice(at, 0, c);
        else if (op === 1) chars.splice(at, 1);
        else chars.splice(at, 1, c);
      }
      chosen[k] = chars.join('');
      const text = chosen.join('\n');
      const expected = outcome(() => parseDiskSim(text, 'm.trace'));
      if ((expected as { error?: string }).error !== undefined) errors++;
      assert.deepEqual(outcome(() => parseDiskSimBytes(Buffer.from(text, 'utf8'), 'm.trace')), expected, JSON.stringify(text));
    }
    // Both kinds of outcome were exercised.
    assert.ok(errors > 30 && errors < 270, `${errors} of 300 mutated traces were errors`);
  });
});

describe('scenario files: the one-pass reader (scenario/fast-yaml.ts) and the yaml package agree', () => {
  const same = (text: string, label: string): boolean => {
    const fast = readSimpleYaml(text, 'f.yaml');
    const full = outcome(() => parseScenarioYaml(text, 'f.yaml'));
    if (fast === null) return false;
    assert.deepEqual({ value: fast.value, where: { file: 'f.yaml', positions: fast.positions } }, full, label);
    return true;
  };

  test('every shipped scenario is read by the one-pass reader, with the same value and key positions', () => {
    const names = shippedScenarioNames();
    assert.ok(names.includes('mqsim-default'));
    for (const name of names) assert.ok(same(readFileSync(join(SHIPPED_SCENARIO_DIR, `${name}.yaml`), 'utf8'), name), `${name} read in one pass`);
  });

  test('the scalars and layouts it reads give what the yaml package gives', () => {
    const texts = [
      'a: 1\nb: -2\nc: 0.5\nd: .5\ne: 1e3\nf: -1.5E-2\ng: 007\nh: 1.\n',
      'a: true\nb: False\nc: TRUE\nd: null\ne: ~\nf: Null\ng:\nh: yes\ni: off\n',
      "a: plain text (with parens), and 'quotes'\nb: 'single ''quoted'' # not a comment'\nc: \"double # kept\"\nd: ''\ne: 4x\nf: 1_000\ng: path/to/x.trace\n",
      '# head\n\ndevice:   # trailing comment\n  geometry:\n    channels: 8   # eight\n\n    dies: 2\n  ftl:\n    gc: greedy\nworkload:\n  kind: trace\n',
      'a:\n  b:\n    c: 1\n  d: 2\ne: 3\r\nf:\r\n  g: 4\r\n',
      'empty:\nnext: 1\nlast:\n',
      '# only a comment\n',
      '',
    ];
    for (const text of texts) assert.ok(same(text, JSON.stringify(text)), `read in one pass: ${JSON.stringify(text)}`);
  });

  test('anything outside the subset is left to the yaml package (null), errors included', () => {
    const texts = [
      'a: [1, 2]\n', 'a: {b: 1}\n', 'a:\n  - 1\n', 'a: &x 1\nb: *x\n', 'a: !!str 1\n', 'a: |\n  text\n', 'a: 0x1F\n', 'a: 0o17\n',
      'a: .inf\n', 'a: -.nan\n', 'a: "esc\\n"\n', 'a: x: y\n', 'a: b#c\n', 'a:\tb\n', '---\na: 1\n', 'a: 1\na: 2\n', '  a: 1\n', 'a: 1\n  b: 2\n',
      'a: multi\n  line\n', 'true: 1\n', '"a": 1\n', 'a: 12345678901234567890\n', '\ufeffa: 1\n', 'a: 1\n b: 2\n',
    ];
    for (const text of texts) assert.equal(readSimpleYaml(text, 'f.yaml'), null, JSON.stringify(text));
  });
});
