/**
 * A sweep's plan: `--vary name=v1,v2,…` axes over a base scenario, their cross product in a fixed
 * order (the first axis varies slowest, as nested loops), each point a whole scenario, and the
 * i-th of N shards (points whose index ≡ i − 1 mod N, so every shard gets a share of each axis).
 * The sweep's id is a hash of the base scenario and the axes: a merge only joins points of one sweep.
 */
import { createHash } from 'node:crypto';
import { SsdError } from '../errors.ts';
import { applyOverrides, overrideFor, parseScenarioValue, scenarioKey } from '../scenario/overrides.ts';
import type { Scenario } from '../scenario/schema.ts';

export interface SweepAxis {
  /** The name as typed (op, gc, device.geometry.blocksPerDie…). */
  readonly name: string;
  /** The scenario key it sets ('seed' sets every seed). */
  readonly key: string;
  readonly values: readonly unknown[];
}

export interface SweepPoint {
  /** 0-based position in the cross product. */
  readonly index: number;
  /** File-name-safe id: index and values. */
  readonly id: string;
  readonly values: Readonly<Record<string, unknown>>;
  readonly scenario: Scenario;
}

export interface SweepPlan {
  readonly id: string;
  readonly base: Scenario;
  readonly axes: readonly SweepAxis[];
  readonly points: readonly SweepPoint[];
}

/** Parses one `name=v1,v2,…` (values typed by the scenario schema). */
export function parseVary(spec: string): SweepAxis {
  const eq = spec.indexOf('=');
  if (eq <= 0 || eq === spec.length - 1) throw new SsdError('INVALID_CONFIG', `--vary '${spec}': expected name=value1,value2,…`);
  const name = spec.slice(0, eq).trim();
  const key = scenarioKey(name);
  const values = spec.slice(eq + 1).split(',').map((v) => v.trim());
  if (values.some((v) => v === '')) throw new SsdError('INVALID_CONFIG', `--vary '${spec}': an empty value`);
  if (new Set(values).size !== values.length) throw new SsdError('INVALID_CONFIG', `--vary '${spec}': a value is repeated`);
  return { name, key, values: values.map((v) => parseScenarioValue(key, v)) };
}

const safe = (v: unknown) => String(v).replace(/[^A-Za-z0-9.+-]+/g, '_');

/** The cross product of the axes over `base`; each point's scenario is validated (naming the --vary). */
export function planSweep(base: Scenario, axes: readonly SweepAxis[]): SweepPlan {
  const names = new Set<string>();
  for (const a of axes) {
    if (names.has(a.key)) throw new SsdError('INVALID_CONFIG', `--vary ${a.name}: the same key is varied twice`);
    names.add(a.key);
  }
  const total = axes.reduce((n, a) => n * a.values.length, 1);
  const width = String(Math.max(0, total - 1)).length;
  const points: SweepPoint[] = [];
  for (let index = 0; index < total; index++) {
    const values: Record<string, unknown> = {};
    const overrides: Record<string, unknown>[] = [];
    let rest = index;
    for (let k = axes.length - 1; k >= 0; k--) {
      const a = axes[k]!;
      const v = a.values[rest % a.values.length];
      rest = Math.floor(rest / a.values.length);
      values[a.name] = v;
      overrides.unshift(overrideFor(a.key, v));
    }
    const ordered: Record<string, unknown> = {};
    for (const a of axes) ordered[a.name] = values[a.name];
    const scenario = applyOverrides(base, overrides, `--vary ${axes.map((a) => a.name).join(' --vary ')}`);
    const id = [String(index).padStart(width, '0'), ...axes.map((a) => `${safe(a.name)}=${safe(ordered[a.name])}`)].join('_');
    points.push({ index, id, values: ordered, scenario });
  }
  const id = createHash('sha256').update(JSON.stringify({ base, axes: axes.map((a) => [a.key, a.values]) })).digest('hex').slice(0, 16);
  return { id, base, axes, points };
}

/** Parses `i/N` (1 ≤ i ≤ N). */
export function parseShard(spec: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new SsdError('INVALID_CONFIG', `--shard '${spec}': expected i/N with 1 ≤ i ≤ N (e.g. 1/4 … 4/4)`);
  return { index, count };
}

/** The points of shard i of N. */
export function shardPoints(points: readonly SweepPoint[], shard: { index: number; count: number }): SweepPoint[] {
  return points.filter((p) => p.index % shard.count === shard.index - 1);
}
