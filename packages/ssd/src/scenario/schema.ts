/**
 * The scenario file's schema: one description of a device (geometry, timing, FTL options), its
 * preconditioning, a workload (synthetic or a trace) and the outputs, with defaults equal to the
 * CLI's. Validation walks the parsed value and names the dotted key and where it sits in the file
 * (file:line:col, from {@link PositionMap}); an unknown key is an error, with a suggestion when a
 * known key is one or two edits away. Upstream counterpart: MQSim's ssdconfig.xml +
 * workload.xml pair (Execution_Parameter_Set), here as one JSON/YAML file.
 */
import { PRESET_NAMES, geometryPreset } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import { DEFAULT_FTL_OPTIONS, GC_POLICIES, GC_UNITS, HOST_ALLOCATIONS, VALIDITY_METHODS } from '../config.ts';
import { TRANSACTION_SCHEDULINGS } from '../scheduler.ts';
import { SsdError } from '../errors.ts';
import { BLKPARSE_EVENTS } from '../traces/blkparse.ts';
import { TRACE_FORMATS } from '../traces/load.ts';
import { WORKLOAD_KINDS } from '../workload.ts';

export const PRECONDITION_STATES = ['none', 'sequential', 'random', 'steady'] as const;
export type PreconditionState = (typeof PRECONDITION_STATES)[number];
export const SCENARIO_WORKLOADS = [...WORKLOAD_KINDS, 'trace'] as const;

/** A resolved scenario: every field present (defaults filled). */
export interface Scenario {
  name: string;
  description: string;
  device: {
    /** NAND geometry preset the geometry starts from. */
    preset: string;
    /** Fields overriding the preset's (channels, diesPerChannel, blocksPerDie, planesPerDie, pagesPerBlock, pageSize, spareSize). */
    geometry: Record<string, number>;
    /** NAND latencies in ns overriding the defaults (tR, tPROG, tBERS, transferPerByte). */
    timing: Record<string, number>;
    /** FTL options (src/config.ts FtlOptions); absent fields take the FTL's defaults. */
    ftl: Record<string, unknown>;
    queueDepth: number;
    /** Trace replay: an idle gap longer than this (µs) runs background GC; 0: never. */
    backgroundGcIdleUs: number;
    /** The host and controller model (simulator.ts SimulatorConfig): absent = the simulator's default. */
    replayLoop?: string;
    unmappedReads?: string;
    transactionScheduling?: string;
    /** With planes: operations on distinct planes of a die go as multi-plane commands (SimulatorConfig.multiPlane). */
    multiPlane?: boolean;
    /** SimulatorConfig.multiPlaneDiesPerChip, multiPlaneSamePage (MQSim's multi-plane rules), gcPriority, gcHardThreshold. */
    multiPlaneDiesPerChip?: number;
    multiPlaneSamePage?: boolean;
    gcPriority?: string;
    gcHardThreshold?: number;
    partialPageTransfers?: boolean;
    partialPageWrites?: string;
    /** The DRAM write-back data cache (SimulatorConfig.dataCache); absent, or capacity 0: none. */
    dataCache?: { capacityPages?: number; capacityBytes?: number; dramLatencyNs?: number; dramNsPerByte?: number; flushIdleUs?: number; readAllocate?: boolean };
  };
  precondition: {
    state: PreconditionState;
    /** Fraction of the user capacity holding valid data after preconditioning, in (0, 1]. */
    occupancy: number;
    seed: number;
    /** Steady state: windows of random overwrites until the interval WAF settles (SNIA PTS-style). */
    steady: { window: string | number; rounds: number; tolerance: number; maxWrites: string | number };
  };
  workload: {
    kind: (typeof SCENARIO_WORKLOADS)[number];
    /** Synthetic: host page writes to measure, a count or "Nx" (N × user capacity). */
    writes: string | number;
    readRatio: number;
    trimRatio: number;
    hotFraction: number;
    hotAccess: number;
    seed: number;
    /** Trace: its path (relative paths are relative to the scenario file). */
    path: string;
    format: string;
    sort: boolean;
    allowEmpty: boolean;
    blkparseEvent: string;
  };
  outputs: {
    /** Time-series point every N measured host page writes; 0: none; absent: ~100 points over the run. */
    snapshotEvery: number | null;
    /** Write the JSON report here as well as printing it. */
    json: string;
    /** Write the plots of the report into this folder. */
    plots: string;
  };
}

type Node =
  | { t: 'object'; fields: Record<string, Node>; open?: true }
  | { t: 'number'; min?: number; max?: number; integer?: true; above?: number; nullable?: true }
  | { t: 'string'; values?: readonly string[] }
  | { t: 'boolean' }
  | { t: 'writes' };

const int = (min: number): Node => ({ t: 'number', integer: true, min });

/** A schema node for every FtlOptions field, from the type of its default. */
function ftlFieldsFromDefaults(): Record<string, Node> {
  const out: Record<string, Node> = {};
  for (const [key, value] of Object.entries(DEFAULT_FTL_OPTIONS)) {
    if (typeof value === 'number') out[key] = Number.isInteger(value) ? { t: 'number', integer: true } : { t: 'number' };
    else if (typeof value === 'boolean') out[key] = { t: 'boolean' };
    else if (typeof value === 'string') out[key] = { t: 'string' };
  }
  return out;
}
const ratio: Node = { t: 'number', min: 0, max: 1 };
const writes: Node = { t: 'writes' };

export const SCENARIO_SCHEMA: Node = {
  t: 'object',
  fields: {
    name: { t: 'string' },
    description: { t: 'string' },
    device: {
      t: 'object',
      fields: {
        preset: { t: 'string', values: PRESET_NAMES },
        geometry: {
          t: 'object',
          fields: { channels: int(1), diesPerChannel: int(1), blocksPerDie: int(1), planesPerDie: int(1), pagesPerBlock: int(1), pageSize: int(512), spareSize: int(1) },
        },
        timing: { t: 'object', fields: { tR: int(0), tPROG: int(0), tBERS: int(0), transferPerByte: { t: 'number', min: 0 } } },
        ftl: {
          t: 'object',
          fields: {
            // FTL options this list does not name are still accepted, typed by their default
            // (ftlFieldsFromDefaults), so a new FtlOptions field needs no change here.
            ...ftlFieldsFromDefaults(),
            overProvisioning: { t: 'number', above: 0, max: 100 },
            gcPolicy: { t: 'string', values: GC_POLICIES },
            gcUnit: { t: 'string', values: GC_UNITS },
            validityMethod: { t: 'string', values: VALIDITY_METHODS },
            gcThreshold: int(0),
            backgroundGcTarget: int(0),
            dynamicWearLeveling: { t: 'boolean' },
            staticWearLeveling: { t: 'boolean' },
            staticWearLevelingThreshold: int(0),
            seed: { t: 'number', integer: true },
            wasmKernel: { t: 'boolean' },
            hostAllocation: { t: 'string', values: HOST_ALLOCATIONS },
          },
        },
        queueDepth: int(1),
        backgroundGcIdleUs: int(0),
        replayLoop: { t: 'string', values: ['open', 'closed'] },
        unmappedReads: { t: 'string', values: ['free', 'flash-read'] },
        transactionScheduling: { t: 'string', values: ['eager', ...TRANSACTION_SCHEDULINGS] },
        multiPlane: { t: 'boolean' },
        multiPlaneDiesPerChip: int(1),
        multiPlaneSamePage: { t: 'boolean' },
        gcPriority: { t: 'string', values: ['first', 'preemptible'] },
        gcHardThreshold: int(1),
        partialPageTransfers: { t: 'boolean' },
        partialPageWrites: { t: 'string', values: ['overwrite', 'read-modify-write'] },
        dataCache: {
          t: 'object',
          fields: {
            // 0 (either): no cache, so a sweep can vary the size from none upwards.
            capacityPages: int(0),
            capacityBytes: int(0),
            dramLatencyNs: { t: 'number', min: 0 },
            dramNsPerByte: { t: 'number', min: 0 },
            flushIdleUs: { t: 'number', min: 0 },
            readAllocate: { t: 'boolean' },
          },
        },
      },
    },
    precondition: {
      t: 'object',
      fields: {
        state: { t: 'string', values: PRECONDITION_STATES },
        occupancy: { t: 'number', above: 0, max: 1 },
        seed: { t: 'number', integer: true },
        steady: { t: 'object', fields: { window: writes, rounds: int(2), tolerance: { t: 'number', above: 0, max: 1 }, maxWrites: writes } },
      },
    },
    workload: {
      t: 'object',
      fields: {
        kind: { t: 'string', values: SCENARIO_WORKLOADS },
        writes,
        readRatio: ratio,
        trimRatio: ratio,
        hotFraction: ratio,
        hotAccess: ratio,
        seed: { t: 'number', integer: true },
        path: { t: 'string' },
        format: { t: 'string', values: ['auto', ...TRACE_FORMATS] },
        sort: { t: 'boolean' },
        allowEmpty: { t: 'boolean' },
        blkparseEvent: { t: 'string', values: ['auto', ...BLKPARSE_EVENTS] },
      },
    },
    outputs: { t: 'object', fields: { snapshotEvery: { t: 'number', integer: true, min: 0, nullable: true }, json: { t: 'string' }, plots: { t: 'string' } } },
  },
};

/** The defaults: what `ssdsim run` does with no scenario and no flags. */
export function defaultScenario(): Scenario {
  return {
    name: '',
    description: '',
    device: { preset: 'ssd-small', geometry: {}, timing: {}, ftl: { overProvisioning: 0.2, gcPolicy: 'greedy', gcUnit: 'block', validityMethod: 'bitmap', seed: 1 }, queueDepth: 32, backgroundGcIdleUs: 1000 },
    precondition: { state: 'sequential', occupancy: 1, seed: 1, steady: { window: '0.25x', rounds: 5, tolerance: 0.1, maxWrites: '20x' } },
    workload: { kind: 'uniform', writes: '4x', readRatio: 0, trimRatio: 0, hotFraction: 0.2, hotAccess: 0.8, seed: 1, path: '', format: 'auto', sort: false, allowEmpty: false, blkparseEvent: 'auto' },
    outputs: { snapshotEvery: null, json: '', plots: '' },
  };
}

/** Where each dotted key was written ("file:line:col"); paths not in the map fall back to the file. */
export interface PositionMap {
  readonly file: string;
  readonly positions: ReadonlyMap<string, string>;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

const WRITES = /^\d+(\.\d+)?x$/;

/**
 * The device's two caches (issue 17) have these keys: device.dataCache.* (the DRAM write-back data
 * cache) and device.ftl.mappingCacheEntries / mappingCacheBytes (the DFTL cached mapping table). An
 * unknown key that looks like a cache key is refused like any other unknown key, naming them.
 */
const CACHE_KEY = /cache|dram|dftl|cmt/i;
export const CACHE_KEYS_HINT =
  'the caches are device.dataCache (capacityPages or capacityBytes, dramLatencyNs, dramNsPerByte, flushIdleUs, readAllocate) and device.ftl.mappingCacheEntries or device.ftl.mappingCacheBytes';

/**
 * Checks `value` against the schema; throws SsdError INVALID_CONFIG naming the first bad key:
 * `file:line:col: device.ftl.gcPolicy: …`.
 */
export function validateScenarioValue(value: unknown, where: PositionMap, node: Node = SCENARIO_SCHEMA, path = ''): void {
  const at = (p: string) => where.positions.get(p) ?? where.file;
  const fail = (p: string, why: string): never => {
    throw new SsdError('INVALID_CONFIG', `${at(p)}: ${p || '(top level)'}: ${why}`);
  };
  const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));
  switch (node.t) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(path, `must be a mapping of keys, got ${show(value)}`);
      const known = Object.keys(node.fields);
      for (const [key, v] of Object.entries(value)) {
        const p = path ? `${path}.${key}` : key;
        const field = node.fields[key];
        if (field === undefined) {
          const near = known.filter((k) => editDistance(k, key) <= 2);
          const cache = CACHE_KEY.test(key) ? `; ${CACHE_KEYS_HINT}` : '';
          return fail(p, `unknown key '${key}'${near.length ? ` (did you mean '${near[0]}'?)` : ''}${cache}; known keys here: ${known.join(', ')}`);
        }
        validateScenarioValue(v, where, field, p);
      }
      return;
    }
    case 'number': {
      if (value === null && node.nullable) return;
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail(path, `must be a number, got ${show(value)}`);
      if (node.integer && !Number.isInteger(value)) return fail(path, `must be an integer, got ${value}`);
      if (node.min !== undefined && value < node.min) return fail(path, `must be ≥ ${node.min}, got ${value}`);
      if (node.above !== undefined && value <= node.above) return fail(path, `must be > ${node.above}, got ${value}`);
      if (node.max !== undefined && value > node.max) return fail(path, `must be ≤ ${node.max}, got ${value}`);
      return;
    }
    case 'string':
      if (typeof value !== 'string') return fail(path, `must be a string, got ${show(value)}`);
      if (node.values && !node.values.includes(value)) return fail(path, `'${value}' is not one of ${node.values.join(', ')}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') return fail(path, `must be true or false, got ${show(value)}`);
      return;
    case 'writes':
      if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return;
      if (typeof value === 'string' && WRITES.test(value) && Number(value.slice(0, -1)) > 0) return;
      return fail(path, `must be a page count (100000) or a multiple of the user capacity ('4x'), got ${show(value)}`);
  }
}

/** The schema node at a dotted path (undefined when the path is not in the schema). */
export function schemaAt(path: string): Node | undefined {
  let node: Node | undefined = SCENARIO_SCHEMA;
  for (const key of path.split('.')) {
    if (node === undefined || node.t !== 'object') return undefined;
    node = node.fields[key];
  }
  return node;
}

/** Every leaf path of the schema (for error messages and --vary). */
export function schemaLeafPaths(node: Node = SCENARIO_SCHEMA, path = ''): string[] {
  if (node.t !== 'object') return [path];
  return Object.entries(node.fields).flatMap(([k, v]) => schemaLeafPaths(v, path ? `${path}.${k}` : k));
}

/** Deep merge of `over` into `base` (objects merged key by key, anything else replaced). */
export function mergeScenario<T>(base: T, over: unknown): T {
  if (typeof over !== 'object' || over === null || Array.isArray(over)) return over as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = typeof b === 'object' && b !== null && !Array.isArray(b) && typeof v === 'object' && v !== null && !Array.isArray(v) ? mergeScenario(b, v) : v;
  }
  return out as T;
}

/** Sets a dotted path in a plain object, creating the mappings on the way. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = target;
  for (const k of keys.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[keys.at(-1)!] = value;
}

/** Reads a dotted path. */
export function getPath(source: unknown, path: string): unknown {
  let o = source;
  for (const k of path.split('.')) {
    if (typeof o !== 'object' || o === null) return undefined;
    o = (o as Record<string, unknown>)[k];
  }
  return o;
}

/** The scenario's device geometry: its preset with the scenario's overrides. */
export function scenarioGeometry(s: Scenario): NandGeometry {
  return { ...geometryPreset(s.device.preset), ...s.device.geometry } as NandGeometry;
}
