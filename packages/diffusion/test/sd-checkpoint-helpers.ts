/** Shared by the checkpoint tests: a temp area removed after the file's tests, error matchers, seeded data. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { DiffusionError } from '../src/errors.ts';
import { Random } from '../src/rng.ts';

/** A fresh temp folder removed after this test file; `tmp(name)` gives a unique path inside it. */
export function tempArea(prefix: string): { root: string; tmp: (name: string) => string } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(root, { recursive: true, force: true }));
  let counter = 0;
  return { root, tmp: (name) => join(root, `${counter++}-${name}`) };
}

/** assert.throws predicate: a DiffusionError with this code whose message matches every pattern. */
export const isCode =
  (code: string, ...patterns: RegExp[]) =>
  (e: unknown): boolean => {
    if (!(e instanceof DiffusionError) || e.code !== code) return false;
    for (const p of patterns) assert.match(e.message, p);
    return true;
  };

export function randomArray(count: number, seed: number, scale = 1): Float32Array {
  const random = new Random(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = random.normal() * scale;
  return out;
}
