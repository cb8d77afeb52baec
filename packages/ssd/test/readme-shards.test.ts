// The README's shard/merge examples, run as written: the Slurm array script's body once per
// SLURM_ARRAY_TASK_ID (sbatch is not installable here) and its dependent merge job's command,
// and the GNU parallel line on this machine (`-S :` for `-S host1,host2`) where GNU parallel is
// installed. The merged folder must equal the whole sweep run in one go. The commands come from
// the README itself, so an example that stops working fails here.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyOverrides } from '../src/scenario/overrides.ts';
import { defaultScenario } from '../src/scenario/schema.ts';
import { mergeSweeps, parseShard, parseVary, planSweep, readPoints, runSweep, shardPoints } from '../src/sweep/index.ts';
import type { PointResult } from '../src/sweep/index.ts';

const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
const repoNodeModules = fileURLToPath(new URL('../../../node_modules', import.meta.url));

/** The README's fenced blocks. */
const blocks = [...readme.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]!);
const slurmScript = blocks.find((b) => b.startsWith('#!/bin/bash\n') && b.includes('#SBATCH'));
const submitBlock = blocks.find((b) => b.includes('sbatch --dependency'));
const parallelBlock = blocks.find((b) => b.startsWith('parallel '));

/**
 * A small my.yaml in place of the README's (whose 16 points take ~18 s): the same axes apply.
 * Random preconditioning and hot/cold writes, so the points differ from one another.
 */
const MY_YAML = `device:
  preset: ssd-small
  geometry: { channels: 2, diesPerChannel: 1, blocksPerDie: 16, pagesPerBlock: 16 }
precondition: { state: random, occupancy: 0.9 }
workload: { kind: hotcold, writes: 2x }
`;

/** A folder like a user's: my.yaml, and node_modules so that `npx ssdsim` finds the workspace's bin. */
function workFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ssd-readme-shards-'));
  writeFileSync(join(dir, 'my.yaml'), MY_YAML);
  symlinkSync(repoNodeModules, join(dir, 'node_modules'), 'dir');
  return dir;
}

// npx must never fetch: `npm_config_yes=false` makes a missing ssdsim an error instead of a download.
const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, npm_config_yes: 'false', npm_config_update_notifier: 'false' };

function bash(script: string, cwd: string, extra: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function ok(r: { status: number | null; stdout: string; stderr: string }, what: string): void {
  assert.equal(r.status, 0, `${what}: exit ${r.status}\n${r.stdout}${r.stderr}`);
}

/** A point without its wall-clock fields (the only ones that differ between identical runs). */
function stable(r: PointResult): unknown {
  const report = r.report ? { ...r.report, precondition: r.report.precondition ? { ...r.report.precondition, wallSeconds: 0 } : null } : null;
  return { ...r, wallSeconds: 0, report };
}
const sortedPoints = (dir: string) => readPoints(dir).sort((a, b) => a.index - b.index).map(stable);

/** The whole sweep, in one go: the Slurm script's command without --shard and --dir. */
function wholeSweepCommand(script: string): string {
  const command = script.split('\n').filter((l) => !l.startsWith('#')).join('\n').replace(/\\\n\s*/g, '');
  const whole = command.replace(/\s--shard \S+/, '').replace(/\s--dir \S+/, '');
  assert.notEqual(whole, command, 'the Slurm command has --shard and --dir');
  return `${whole.trim()} --dir whole`;
}

describe('README shard/merge examples', () => {
  test('the README has the Slurm script, its merge job and the GNU parallel line', () => {
    assert.ok(slurmScript, 'a ```bash block starting #!/bin/bash with #SBATCH lines');
    assert.match(slurmScript!, /^#SBATCH --array=\d+-\d+$/m);
    assert.ok(submitBlock && /--wrap "npx ssdsim merge [^"]+"/.test(submitBlock), 'sbatch --dependency … --wrap "npx ssdsim merge …"');
    assert.ok(parallelBlock?.includes('-S host1,host2'), 'parallel -S host1,host2 …');
    assert.match(parallelBlock!, /\nnpx ssdsim merge /);
  });

  test('the Slurm array script, once per SLURM_ARRAY_TASK_ID, then its merge job: equal to the whole sweep', async () => {
    const dir = workFolder();
    try {
      const [, first, last] = /^#SBATCH --array=(\d+)-(\d+)$/m.exec(slurmScript!)!.map(Number);
      writeFileSync(join(dir, 'sweep.sbatch'), slurmScript!);
      // The array's tasks run at once, as Slurm runs them, each with its own environment.
      const tasks = [];
      for (let id = first!; id <= last!; id++) tasks.push(bash('bash sweep.sbatch', dir, { SLURM_ARRAY_TASK_ID: String(id) }).then((r) => ok(r, `array task ${id}`)));
      await Promise.all(tasks);
      const merge = /--wrap "([^"]+)"/.exec(submitBlock!)![1]!;
      ok(await bash(merge, dir), merge);
      ok(await bash(wholeSweepCommand(slurmScript!), dir), 'the whole sweep');
      assert.equal(readdirSync(join(dir, 'sweep', 'points')).length, 16);
      assert.equal(readFileSync(join(dir, 'sweep', 'summary.csv'), 'utf8'), readFileSync(join(dir, 'whole', 'summary.csv'), 'utf8'));
      assert.deepEqual(sortedPoints(join(dir, 'sweep')), sortedPoints(join(dir, 'whole')));
      const errors = readPoints(join(dir, 'whole')).filter((p) => p.error !== null);
      assert.deepEqual(errors.map((p) => p.error), [], 'every point ran');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const hasParallel = spawnSync('parallel', ['--version'], { encoding: 'utf8' }).stdout?.startsWith('GNU parallel') === true;
  test(
    'the GNU parallel line on this machine (-S :), then its merge: equal to the whole sweep',
    { skip: hasParallel ? false : 'GNU parallel is not installed (apt-get install parallel); the Slurm test above still checks shards + merge' },
    async () => {
      const dir = workFolder();
      try {
        const [line, merge] = parallelBlock!.trim().split('\n') as [string, string];
        ok(await bash(line.replace('-S host1,host2', '-S :'), dir), 'parallel');
        ok(await bash(merge.replace(/\s+#.*$/, ''), dir), merge);
        ok(await bash(wholeSweepCommand(slurmScript!), dir), 'the whole sweep');
        assert.equal(readdirSync(dir).filter((f) => f.startsWith('sweep-')).length, 8);
        assert.equal(readFileSync(join(dir, 'sweep', 'summary.csv'), 'utf8'), readFileSync(join(dir, 'whole', 'summary.csv'), 'utf8'));
        assert.deepEqual(sortedPoints(join(dir, 'sweep')), sortedPoints(join(dir, 'whole')));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test('more shards than points: the empty shards are folders that merge', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssd-empty-shards-'));
    try {
      const base = applyOverrides(defaultScenario(), [{ device: { geometry: { channels: 2, diesPerChannel: 1, blocksPerDie: 16, pagesPerBlock: 16 } }, workload: { writes: '1x' } }]);
      const plan = planSweep(base, [parseVary('op=0.15,0.3')]);
      const shards = [1, 2, 3, 4].map((i) => join(dir, `sweep-${i}`));
      for (let i = 1; i <= 4; i++) await runSweep(plan, shardPoints(plan.points, parseShard(`${i}/4`)), shards[i - 1]!, { workers: 1 });
      assert.deepEqual(readdirSync(join(shards[3]!, 'points')), []);
      assert.equal(readFileSync(join(shards[3]!, 'summary.csv'), 'utf8').split(',').slice(0, 3).join(','), 'index,id,vary:op');
      const merged = mergeSweeps(shards, join(dir, 'sweep'));
      assert.deepEqual(merged.map((r) => r.index), [0, 1]);
      assert.throws(() => mergeSweeps(shards.slice(2), join(dir, 'none')), /no sweep points/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
