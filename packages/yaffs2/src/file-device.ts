/**
 * What the two file-backed fast paths over a NAND device share (read-windows.ts for read-only
 * images, write-behind.ts for images written whole): the read result they report, the size of
 * their file windows, and the device with some of its members replaced. No upstream counterpart.
 */
import type { ReadResult, SimulatedNand } from '@flashdiff/nand';

/** What readPage reports on these paths: no ECC at this level (callers use the bytes only). */
export const UNCHECKED_READ: ReadResult = Object.freeze({ ecc: 'unchecked', correctedBits: 0, uncorrectableSectors: 0, erased: false });
export const UNCHECKED_READ_ERASED: ReadResult = Object.freeze({ ecc: 'unchecked', correctedBits: 0, uncorrectableSectors: 0, erased: true });

/** Records per file window: at least 1 MiB, at least 64 records. */
export function windowRecords(record: number): number {
  return Math.max(64, Math.ceil((1 << 20) / record));
}

/**
 * The device with the members in `overrides` replaced; every other member is the device's own,
 * its methods bound once (not on every access).
 */
export function overrideMembers(device: SimulatedNand, overrides: Partial<Record<keyof SimulatedNand, unknown>>): SimulatedNand {
  const bound = new Map<string | symbol, unknown>(Object.entries(overrides));
  return new Proxy(device, {
    get(target, key): unknown {
      let value = bound.get(key);
      if (value !== undefined) return value;
      value = Reflect.get(target, key) as unknown;
      if (typeof value !== 'function') return value;
      value = (value as (...args: unknown[]) => unknown).bind(target);
      bound.set(key, value);
      return value;
    },
  });
}
