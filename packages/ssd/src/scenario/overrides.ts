/**
 * Values from outside the file — CLI flags and sweep `--vary` axes — as scenario overrides: the
 * short names users type (op, gc, workload…) mapped to the scenario's dotted keys, text values
 * parsed by the schema's type, the overrides validated like the file, then merged over it.
 */
import { SsdError } from '../errors.ts';
import { checkScenario } from './load.ts';
import { getPath, mergeScenario, schemaAt, schemaLeafPaths, setPath, validateScenarioValue } from './schema.ts';
import type { Scenario } from './schema.ts';

/** Short names (the CLI's flag names) of scenario keys; any dotted key works too. */
export const SCENARIO_ALIASES: Readonly<Record<string, string>> = {
  preset: 'device.preset',
  op: 'device.ftl.overProvisioning',
  gc: 'device.ftl.gcPolicy',
  'gc-unit': 'device.ftl.gcUnit',
  'valid-by': 'device.ftl.validityMethod',
  'gc-threshold': 'device.ftl.gcThreshold',
  'static-wl-threshold': 'device.ftl.staticWearLevelingThreshold',
  channels: 'device.geometry.channels',
  dies: 'device.geometry.diesPerChannel',
  blocks: 'device.geometry.blocksPerDie',
  planes: 'device.geometry.planesPerDie',
  'multi-plane': 'device.multiPlane',
  'gc-copyback': 'device.ftl.gcCopyback',
  allocation: 'device.ftl.hostAllocation',
  'pages-per-block': 'device.geometry.pagesPerBlock',
  'page-size': 'device.geometry.pageSize',
  'queue-depth': 'device.queueDepth',
  'bg-gc-idle-us': 'device.backgroundGcIdleUs',
  'precondition-state': 'precondition.state',
  occupancy: 'precondition.occupancy',
  workload: 'workload.kind',
  writes: 'workload.writes',
  'read-ratio': 'workload.readRatio',
  'trim-ratio': 'workload.trimRatio',
  'hot-fraction': 'workload.hotFraction',
  'hot-access': 'workload.hotAccess',
  trace: 'workload.path',
  format: 'workload.format',
  'snapshot-every': 'outputs.snapshotEvery',
  'data-cache': 'device.dataCache.capacityPages',
  'data-cache-bytes': 'device.dataCache.capacityBytes',
  'flush-idle-us': 'device.dataCache.flushIdleUs',
  'mapping-cache': 'device.ftl.mappingCacheEntries',
  'mapping-cache-bytes': 'device.ftl.mappingCacheBytes',
};

/** The dotted key of a short name or dotted key; INVALID_CONFIG for neither. */
export function scenarioKey(name: string): string {
  if (name === 'seed') return 'seed';
  const key = SCENARIO_ALIASES[name] ?? name;
  const node = schemaAt(key);
  if (node === undefined || node.t === 'object') {
    throw new SsdError('INVALID_CONFIG', `'${name}' is not a scenario key (short names: seed, ${Object.keys(SCENARIO_ALIASES).join(', ')}; or a dotted key such as ${schemaLeafPaths().slice(0, 3).join(', ')})`);
  }
  return key;
}

/** Parses a text value for a key by the schema's type ("20%" allowed for ratios). */
export function parseScenarioValue(key: string, text: string): unknown {
  if (key === 'seed') return parseNumber(key, text);
  const node = schemaAt(key);
  if (node?.t === 'number') return text === 'null' && node.nullable ? null : parseNumber(key, text);
  if (node?.t === 'boolean') {
    if (text === 'true' || text === 'false') return text === 'true';
    throw new SsdError('INVALID_CONFIG', `${key}: must be true or false, got '${text}'`);
  }
  if (node?.t === 'writes') return /^\d+$/.test(text) ? Number(text) : text;
  return text;
}

function parseNumber(key: string, text: string): number {
  const percent = text.endsWith('%');
  const v = Number(percent ? text.slice(0, -1) : text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new SsdError('INVALID_CONFIG', `${key}: '${text}' is not a number`);
  return percent ? v / 100 : v;
}

/** A partial scenario setting `key` (seed sets the FTL's, the workload's and the preconditioning's). */
export function overrideFor(key: string, value: unknown): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (key === 'seed') {
    for (const k of ['device.ftl.seed', 'workload.seed', 'precondition.seed']) setPath(o, k, value);
  } else {
    setPath(o, key, value);
  }
  return o;
}

/** Validates the overrides (naming `source`, e.g. "--vary op") and merges them over the scenario. */
export function applyOverrides(base: Scenario, overrides: readonly Record<string, unknown>[], source = 'command line'): Scenario {
  let s = base;
  for (const o of overrides) {
    validateScenarioValue(o, { file: source, positions: new Map() });
    s = mergeScenario(s, o);
  }
  checkScenario(s, { file: source, positions: new Map() });
  return s;
}

/** A scenario value by short name or dotted key (sweep summaries). */
export function scenarioValue(s: Scenario, name: string): unknown {
  const key = scenarioKey(name);
  return getPath(s, key === 'seed' ? 'device.ftl.seed' : key);
}
