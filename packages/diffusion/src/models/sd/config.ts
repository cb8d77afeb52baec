/**
 * Reading diffusers' and transformers' `config.json` files into the models' typed configs.
 *
 * A diffusers config lists every constructor argument, most at a default this package implements
 * and some at values it does not (an SDXL `addition_embed_type`, a `resnet_time_scale_shift` of
 * "scale_shift"). Each reader declares, per key, its default and the values it supports; a key it
 * does not know, or a value it does not support, is an INVALID_CONFIG error naming the key and the
 * value, never silently ignored. Keys starting with "_" (`_class_name`, `_diffusers_version`,
 * `_use_default_values`, `_name_or_path`) are metadata.
 */
import { DiffusionError } from '../../errors.ts';

export interface KeySpec {
  default: unknown;
  /** Values other than the default that are implemented; omitted = any value of the default's type. */
  check?: (value: unknown) => boolean;
  /** What is supported, for the error message. */
  expect?: string;
}

export type ConfigSpec = Record<string, KeySpec>;

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Only the default is implemented. */
export const onlyDefault = (value: unknown): KeySpec => ({ default: value, check: (v) => sameJson(v, value), expect: JSON.stringify(value) });

export const positiveInt = (value: number): KeySpec => ({
  default: value,
  check: (v) => Number.isSafeInteger(v) && (v as number) > 0,
  expect: 'a positive integer',
});
export const positiveNumber = (value: number): KeySpec => ({ default: value, check: (v) => typeof v === 'number' && v > 0 && Number.isFinite(v), expect: 'a positive number' });
export const oneOf = (value: unknown, allowed: readonly unknown[]): KeySpec => ({
  default: value,
  check: (v) => allowed.some((a) => sameJson(a, v)),
  expect: `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`,
});
export const boolean = (value: boolean): KeySpec => ({ default: value, check: (v) => typeof v === 'boolean', expect: 'true or false' });
export const intOrIntList = (value: unknown): KeySpec => ({
  default: value,
  check: (v) => (Number.isSafeInteger(v) && (v as number) > 0) || (Array.isArray(v) && v.length > 0 && v.every((x) => Number.isSafeInteger(x) && x > 0)),
  expect: 'a positive integer or a list of them',
});
export const intList = (value: number[]): KeySpec => ({
  default: value,
  check: (v) => Array.isArray(v) && v.length > 0 && v.every((x) => Number.isSafeInteger(x) && x > 0),
  expect: 'a non-empty list of positive integers',
});
export const stringList = (value: string[]): KeySpec => ({
  default: value,
  check: (v) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'),
  expect: 'a non-empty list of block type names',
});

/**
 * The config with every key present: defaults filled in, then each value checked. `lenient` lists
 * keys that are accepted and ignored (transformers' generic PretrainedConfig fields).
 */
export function readConfig(what: string, json: unknown, spec: ConfigSpec, lenient: readonly string[] = []): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new DiffusionError('INVALID_CONFIG', `${what}: the config must be a JSON object`);
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(spec)) out[key] = s.default;
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    if (key.startsWith('_')) continue;
    if (!(key in spec)) {
      if (lenient.includes(key)) continue;
      throw new DiffusionError('INVALID_CONFIG', `${what}: unknown option "${key}"`);
    }
    const s = spec[key];
    const ok = s.check ? s.check(value) : typeof value === typeof s.default || (value === null && s.default === null);
    if (!ok) throw new DiffusionError('INVALID_CONFIG', `${what}: "${key}" = ${JSON.stringify(value)} is not supported (expected ${s.expect ?? typeof s.default})`);
    out[key] = value;
  }
  return out;
}

/** A per-block value: an int applies to every block, a list gives one per block. */
export function perBlock(what: string, key: string, value: unknown, blocks: number): number[] {
  if (Array.isArray(value)) {
    if (value.length !== blocks) throw new DiffusionError('INVALID_CONFIG', `${what}: "${key}" has ${value.length} entries for ${blocks} blocks`);
    return value as number[];
  }
  return new Array<number>(blocks).fill(value as number);
}
