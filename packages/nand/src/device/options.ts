/**
 * The device's options and their validation: what {@link createNandDevice} accepts
 * ({@link NandDeviceOptions}, {@link FaultOptions}) and the checks the device's constructor runs
 * on them, each throwing INVALID_GEOMETRY with the option's name, in the order the constructor
 * calls them. The options describe a part as a datasheet does (geometry, ECC, bad-block marker,
 * ONFI timing); the closest upstream counterparts are MQSim's Device_Parameter_Set (ssdconfig.xml)
 * and the Linux MTD nand core's nand_chip/nand_ecc_ctrl setup checks (drivers/mtd/nand/raw/nand_base.c).
 */
import { eccSectors } from '../ecc/hamming.ts';
import { sameGeometry } from '../geometry.ts';
import type { NandStore } from '../store.ts';
import { DEFAULT_TIMING } from '../timing.ts';
import { NandError } from '../types.ts';
import type { EccCode, NandGeometry, NandTimingParams } from '../types.ts';
import { defaultBadBlockMarker } from './bad-blocks.ts';

export interface FaultOptions {
  /** Every random fault comes from this seed (default 1). */
  seed?: number;
  /** Blocks marked bad (marker in the spare, as real parts carry it) when the store is fresh. */
  factoryBadBlocks?: readonly number[];
  /** Fraction of blocks made factory-bad when the store is fresh (block 0 never is). */
  factoryBadBlockRate?: number;
  /** Probability that a program fails (PROGRAM_FAILED). */
  programFailureRate?: number;
  /** Probability that an erase fails (ERASE_FAILED). */
  eraseFailureRate?: number;
  /** P/E cycle limit: once a block's erase count reaches it, its programs and erases fail. */
  endurance?: number;
  /** Raw bit error rate per bit per read = base + perCycle · eraseCount; flips appear in the read copy only. */
  bitErrorRate?: { base: number; perCycle: number };
  /** Cut power during the N-th program or erase from now (1 = the next one). */
  powerCutAfter?: number;
}

export interface NandDeviceOptions {
  geometry: NandGeometry;
  /** Default: new RamStore(geometry, { metadataOnly }). */
  store?: NandStore;
  /** Pages keep spare bytes only (the SSD simulator replays millions of writes). */
  metadataOnly?: boolean;
  /** On-device ECC; default null (raw reads, status 'unchecked'). */
  ecc?: { code: EccCode; spareOffset: number } | null;
  /** Bad-block marker byte in the spare of a block's first two pages; default offset 0 for pageSize ≥ 2048, 5 for smaller pages; null = table only. */
  badBlockMarker?: { spareOffset: number } | null;
  /** Operation latencies in ns; defaults {@link DEFAULT_TIMING}. */
  timing?: Partial<NandTimingParams>;
  faults?: FaultOptions;
  /**
   * Use the general device even where the metadata-only fast device would be picked (a
   * metadata-only RamStore whose spare holds at least 16 bytes). For cross-checks and benchmarks.
   */
  forceGeneric?: boolean;
  /**
   * The metadata-only fast device runs its programs, reads and erases in its WebAssembly kernel
   * where one loads (default true). false keeps them in TypeScript, where a {@link NandClock.sink}
   * sees every operation (the same results otherwise).
   */
  wasmKernel?: boolean;
}

/** Throws unless the given store was made for `geometry` and agrees on metadataOnly. */
export function checkStoreAgrees(options: NandDeviceOptions, geometry: NandGeometry): void {
  if (options.store !== undefined) {
    if (!sameGeometry(options.store.geometry, geometry)) {
      throw new NandError('INVALID_GEOMETRY', 'the store was made for a different geometry than options.geometry');
    }
    if (options.metadataOnly !== undefined && options.metadataOnly !== options.store.metadataOnly) {
      throw new NandError('INVALID_GEOMETRY', `options.metadataOnly (${options.metadataOnly}) disagrees with the store (${options.store.metadataOnly})`);
    }
  }
}

/** The bad-block marker's spare offset (−1: no marker, the table only). */
export function resolveBadBlockMarker(options: NandDeviceOptions, geometry: NandGeometry): number {
  const marker = options.badBlockMarker === undefined ? defaultBadBlockMarker(geometry) : options.badBlockMarker;
  if (marker !== null && !(Number.isInteger(marker.spareOffset) && marker.spareOffset >= 0 && marker.spareOffset < geometry.spareSize)) {
    throw new NandError('INVALID_GEOMETRY', `badBlockMarker.spareOffset ${marker.spareOffset} is outside the ${geometry.spareSize}-byte spare`);
  }
  return marker === null ? -1 : marker.spareOffset;
}

/** The on-device ECC as the device runs it: the code (null: none), its spare offset and sectors per page. */
export interface ResolvedEcc {
  readonly code: EccCode | null;
  readonly offset: number;
  readonly sectors: number;
}

/** Checks the ECC fits the page and spare and misses the bad-block marker at `markerOffset`. */
export function resolveEcc(options: NandDeviceOptions, geometry: NandGeometry, markerOffset: number): ResolvedEcc {
  const ecc = options.ecc ?? null;
  const sectors = ecc === null ? 0 : eccSectors(ecc.code, geometry.pageSize);
  if (ecc !== null) {
    const bytes = sectors * ecc.code.parityBytes;
    if (geometry.pageSize % ecc.code.sectorSize !== 0) {
      throw new NandError('INVALID_GEOMETRY', `pageSize ${geometry.pageSize} is not a multiple of the ${ecc.code.name} sector size ${ecc.code.sectorSize}`);
    }
    if (!Number.isInteger(ecc.spareOffset) || ecc.spareOffset < 0 || ecc.spareOffset + bytes > geometry.spareSize) {
      throw new NandError('INVALID_GEOMETRY', `ECC parity (${bytes} bytes at spare offset ${ecc.spareOffset}) does not fit the ${geometry.spareSize}-byte spare`);
    }
    if (markerOffset >= ecc.spareOffset && markerOffset < ecc.spareOffset + bytes) {
      throw new NandError('INVALID_GEOMETRY', `ECC parity bytes ${ecc.spareOffset}…${ecc.spareOffset + bytes - 1} overlap the bad-block marker at spare offset ${markerOffset}`);
    }
  }
  return { code: ecc === null ? null : ecc.code, offset: ecc === null ? 0 : ecc.spareOffset, sectors };
}

/** {@link DEFAULT_TIMING} overridden by `options.timing`, every value a finite number ≥ 0. */
export function resolveTiming(options: NandDeviceOptions): Readonly<NandTimingParams> {
  const params: NandTimingParams = { ...DEFAULT_TIMING, ...options.timing };
  for (const [name, value] of Object.entries(params)) {
    if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
      throw new NandError('INVALID_GEOMETRY', `timing.${name} must be a finite number ≥ 0 (got ${String(value)})`);
    }
  }
  return Object.freeze(params);
}

/** The random-fault settings as the device uses them (absent ones: off). */
export interface ResolvedFaults {
  readonly seed: number;
  readonly programFailureRate: number;
  readonly eraseFailureRate: number;
  readonly endurance: number;
  readonly berBase: number;
  readonly berPerCycle: number;
}

/** Checks the rates are probabilities, endurance and the bit error rate ≥ 0. */
export function resolveFaults(faults: FaultOptions): ResolvedFaults {
  const seed = faults.seed ?? 1;
  const programFailureRate = checkRate('programFailureRate', faults.programFailureRate);
  const eraseFailureRate = checkRate('eraseFailureRate', faults.eraseFailureRate);
  checkRate('factoryBadBlockRate', faults.factoryBadBlockRate);
  const endurance = faults.endurance ?? Infinity;
  if (!(endurance >= 0)) throw new NandError('INVALID_GEOMETRY', `faults.endurance must be ≥ 0 (got ${String(faults.endurance)})`);
  const berBase = faults.bitErrorRate?.base ?? 0;
  const berPerCycle = faults.bitErrorRate?.perCycle ?? 0;
  if (!(berBase >= 0 && berPerCycle >= 0)) {
    throw new NandError('INVALID_GEOMETRY', 'faults.bitErrorRate.base and .perCycle must be ≥ 0');
  }
  return { seed, programFailureRate, eraseFailureRate, endurance, berBase, berPerCycle };
}

function checkRate(name: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new NandError('INVALID_GEOMETRY', `faults.${name} must be a probability in [0, 1] (got ${String(value)})`);
  }
  return value;
}
