/** Shared test helpers: store harnesses (one per store kind), seeded patterns, error matchers. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import { ImageFileStore, RamStore, isNandError } from '../src/index.ts';
import type { NandErrorCode, NandGeometry, NandStore } from '../src/index.ts';

/** How the conformance suite gets a store of one kind, and "powers it off and on" again. */
export interface StoreHarness {
  readonly name: string;
  /** A fresh, empty store; null: createNandDevice makes its own (metadata-only, with its kernel). */
  readonly create: ((geometry: NandGeometry) => NandStore) | null;
  /** The same persisted chip, opened again after its device was closed (RAM: the very same store). */
  reopen(store: NandStore): NandStore;
  /** Removes whatever the harness made on disk. */
  cleanup(): void;
  /** The store keeps spare bytes only (data reads back 0xFF): the metadata-only fast device. */
  readonly metadataOnly?: boolean;
}

export function ramHarness(): StoreHarness {
  return {
    name: 'RamStore',
    create: (geometry) => new RamStore(geometry),
    reopen: (store) => store,
    cleanup: () => {},
  };
}

/**
 * The metadata-only RAM store: createNandDevice picks the fast metadata device over it
 * (programSpareWords / copyback / copybackRun on top of the general device's rules).
 */
export function metadataHarness(): StoreHarness {
  return {
    name: 'metadata-only RamStore (fast metadata device)',
    create: (geometry) => new RamStore(geometry, { metadataOnly: true }),
    reopen: (store) => store,
    cleanup: () => {},
    metadataOnly: true,
  };
}

/**
 * The metadata-only device as createNandDevice makes it with no store given: its tables in a
 * shared TableMemory and its fast methods in the WebAssembly kernel (kernel/metadata-device.ts).
 */
export function kernelHarness(): StoreHarness {
  return {
    name: 'metadata-only device with its WebAssembly kernel',
    create: null,
    reopen: (store) => store,
    cleanup: () => {},
    metadataOnly: true,
  };
}

export function imageHarness(): StoreHarness {
  let directory: string | null = null;
  let counter = 0;
  return {
    name: 'ImageFileStore',
    create(geometry) {
      directory ??= fs.mkdtempSync(path.join(os.tmpdir(), 'nand-test-'));
      return ImageFileStore.create(path.join(directory, `chip-${counter++}.img`), geometry);
    },
    reopen(store) {
      return ImageFileStore.open((store as ImageFileStore).path, store.geometry);
    },
    cleanup() {
      if (directory !== null) fs.rmSync(directory, { recursive: true, force: true });
      directory = null;
    },
  };
}

export function tempDirectory(): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nand-test-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** mulberry32: a tiny seeded PRNG for test patterns. */
export function seededBytes(seed: number, length: number): Uint8Array {
  let a = seed >>> 0;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = (t ^ (t >>> 14)) & 0xff;
  }
  return out;
}

export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Asserts `fn` throws a NandError with `code`. */
export function throwsNand(fn: () => unknown, code: NandErrorCode): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isNandError(error), `expected a NandError, got ${String(error)}`);
    assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
    return true;
  });
}

export function allBytes(buffer: Uint8Array, value: number): boolean {
  return buffer.every((b) => b === value);
}

/** A small geometry with 2 channels × 1 die, 8 blocks per die, 8 pages of 512 + 16 bytes. */
export const SMALL: NandGeometry = Object.freeze({
  pageSize: 512, spareSize: 16, pagesPerBlock: 8, blocksPerDie: 8, diesPerChannel: 1, channels: 2,
});

/** A small large-page geometry (2048 + 64) for ECC and marker tests. */
export const LARGE_PAGE: NandGeometry = Object.freeze({
  pageSize: 2048, spareSize: 64, pagesPerBlock: 8, blocksPerDie: 8, diesPerChannel: 1, channels: 1,
});
