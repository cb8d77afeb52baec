// The root README's trace-replay example, run exactly as written (`npx ssdsim replay …` from the
// repository root, the line taken from the README itself): it must show garbage collection at
// work (GC runs > 0, WAF > 1), and the figures the comment above it promises — "<n> requests",
// "a <n>-block device", "GC runs about <n> times", "WAF comes out near <x>" — must be what the
// command prints, within the precision the README words them in ("about 900": to the nearest
// hundred; "near 4.8": to the nearest tenth). A change to the simulator that moves these
// figures fails here until the README says the new ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { geometryPreset } from '@flashdiff/nand';
import { readTraceFile } from '../src/trace.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');

/** "9,999" → 9999. */
const figure = (text: string) => Number(text.replace(/,/g, ''));

/**
 * How far a figure written as `text` may be from the measured value: half a unit of its last
 * significant digit ("900" → 50, "4.8" → 0.05, "256" → 0.5, i.e. exact for an integer without
 * trailing zeros).
 */
function halfUnit(text: string): number {
  const plain = text.replace(/,/g, '');
  const decimals = plain.includes('.') ? plain.split('.')[1]!.length : 0;
  if (decimals > 0) return 0.5 * 10 ** -decimals;
  const trailingZeros = /0*$/.exec(plain)![0].length;
  return 0.5 * 10 ** trailingZeros;
}

test("the README's trace replay shows GC and a WAF above 1, with the figures it states", () => {
  const lines = readme.split('\n');
  const at = lines.findIndex((l) => l.startsWith('npx ssdsim replay '));
  assert.ok(at > 0, 'the README has an `npx ssdsim replay` line');
  const command = lines[at]!;
  // The comment lines just above the command describe it.
  let first = at;
  while (first > 0 && lines[first - 1]!.startsWith('#')) first--;
  const comment = lines.slice(first, at).join(' ');
  const requests = /([\d,]+) requests/.exec(comment)?.[1];
  const blocks = /a ([\d,]+)-block device/.exec(comment)?.[1];
  const gcRuns = /GC runs about ([\d,]+) times/.exec(comment)?.[1];
  const waf = /WAF comes out near ([\d.]+)/.exec(comment)?.[1];
  assert.ok(requests && blocks && gcRuns && waf, `the comment states requests, blocks, GC runs and WAF: ${comment}`);

  // npx must never fetch: `npm_config_yes=false` makes a missing ssdsim an error instead of a download.
  const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, npm_config_yes: 'false', npm_config_update_notifier: 'false' };
  const r = spawnSync('bash', ['-c', command], { cwd: repoRoot, env, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `${command}\n${r.stdout}${r.stderr}`);
  assert.equal(r.stderr, '', 'nothing on stderr (no progress bar off a terminal, no warnings)');

  const measuredGc = Number(/^GC runs (\d+), /m.exec(r.stdout)?.[1]);
  const measuredWaf = Number(/^WAF ([\d.]+) = (\d+) NAND page programs \/ (\d+) host page writes$/m.exec(r.stdout)?.[1]);
  const physicalPages = Number(/ of (\d+) physical /.exec(r.stdout)?.[1]);
  assert.ok(measuredGc > 0, `GC ran: ${r.stdout}`);
  assert.ok(measuredWaf > 1, `WAF above 1: ${r.stdout}`);
  assert.ok(Math.abs(measuredGc - figure(gcRuns)) <= halfUnit(gcRuns), `the README says GC runs about ${gcRuns} times; the command printed ${measuredGc}`);
  assert.ok(Math.abs(measuredWaf - figure(waf)) <= halfUnit(waf) + 1e-9, `the README says WAF near ${waf}; the command printed ${measuredWaf}`);

  // The device and the trace are what the comment says they are.
  const trace = /ssdsim replay (\S+)/.exec(command)![1]!;
  assert.equal(readTraceFile(join(repoRoot, trace)).length, figure(requests), `requests in ${trace}`);
  const preset = /--preset (\S+)/.exec(command)![1]!;
  assert.doesNotMatch(command, /--pages-per-block/, 'the pages per block are the preset\'s');
  assert.equal(physicalPages / geometryPreset(preset).pagesPerBlock, figure(blocks), `blocks of the ${preset} device with the README's flags`);
});
