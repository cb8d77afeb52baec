import type { NandGeometry } from '@flashdiff/nand';
import { SsdError } from './errors.ts';

/** How the garbage collector picks its victim. */
export type GcPolicy = 'greedy' | 'cost-benefit' | 'fifo' | 'random';
export const GC_POLICIES: readonly GcPolicy[] = ['greedy', 'cost-benefit', 'fifo', 'random'];

/**
 * What one GC (and one allocation) works on: a single erase block, or a "superblock" — the
 * block with the same number on every die, as in the seed's mini SSD.
 */
export type GcUnit = 'block' | 'superblock';
export const GC_UNITS: readonly GcUnit[] = ['block', 'superblock'];

/**
 * How GC finds the valid pages of a victim (the seed's three methods):
 * - `bitmap`: the valid-page bitmap (VPBM) in RAM; reads only the valid pages.
 * - `scan`: reads every programmed page of the victim and keeps a page when L2P[lba] === ppa.
 * - `p2l`: each block's last page holds its P2L summary (the LBA of every other page); GC reads
 *   that one page, checks each LBA against L2P, then reads only the valid pages. Costs one page
 *   per block of capacity and one program per block.
 */
export type ValidityMethod = 'bitmap' | 'scan' | 'p2l';
export const VALIDITY_METHODS: readonly ValidityMethod[] = ['bitmap', 'scan', 'p2l'];

/**
 * Which die (and plane) a host write goes to (block mode):
 * - `round-robin`: the next die in channel-first order, whatever the LBA (dynamic allocation: the
 *   writes of a burst spread over every die; with planes, the next plane of the FTL's plane
 *   order, planes.ts).
 * - a static plane allocation scheme by LBA, named as MQSim names them (Address_Mapping_Unit_Page_
 *   Level): the four letters C (channel), W (way: the die within the channel here), D (die within
 *   a way: always one here) and P (plane) in the order their index changes as the LPN counts up.
 *   `cwdp`: channel = lpn mod C, die = ⌊lpn / C⌋ mod W, plane = ⌊lpn / (C·W)⌋ mod P; `pcwd`:
 *   plane = lpn mod P, channel = ⌊lpn / P⌋ mod C, die = ⌊lpn / (P·C)⌋ mod W; and so on for the
 *   24 orders. A die (plane) with no room left falls back to round robin.
 */
export type StaticAllocation = `${'c' | 'w' | 'd' | 'p'}${'c' | 'w' | 'd' | 'p'}${'c' | 'w' | 'd' | 'p'}${'c' | 'w' | 'd' | 'p'}`;
export type HostAllocation = 'round-robin' | StaticAllocation;

function permutations(letters: string): string[] {
  if (letters.length <= 1) return [letters];
  return [...letters].flatMap((l, i) => permutations(letters.slice(0, i) + letters.slice(i + 1)).map((rest) => l + rest));
}

/** The static schemes: every order of c, w, d, p (MQSim's 24 names, lower case). */
export const STATIC_ALLOCATIONS: readonly StaticAllocation[] = permutations('cwdp') as StaticAllocation[];
export const HOST_ALLOCATIONS: readonly HostAllocation[] = ['round-robin', ...STATIC_ALLOCATIONS];

/** FTL options. Every field has a default (see {@link DEFAULT_FTL_OPTIONS}). */
export interface FtlOptions {
  /**
   * Over-provisioning ratio OP = (physical − user) / user (the seed's definition; MQSim's
   * Overprovisioning_Ratio is (physical − user) / physical). user pages =
   * ⌊physical data pages / (1 + OP)⌋, where physical counts every block, factory-bad included:
   * bad blocks eat into the spare area, never into the user capacity.
   */
  readonly overProvisioning: number;
  readonly gcPolicy: GcPolicy;
  readonly gcUnit: GcUnit;
  readonly validityMethod: ValidityMethod;
  /**
   * Foreground GC runs before a host write while the free units of the target pool (a die in
   * block mode, the whole device in superblock mode) are fewer than this. 0 = only when a stream
   * finds no free unit at all, which then collects in place (see README: not power-safe).
   */
  readonly gcThreshold: number;
  /** Background GC (idle time in trace replay) collects until this many units are free. */
  readonly backgroundGcTarget: number;
  /** New data goes to the free block with the lowest erase count (otherwise: oldest-freed first). */
  readonly dynamicWearLeveling: boolean;
  /** When max − min erase count exceeds {@link staticWearLevelingThreshold}, move cold data to old blocks. */
  readonly staticWearLeveling: boolean;
  readonly staticWearLevelingThreshold: number;
  /** Seed of the `random` victim policy. */
  readonly seed: number;
  /**
   * Run write() in the FTL's WebAssembly kernel where it applies: on a metadata-only device whose
   * tables live in a shared WebAssembly memory (createNandDevice's kernel device), with block units,
   * greedy GC, the bitmap method and no static wear leveling. The results are the TypeScript
   * code's, which runs when this is false or the kernel does not apply (see Ftl.wasmKernelActive).
   */
  readonly wasmKernel: boolean;
  /** Which die a host write goes to (see {@link HostAllocation}; a static scheme needs block units). */
  readonly hostAllocation: HostAllocation;
  /**
   * The demand-paged cached mapping table (DFTL, ftl/cached-mapping.ts): this many L2P entries in
   * RAM, the rest in translation pages on flash, read on a miss and written back when a dirty
   * entry is evicted (counted in WAF and latency). 0 (default) with mappingCacheBytes 0: the whole
   * table in RAM, no translation pages. The WebAssembly kernel does not run with it.
   */
  readonly mappingCacheEntries: number;
  /** The cached mapping table's size in bytes instead (MQSim's CMT_Capacity; entry size as MQSim computes it). */
  readonly mappingCacheBytes: number;
  /**
   * GC moves pages by copyback (MQSim's Use_Copyback_for_GC): read into the die's page register
   * and programmed from it, no channel transfer, the planes of a die together as multi-plane
   * copybacks (src/ftl/gc-planes.ts). Needs planes with multi-plane commands (the device models
   * copyback only there); default false.
   */
  readonly gcCopyback: boolean;
}

export const DEFAULT_FTL_OPTIONS: FtlOptions = {
  overProvisioning: 0.2,
  gcPolicy: 'greedy',
  gcUnit: 'block',
  validityMethod: 'bitmap',
  gcThreshold: 2,
  backgroundGcTarget: 4,
  dynamicWearLeveling: true,
  staticWearLeveling: false,
  staticWearLevelingThreshold: 64,
  seed: 1,
  wasmKernel: true,
  hostAllocation: 'round-robin',
  mappingCacheEntries: 0,
  mappingCacheBytes: 0,
  gcCopyback: false,
};

/** Fills defaults and validates. Throws SsdError INVALID_CONFIG naming the bad field. */
export function resolveFtlOptions(options: Partial<FtlOptions> = {}): FtlOptions {
  const o: FtlOptions = { ...DEFAULT_FTL_OPTIONS, ...stripUndefined(options) };
  const bad = (field: string, why: string): never => {
    throw new SsdError('INVALID_CONFIG', `${field}: ${why}`);
  };
  if (!Number.isFinite(o.overProvisioning) || o.overProvisioning <= 0 || o.overProvisioning > 100) {
    bad('overProvisioning', `must be a ratio in (0, 100], got ${o.overProvisioning}`);
  }
  if (!GC_POLICIES.includes(o.gcPolicy)) bad('gcPolicy', `unknown policy '${o.gcPolicy}' (${GC_POLICIES.join('|')})`);
  if (!GC_UNITS.includes(o.gcUnit)) bad('gcUnit', `unknown unit '${o.gcUnit}' (${GC_UNITS.join('|')})`);
  if (!VALIDITY_METHODS.includes(o.validityMethod)) {
    bad('validityMethod', `unknown method '${o.validityMethod}' (${VALIDITY_METHODS.join('|')})`);
  }
  for (const field of ['gcThreshold', 'backgroundGcTarget', 'staticWearLevelingThreshold', 'mappingCacheEntries', 'mappingCacheBytes'] as const) {
    if (!Number.isInteger(o[field]) || o[field] < 0) bad(field, `must be a non-negative integer, got ${o[field]}`);
  }
  if (!HOST_ALLOCATIONS.includes(o.hostAllocation)) bad('hostAllocation', `unknown scheme '${String(o.hostAllocation)}' (${HOST_ALLOCATIONS.join('|')})`);
  if (o.hostAllocation !== 'round-robin' && o.gcUnit !== 'block') bad('hostAllocation', `'${o.hostAllocation}' places writes per die and needs gcUnit 'block'`);
  if (o.mappingCacheEntries > 0 && o.mappingCacheBytes > 0) bad('mappingCacheEntries', 'give the mapping cache size in entries or in bytes, not both');
  if (!Number.isInteger(o.seed)) bad('seed', `must be an integer, got ${o.seed}`);
  for (const field of ['dynamicWearLeveling', 'staticWearLeveling', 'wasmKernel', 'gcCopyback'] as const) {
    if (typeof o[field] !== 'boolean') bad(field, `must be true or false, got ${String(o[field])}`);
  }
  return o;
}

/** Pages per block that hold data (the last page holds the P2L summary in `p2l` mode). */
export function dataPagesPerBlock(geometry: NandGeometry, method: ValidityMethod): number {
  return method === 'p2l' ? geometry.pagesPerBlock - 1 : geometry.pagesPerBlock;
}

/**
 * User capacity in pages for a geometry and OP: ⌊physical / (1 + OP)⌋ (rounded down; a tiny
 * epsilon keeps exact quotients such as 216 / 1.2 = 180 from falling to 179).
 */
export function userPagesFor(geometry: NandGeometry, overProvisioning: number, method: ValidityMethod = 'bitmap'): number {
  const blocks = geometry.channels * geometry.diesPerChannel * geometry.blocksPerDie;
  const physical = blocks * dataPagesPerBlock(geometry, method);
  return Math.floor(physical / (1 + overProvisioning) + 1e-9);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
