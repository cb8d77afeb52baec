import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createNandDevice, geometryPreset } from '@flashdiff/nand';
import type { FaultOptions, SimulatedNand } from '@flashdiff/nand';
import { Yaffs2 } from '../src/index.ts';
import type { SpareLayoutName, Yaffs2Options } from '../src/index.ts';

/** A small 2k-page device (64 pages per block) without on-device ECC: YAFFS does its own. */
export function smallDevice(blocks: number, layout: SpareLayoutName = 'mkyaffs2', faults?: FaultOptions): SimulatedNand {
  // YAFFS1: 512 + 16-byte pages, 32 to a block, block status at spare byte 5.
  const page = layout === 'yaffs1' ? { pageSize: 512, spareSize: 16, pagesPerBlock: 32 } : {};
  const geometry = { ...geometryPreset('yaffs2-2k'), ...page, blocksPerDie: blocks, diesPerChannel: 1, channels: 1 };
  return createNandDevice({
    geometry,
    ecc: null,
    badBlockMarker: layout === 'mtd' ? { spareOffset: 0 } : layout === 'yaffs1' ? { spareOffset: 5 } : null,
    faults,
  });
}

export function formatted(blocks: number, options: Yaffs2Options = {}, faults?: FaultOptions): { device: SimulatedNand; fs: Yaffs2 } {
  const device = smallDevice(blocks, options.layout ?? 'mkyaffs2', faults);
  const fs = Yaffs2.format(device, { now: () => 1_700_000_000, ...options });
  return { device, fs };
}

/** mulberry32: a tiny seeded PRNG for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function bytes(n: number, seed: number): Uint8Array {
  const r = prng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

export const repoRoot = new URL('../../../', import.meta.url);

/**
 * Host trees equal: the same names, modes, file bytes and symlink targets; with `mtime` (seconds),
 * every entry but a symlink has that modification time; with `links`, files have the same link
 * counts.
 */
export function compareHostTrees(want: string, got: string, check: { mtime?: number; links?: boolean } = {}): void {
  const list = (root: string): string[] => {
    const out: string[] = [];
    const walk = (d: string): void => {
      for (const name of fs.readdirSync(d).sort()) {
        const p = path.join(d, name);
        out.push(path.relative(root, p));
        if (fs.lstatSync(p).isDirectory()) walk(p);
      }
    };
    walk(root);
    return out;
  };
  const names = list(want);
  assert.deepEqual(list(got), names);
  for (const rel of names) {
    const a = fs.lstatSync(path.join(want, rel));
    const b = fs.lstatSync(path.join(got, rel));
    assert.equal(b.mode, a.mode, `${rel} mode`);
    if (a.isFile()) {
      assert.deepEqual(fs.readFileSync(path.join(got, rel)), fs.readFileSync(path.join(want, rel)), rel);
      if (check.links) assert.equal(b.nlink, a.nlink, `${rel} links`);
    }
    if (a.isSymbolicLink()) assert.equal(fs.readlinkSync(path.join(got, rel)), fs.readlinkSync(path.join(want, rel)), rel);
    else if (check.mtime !== undefined) assert.equal(b.mtimeMs, check.mtime * 1000, `${rel} mtime`);
  }
}
