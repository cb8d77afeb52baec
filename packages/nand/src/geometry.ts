/**
 * Geometry presets and address arithmetic. Addressing follows the rules written at the top of
 * types.ts: blocks die-major, dies channel-major, pages numbered globally.
 */
import { NandError } from './types.ts';
import type { NandGeometry } from './types.ts';

/** Names accepted by {@link geometryPreset}. */
export type PresetName = 'yaffs2-2k' | 'small-page' | 'seed-mini' | 'ssd-small' | 'ssd-4k';

export const PRESETS: Readonly<Record<PresetName, NandGeometry>> = Object.freeze({
  // A 128 MiB large-page SLC part as mkyaffs2image targets: 2048 + 64 bytes, 64 pages per block.
  'yaffs2-2k': Object.freeze({
    pageSize: 2048, spareSize: 64, pagesPerBlock: 64, blocksPerDie: 1024, diesPerChannel: 1, channels: 1,
  }),
  // A 16 MiB small-page part (SmartMedia era): 512 + 16 bytes, 32 pages per block.
  'small-page': Object.freeze({
    pageSize: 512, spareSize: 16, pagesPerBlock: 32, blocksPerDie: 1024, diesPerChannel: 1, channels: 1,
  }),
  // The SSD seed article's mini SSD: 4 channels × 1 die × 6 blocks × 9 pages (216 pages).
  'seed-mini': Object.freeze({
    pageSize: 4096, spareSize: 64, pagesPerBlock: 9, blocksPerDie: 6, diesPerChannel: 1, channels: 4,
  }),
  // 4 channels × 2 dies × 256 blocks × 64 pages of 4 KiB = 512 MiB.
  'ssd-small': Object.freeze({
    pageSize: 4096, spareSize: 128, pagesPerBlock: 64, blocksPerDie: 256, diesPerChannel: 2, channels: 4,
  }),
  // 8 channels × 1 die × 512 blocks = 4096 blocks × 64 pages of 4 KiB = 1 GiB.
  'ssd-4k': Object.freeze({
    pageSize: 4096, spareSize: 128, pagesPerBlock: 64, blocksPerDie: 512, diesPerChannel: 1, channels: 8,
  }),
});

export const PRESET_NAMES: readonly PresetName[] = Object.freeze(Object.keys(PRESETS) as PresetName[]);

export function isPresetName(name: string): name is PresetName {
  return Object.prototype.hasOwnProperty.call(PRESETS, name);
}

/** The preset geometry of that name; throws UNKNOWN_PRESET listing the valid names. */
export function geometryPreset(name: string): NandGeometry {
  if (!isPresetName(name)) {
    throw new NandError(
      'UNKNOWN_PRESET',
      `unknown NAND geometry preset "${name}" (valid: ${PRESET_NAMES.join(', ')})`,
    );
  }
  return PRESETS[name];
}

/**
 * Largest number of pages a device may have: per-page state lives in typed arrays indexed by
 * page number, and page · recordSize must stay an exact double for image-file offsets.
 */
export const MAX_TOTAL_PAGES = 2 ** 31 - 1;

const GEOMETRY_FIELDS = ['pageSize', 'spareSize', 'pagesPerBlock', 'blocksPerDie', 'diesPerChannel', 'channels'] as const;

/** Checks every count is a positive integer and the array is addressable; returns `g`. Throws INVALID_GEOMETRY. */
export function validateGeometry(g: NandGeometry): NandGeometry {
  if (g === null || typeof g !== 'object') {
    throw new NandError('INVALID_GEOMETRY', 'geometry must be an object');
  }
  for (const field of GEOMETRY_FIELDS) {
    const value = (g as unknown as Record<string, unknown>)[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw new NandError('INVALID_GEOMETRY', `geometry.${field} must be a positive integer (got ${String(value)})`);
    }
  }
  if (totalPages(g) > MAX_TOTAL_PAGES) {
    throw new NandError('INVALID_GEOMETRY', `geometry has ${totalPages(g)} pages; at most ${MAX_TOTAL_PAGES} are supported`);
  }
  const planes = (g as unknown as Record<string, unknown>).planesPerDie;
  if (planes !== undefined) {
    if (typeof planes !== 'number' || !Number.isSafeInteger(planes) || planes <= 0) {
      throw new NandError('INVALID_GEOMETRY', `geometry.planesPerDie must be a positive integer (got ${String(planes)})`);
    }
    if (g.blocksPerDie % planes !== 0) {
      throw new NandError('INVALID_GEOMETRY', `geometry.planesPerDie ${planes} must divide geometry.blocksPerDie ${g.blocksPerDie} (every plane holds the same number of blocks)`);
    }
  }
  if (g.pagesPerBlock > 65535) {
    throw new NandError('INVALID_GEOMETRY', `geometry.pagesPerBlock ${g.pagesPerBlock} exceeds 65535`);
  }
  return g;
}

export function totalDies(g: NandGeometry): number {
  return g.channels * g.diesPerChannel;
}

export function totalBlocks(g: NandGeometry): number {
  return totalDies(g) * g.blocksPerDie;
}

export function totalPages(g: NandGeometry): number {
  return totalBlocks(g) * g.pagesPerBlock;
}

/** Total data bytes (spare excluded). */
export function capacityBytes(g: NandGeometry): number {
  return totalPages(g) * g.pageSize;
}

/** Bytes of one page record in a raw dump: data then spare. */
export function recordSize(g: NandGeometry): number {
  return g.pageSize + g.spareSize;
}

/** Die holding a block (blocks are numbered die-major). */
export function dieOfBlock(g: NandGeometry, block: number): number {
  return Math.floor(block / g.blocksPerDie);
}

/** Planes per die (1 when the geometry does not say). */
export function planesPerDie(g: NandGeometry): number {
  return g.planesPerDie ?? 1;
}

/** Plane of a block within its die: the low bits of the block address, b mod planesPerDie. */
export function planeOfBlock(g: NandGeometry, block: number): number {
  return (block % g.blocksPerDie) % planesPerDie(g);
}

/** Channel a die sits on (dies are numbered channel-major). */
export function channelOfDie(g: NandGeometry, die: number): number {
  return Math.floor(die / g.diesPerChannel);
}

/** Block holding a global page number. */
export function blockOfPage(g: NandGeometry, page: number): number {
  return Math.floor(page / g.pagesPerBlock);
}

/** First global page number of a block. */
export function firstPageOfBlock(g: NandGeometry, block: number): number {
  return block * g.pagesPerBlock;
}

export function sameGeometry(a: NandGeometry, b: NandGeometry): boolean {
  return GEOMETRY_FIELDS.every((f) => a[f] === b[f]) && planesPerDie(a) === planesPerDie(b);
}

export function describeGeometry(g: NandGeometry): string {
  // One plane per die (the default) is left unsaid: descriptions stay as they were before planes.
  const planes = planesPerDie(g) > 1 ? ` (${planesPerDie(g)} planes)` : '';
  return `${g.channels} ch × ${g.diesPerChannel} die × ${g.blocksPerDie} blocks${planes} × ${g.pagesPerBlock} pages × (${g.pageSize}+${g.spareSize}) bytes`;
}
