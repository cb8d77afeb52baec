/**
 * What the scenarios of fixtures/upstream/README.md leave behind (the driver that ran the real
 * YAFFS code over them is described there): shared by the YAFFS2 and YAFFS1 image tests.
 */
import assert from 'node:assert/strict';
import type { Yaffs2 } from '../src/index.ts';

/** The driver's contents: byte i of a write with `seed` (its fill()). */
export function fill(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + seed * 13 + (i >> 8)) & 0xff;
  return out;
}

/** What the "edits" scenario leaves, path → content. */
export function editsExpected(): Map<string, Uint8Array> {
  const grow = new Uint8Array(3200);
  grow.set(fill(5000, 4).subarray(0, 100));
  grow.set(fill(200, 5), 3000);
  return new Map([
    ['/d/trunc', fill(10000, 1).subarray(0, 3000)],
    ['/d/otrunc', fill(5000, 3)],
    ['/d/grow', grow],
    ['/h/target', fill(3000, 8)],
    ['/h/link', fill(4000, 7)],
    ['/h/plain', fill(1500, 10)],
    ['/big', fill(40000, 12)],
  ]);
}

/** What the "churn" scenario leaves: sixty O_TRUNC rewrites of /f0…/f5, every fifth truncated, /f0 unlinked. */
export function churnExpected(): Map<string, Uint8Array> {
  const expected = new Map<string, Uint8Array>();
  for (let i = 0; i < 60; i++) {
    const p = `/f${i % 6}`;
    expected.set(p, fill(20000 + ((i * 977) % 30000), i));
    if (i % 5 === 4) expected.set(p, expected.get(p)!.slice(0, (i * 331) % 9000));
  }
  expected.delete('/f0');
  return expected;
}

/**
 * A mounted image holds what the churn scenario leaves: exactly those names at the root, each with
 * its contents, and a clean fsck.
 */
export function assertChurnResult(fs: Yaffs2): void {
  const expected = churnExpected();
  assert.deepEqual(fs.readdir('/').map((e) => `/${e.name}`), [...expected.keys()].sort());
  for (const [p, want] of expected) assert.deepEqual(fs.readFile(p), want, p);
  assert.deepEqual(fs.check(), []);
}
