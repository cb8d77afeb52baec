/**
 * The `yaffs2` command line's options: the image-format flags, defined once for every command
 * that takes them ({@link Yaffs2Command}); the parsers commander calls for each flag (one
 * InvalidArgumentError naming what was expected); and the format flags turned into what
 * detection may not override (commands on an existing image) or what a new image is made with
 * (mkfs, import). cli.ts owns the commands. No upstream counterpart (mkyaffs2image takes no format
 * flags; yaffs2utils' mkyaffs2 and unyaffs2 take page and spare sizes).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
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

/**
 * commander's Command with the format flags the commands share, defined here once: its
 * subcommands (program.command()) are Yaffs2Commands too, so a command's definition chains
 * `.formatOptions()` (or `.createFormatOptions()`) where the flags go in its help.
 */
export class Yaffs2Command extends Command {
  override createCommand(name?: string): Yaffs2Command {
    return new Yaffs2Command(name);
  }

  /** The format flags of a command on an existing image ({@link FormatOptions}): each one given forces that property, the rest are detected. */
  formatOptions(): this {
    return this.option('--layout <layout>', 'spare layout: mkyaffs2 (tags at spare byte 0), mtd (tags after the bad-block marker) yaffs1 or yaffs1-mtd (default: detect)', parseLayout)
      .option('--page-size <bytes>', 'page (chunk) data bytes (default: detect)', parsePageSize)
      .option('--spare-size <bytes>', 'spare (OOB) bytes per page (default: detect)', parseCount)
      .option('--pages-per-block <n>', 'pages per erase block (default: detect)', parseCount)
      .option('--endian <order>', 'byte order of tags and headers: little or big (default: detect)', parseEndian)
      .option('--tag-ecc <on|off>', 'whether tags carry their ECC (default: detect)', parseOnOff)
      .option('--inband-tags <on|off>', 'whether tags sit in the last 16 bytes of each page (default: detect)', parseOnOff)
      .option('--data-ecc <order>', 'data ECC byte order of the mtd layout: smartmedia, linux or none (default: detect)', parseDataEcc);
  }

  /** The format flags of a command that makes an image ({@link CreateFormatOptions}; defaults: mkyaffs2image's format). */
  createFormatOptions(): this {
    return this.option('--layout <layout>', 'spare layout: mkyaffs2 (tags at spare byte 0; the default), mtd (tags after the bad-block marker) yaffs1 (512 + 16-byte pages, yaffs_spare) or yaffs1-mtd (512 + 16, Linux MTD packed tags 1)', parseLayout)
      .option('--page-size <bytes>', 'page (chunk) data bytes: 2048 (default), 4096, 8192, 16384, or 512 (YAFFS1)', parsePageSize)
      .option('--spare-size <bytes>', 'spare (OOB) bytes per page (default: 64 per 2048 data bytes; 16 for YAFFS1)', parseCount)
      .option('--pages-per-block <n>', 'pages per erase block (default 64; 32 for YAFFS1)', parseCount)
      .addOption(new Option('--endian <order>', 'byte order of tags and headers: little or big').argParser(parseEndian).default(false, 'little'))
      .option('--tag-ecc <on|off>', 'whether tags carry their ECC (default on; off with inband tags)', parseOnOff)
      .option('--inband-tags', 'tags in the last 16 bytes of each page, none in the spare (upstream inband_tags)')
      .option('--data-ecc <order>', "mtd layout's data ECC byte order: smartmedia (yaffs_ecc_calc; default), linux (nand_ecc.c) or none", parseDataEcc)
      .option('--tag-ecc-parity <order>', "big-endian tag ECC's line parities: image (big-endian, as a big-endian board's kernel and yaffs2utils; default) or little (upstream yaffs direct's stored_endian on x86)", parseParityOrder);
  }
}
