/**
 * The `yaffs2` command line's option values: the parsers commander calls for each flag (one
 * InvalidArgumentError naming what was expected), and the image-format flags turned into what
 * detection may not override (commands on an existing image) or what a new image is made with
 * (mkfs, import). cli.ts owns the commands. No upstream counterpart (mkyaffs2image takes no format
 * flags; yaffs2utils' mkyaffs2 and unyaffs2 take page and spare sizes).
 */
import { InvalidArgumentError } from 'commander';
import { geometryPreset } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import { DATA_ECC_ORDERS } from './tags.ts';
import type { DataEccOrder, SpareLayoutName } from './tags.ts';
import type { ImageFormat } from './detect.ts';

export function parseLayout(value: string): SpareLayoutName {
  if (value !== 'mkyaffs2' && value !== 'mtd' && value !== 'yaffs1' && value !== 'yaffs1-mtd') throw new InvalidArgumentError(`expected mkyaffs2, mtd, yaffs1 or yaffs1-mtd, got "${value}"`);
  return value;
}
export function parseBlocks(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 2) throw new InvalidArgumentError(`expected an integer ≥ 2, got "${value}"`);
  return n;
}

export function parseSize(value: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(value);
  const n = m ? Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'] : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a size in bytes (optionally K, M or G), got "${value}"`);
  return n;
}

/** Format flags of commands on an existing image: each one given forces that property, the rest are detected. */
export interface FormatOptions {
  layout?: SpareLayoutName;
  pageSize?: number;
  spareSize?: number;
  pagesPerBlock?: number;
  endian?: boolean;
  tagEcc?: boolean;
  inbandTags?: boolean;
  dataEcc?: DataEccOrder;
}

/** Format flags of commands that create an image (defaults: mkyaffs2image's format). */
export interface CreateFormatOptions {
  layout?: SpareLayoutName;
  pageSize?: number;
  spareSize?: number;
  pagesPerBlock?: number;
  endian: boolean;
  tagEcc?: boolean;
  inbandTags?: boolean;
  dataEcc?: DataEccOrder;
  tagEccParity?: boolean;
}

export function detectFormat(opts: FormatOptions): Partial<ImageFormat> {
  return {
    layout: opts.layout,
    pageSize: opts.pageSize,
    spareSize: opts.spareSize,
    pagesPerBlock: opts.pagesPerBlock,
    bigEndian: opts.endian,
    tagEcc: opts.tagEcc,
    inbandTags: opts.inbandTags,
    dataEcc: opts.dataEcc,
  };
}

export function createFormat(opts: CreateFormatOptions): {
  geometry: NandGeometry;
  layout: SpareLayoutName;
  bigEndian: boolean;
  tagEcc: boolean;
  inbandTags: boolean;
  dataEcc?: DataEccOrder;
  littleEndianParity?: boolean;
} {
  // YAFFS1 (--layout yaffs1 or --page-size 512): 512 + 16-byte pages, 32 to a block.
  const yaffs1 = opts.layout === 'yaffs1' || opts.layout === 'yaffs1-mtd' || opts.pageSize === 512;
  const layout = opts.layout ?? (yaffs1 ? 'yaffs1' : 'mkyaffs2');
  const pageSize = opts.pageSize ?? (yaffs1 ? 512 : 2048);
  const spareSize = opts.spareSize ?? (yaffs1 ? 16 : (pageSize / 2048) * 64);
  const pagesPerBlock = opts.pagesPerBlock ?? (yaffs1 ? 32 : 64);
  const geometry = { ...geometryPreset('yaffs2-2k'), pageSize, spareSize, pagesPerBlock };
  const inbandTags = opts.inbandTags ?? false;
  return { geometry, layout, bigEndian: opts.endian, tagEcc: opts.tagEcc ?? !inbandTags, inbandTags, dataEcc: opts.dataEcc, littleEndianParity: opts.tagEccParity };
}

export function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}
export function parsePageSize(value: string): number {
  const n = parseCount(value);
  if (![512, 2048, 4096, 8192, 16384].includes(n)) throw new InvalidArgumentError(`expected 512 (YAFFS1), 2048, 4096, 8192 or 16384, got "${value}"`);
  return n;
}
export function parseDataEcc(value: string): DataEccOrder {
  if (!(DATA_ECC_ORDERS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected smartmedia, linux or none, got "${value}"`);
  return value as DataEccOrder;
}
/** --tag-ecc-parity image|little → littleEndianParity. */
export function parseParityOrder(value: string): boolean {
  if (value !== 'image' && value !== 'little') throw new InvalidArgumentError(`expected image or little, got "${value}"`);
  return value === 'little';
}
/** --endian little|big → bigEndian. */
export function parseEndian(value: string): boolean {
  if (value !== 'little' && value !== 'big') throw new InvalidArgumentError(`expected little or big, got "${value}"`);
  return value === 'big';
}
export function parseOnOff(value: string): boolean {
  if (value !== 'on' && value !== 'off') throw new InvalidArgumentError(`expected on or off, got "${value}"`);
  return value === 'on';
}
