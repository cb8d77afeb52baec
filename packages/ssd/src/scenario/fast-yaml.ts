/**
 * The plain subset of YAML that scenario files use, read in one pass with each key's position:
 * block mappings of `key: value` lines (spaces for indentation), plain scalars resolved as the
 * `yaml` package's YAML 1.2 core schema resolves them (null, true/false, decimal integers and
 * floats, other text as strings), simple quoted strings, comments and blank lines. A text with
 * anything else (sequences, flow collections, anchors, tags, block scalars, multi-line or escaped
 * strings, a duplicate key, a tab in the indentation, a scalar the core schema might read
 * differently) gets null, and load.ts parses it with the `yaml` package as before; where this
 * reader answers, its value and positions equal that package's (test/scenario-fast-yaml.test.ts).
 * Why: the `yaml` package's first parse in a process costs 7 ms (more on a loaded machine) of a
 * cold `ssdsim` run, most of it V8 compiling the parser. Upstream counterpart: none (MQSim reads
 * its XML configuration with rapidxml).
 */

/** Scalars the core schema reads as null, true, false, an integer or a float (the `yaml` package's core tags). */
const NULL = /^(?:~|[Nn]ull|NULL)$/;
const TRUE = /^(?:[Tt]rue|TRUE)$/;
const FALSE = /^(?:[Ff]alse|FALSE)$/;
const INT = /^[-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
/**
 * A plain string here: starts with a letter, digit, '/' or '_' and holds no character YAML might
 * read as syntax; with a digit first, the integer and float forms are tested before it, and the
 * core schema's hexadecimal and octal forms (0x…, 0o…) are left to the yaml package.
 */
const PLAIN_STRING = /^[A-Za-z0-9_/][^:#{}[\]&*!|>%@`"]*$/;
const RADIX = /^0[xXoO]/;
const KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const SINGLE_QUOTED = /^'((?:[^']|'')*)'$/;
const DOUBLE_QUOTED = /^"([^"\\]*)"$/;

/** A scalar's value, or undefined when this reader does not read it (the `yaml` package then does). */
function scalar(text: string): unknown {
  if (text === '' || NULL.test(text)) return null;
  if (TRUE.test(text)) return true;
  if (FALSE.test(text)) return false;
  if (INT.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  if (FLOAT.test(text)) return Number(text);
  if (PLAIN_STRING.test(text) && !RADIX.test(text) && !NULL.test(text) && !TRUE.test(text) && !FALSE.test(text)) return text;
  const single = SINGLE_QUOTED.exec(text);
  if (single) return single[1]!.replace(/''/g, "'");
  const double = DOUBLE_QUOTED.exec(text);
  if (double) return double[1];
  return undefined;
}

/** Where a line's comment starts (a '#' after a space, outside quotes), or its length. */
function commentStart(line: string, from: number): number {
  let quote = '';
  for (let i = from; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== '') {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === from || line[i - 1] === ' ')) return i;
  }
  return line.length;
}

interface Level {
  indent: number;
  map: Record<string, unknown>;
  path: string;
}

/**
 * Reads scenario YAML in the subset above: the plain value (as `parseDocument(...).toJS() ?? {}`)
 * and the position `file:line:col` of every key by its dotted path; null outside the subset.
 */
export function readSimpleYaml(text: string, file: string): { value: Record<string, unknown>; positions: Map<string, string> } | null {
  const lines = text.split('\n');
  const root: Record<string, unknown> = {};
  const positions = new Map<string, string>();
  const stack: Level[] = [{ indent: -1, map: root, path: '' }];
  /** A key whose value is on the next, deeper lines (or null when none follow). */
  let open: { level: Level; key: string; path: string; indent: number } | null = null;
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    let indent = 0;
    while (indent < line.length && line.charCodeAt(indent) === 32) indent++;
    if (indent === line.length) continue;
    const first = line[indent]!;
    if (first === '#') continue;
    if (first === '\t' || line.includes('\t') || line.charCodeAt(0) === 0xfeff) return null;
    if (indent === 0 && (line.startsWith('---') || line.startsWith('...'))) return null;
    const colon = line.indexOf(':', indent);
    if (colon < 0) return null;
    const key = line.slice(indent, colon);
    if (!KEY.test(key) || scalar(key) !== key) return null;
    const after = line[colon + 1];
    if (after !== undefined && after !== ' ') return null;
    const end = commentStart(line, colon + 1);
    const rest = line.slice(colon + 1, end).trim();
    if (open !== null) {
      if (indent > open.indent) {
        const map: Record<string, unknown> = {};
        open.level.map[open.key] = map;
        stack.push({ indent, map, path: open.path });
      } else open.level.map[open.key] = null;
      open = null;
    }
    while (stack.length > 1 && indent < stack[stack.length - 1]!.indent) stack.pop();
    const level = stack[stack.length - 1]!;
    if (indent !== level.indent && !(stack.length === 1 && level.indent === -1 && indent === 0)) return null;
    if (stack.length === 1) level.indent = 0;
    if (Object.prototype.hasOwnProperty.call(level.map, key)) return null;
    const path = level.path === '' ? key : `${level.path}.${key}`;
    positions.set(path, `${file}:${n + 1}:${indent + 1}`);
    if (rest === '') {
      open = { level, key, path, indent };
      level.map[key] = null;
      continue;
    }
    const value = scalar(rest);
    if (value === undefined) return null;
    level.map[key] = value;
  }
  return { value: root, positions };
}
