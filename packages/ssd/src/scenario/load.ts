/**
 * Reading scenario files: YAML or JSON (by extension; JSON is checked by JSON.parse first, then
 * read through the same YAML parser for the positions of its keys, since JSON is YAML 1.2), the
 * position of every key recorded for error messages, validation against the schema, defaults
 * filled. Shipped scenarios (packages/ssd/scenarios/*.yaml, the old presets and MQSim's default
 * device) are found by name.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type { Node as YamlNode } from 'yaml';
import { SsdError } from '../errors.ts';
import { readSimpleYaml } from './fast-yaml.ts';
import { defaultScenario, mergeScenario, validateScenarioValue } from './schema.ts';
import type { PositionMap, Scenario } from './schema.ts';

/** The folder of the scenarios shipped with the package. */
export const SHIPPED_SCENARIO_DIR = fileURLToPath(new URL('../../scenarios/', import.meta.url));

/** Names of the shipped scenarios (file names without .yaml). */
export function shippedScenarioNames(): string[] {
  return readdirSync(SHIPPED_SCENARIO_DIR).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
}

function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) { line++; last = i; }
  return { line, col: offset - last };
}

/** Parses scenario text (YAML, or JSON when `json`) into a plain value and the position of each key. */
export function parseScenarioText(text: string, file: string, json = false): { value: unknown; where: PositionMap } {
  if (json) {
    try {
      JSON.parse(text);
    } catch (e) {
      const m = /position (\d+)/.exec((e as Error).message);
      const pos = m ? lineCol(text, Number(m[1])) : null;
      throw new SsdError('INVALID_CONFIG', `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid JSON (${(e as Error).message})`);
    }
  }
  // The plain subset scenario files use is read in one pass (fast-yaml.ts); anything else, and
  // every error, goes through the yaml package.
  const simple = json ? null : readSimpleYaml(text, file);
  if (simple !== null) return { value: simple.value, where: { file, positions: simple.positions } };
  return parseScenarioYaml(text, file);
}

/** Parses scenario text with the `yaml` package (any YAML, and JSON): the value and each key's position. */
export function parseScenarioYaml(text: string, file: string): { value: unknown; where: PositionMap } {
  // Loaded here, not at start: most scenario files never need it (fast-yaml.ts reads them).
  const { LineCounter, isMap, isPair, isScalar, parseDocument } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    const p = err.linePos?.[0] ?? lineCounter.linePos(err.pos[0]);
    throw new SsdError('INVALID_CONFIG', `${file}${p ? `:${p.line}:${p.col}` : ''}: ${err.message.split('\n')[0]}`);
  }
  const positions = new Map<string, string>();
  const walk = (node: YamlNode | null | undefined, path: string): void => {
    if (!isMap(node)) return;
    for (const item of node.items) {
      if (!isPair(item) || !isScalar(item.key)) continue;
      const p = path ? `${path}.${String(item.key.value)}` : String(item.key.value);
      const range = item.key.range;
      if (range) {
        const lc = lineCounter.linePos(range[0]);
        positions.set(p, `${file}:${lc.line}:${lc.col}`);
      }
      walk(item.value as YamlNode | null, p);
    }
  };
  walk(doc.contents as YamlNode | null, '');
  return { value: doc.toJS() ?? {}, where: { file, positions } };
}

/**
 * Validates a scenario value and fills the defaults. A trace path in the file is made relative to
 * the file's folder (`baseDir`).
 */
export function resolveScenario(value: unknown, where: PositionMap, baseDir?: string): Scenario {
  validateScenarioValue(value, where);
  const s = mergeScenario(defaultScenario(), value);
  if (baseDir !== undefined && s.workload.path !== '' && !isAbsolute(s.workload.path)) s.workload.path = resolve(baseDir, s.workload.path);
  checkScenario(s, where);
  return s;
}

/** Rules across keys (the schema checks each key alone). */
export function checkScenario(s: Scenario, where: PositionMap): void {
  const at = (p: string) => where.positions.get(p) ?? where.file;
  const cache = s.device.dataCache;
  if (cache !== undefined && (cache.capacityPages ?? 0) > 0 && (cache.capacityBytes ?? 0) > 0) {
    throw new SsdError('INVALID_CONFIG', `${at('device.dataCache.capacityBytes')}: device.dataCache: give capacityPages or capacityBytes, not both`);
  }
  const ftl = s.device.ftl;
  if (typeof ftl.mappingCacheEntries === 'number' && typeof ftl.mappingCacheBytes === 'number' && ftl.mappingCacheEntries > 0 && ftl.mappingCacheBytes > 0) {
    throw new SsdError('INVALID_CONFIG', `${at('device.ftl.mappingCacheBytes')}: device.ftl: give mappingCacheEntries or mappingCacheBytes, not both`);
  }
  if (s.workload.kind === 'trace' && s.workload.path === '') {
    throw new SsdError('INVALID_CONFIG', `${at('workload.kind')}: workload.path: a trace workload needs the trace's path`);
  }
  if (s.workload.kind !== 'trace' && s.workload.readRatio + s.workload.trimRatio >= 1) {
    throw new SsdError('INVALID_CONFIG', `${at('workload.readRatio')}: workload.readRatio + workload.trimRatio must be below 1 for a write run`);
  }
}

/**
 * Loads a scenario: a path to a .yaml/.yml/.json file, or the name of a shipped scenario.
 * Throws SsdError INVALID_CONFIG (bad content, naming file:line:col and the key) or TRACE_IO-like
 * INVALID_CONFIG when the file cannot be read.
 */
export function loadScenario(pathOrName: string): Scenario {
  let path = pathOrName;
  if (!existsSync(path) && /^[\w-]+$/.test(pathOrName) && shippedScenarioNames().includes(pathOrName)) path = join(SHIPPED_SCENARIO_DIR, `${pathOrName}.yaml`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const names = shippedScenarioNames().join(', ');
    throw new SsdError('INVALID_CONFIG', `${pathOrName}: cannot read the scenario (${(e as NodeJS.ErrnoException).code ?? String(e)}); shipped scenarios: ${names}`);
  }
  const ext = extname(path).toLowerCase();
  if (ext !== '.json' && ext !== '.yaml' && ext !== '.yml') {
    throw new SsdError('INVALID_CONFIG', `${path}: a scenario file ends in .yaml, .yml or .json`);
  }
  const { value, where } = parseScenarioText(text, path, ext === '.json');
  return resolveScenario(value, where, dirname(resolve(path)));
}
