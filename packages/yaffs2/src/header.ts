/**
 * The YAFFS2 object header (struct yaffs_obj_hdr, yaffs_guts.h): chunk 0 of every object.
 * 512 bytes are used, little-endian; the rest of the chunk is 0xFF, as mkyaffs2image leaves it.
 *
 *   @0   u32 type (1 file, 2 symlink, 3 directory, 4 hard link, 5 special)
 *   @4   u32 parent object id
 *   @8   u16 name checksum (unused; 0xFFFF)
 *   @10  name[256], NUL-terminated (YAFFS_MAX_NAME_LENGTH 255)
 *   @268 mode  @272 uid  @276 gid  @280 atime  @284 mtime  @288 ctime  (u32 each)
 *   @292 u32 file size, low word
 *   @296 s32 equivalent object id (hard links)
 *   @300 alias[160], NUL-terminated (symlink target; YAFFS_MAX_ALIAS_LENGTH 159)
 *   @460 u32 rdev
 *   @464/@472/@480 win ctime/atime/mtime (2 × u32 each; unused here, left 0xFF)
 *   @488 u32 inband shadowed obj id  @492 u32 inband is-shrink (inband-tag images: the marks
 *        upstream reads there; otherwise left 0xFF)
 *   @496 u32 file size, high word (0xFFFFFFFF = "not set": the size is the low word)
 *   @500 u32 reserved  @504 s32 shadows_obj (> 0: this header replaces that object)
 *   @508 u32 is_shrink (1: written when the file shrank)
 * Big-endian images (upstream's stored_endian 2) store every one of these words big-endian.
 */
import { Yaffs2Error } from './errors.ts';
import type { ObjectTypeValue } from './tags.ts';

export const HEADER_SIZE = 512;
export const MAX_NAME_BYTES = 255;
export const MAX_ALIAS_BYTES = 159;

export interface ObjectHeader {
  type: ObjectTypeValue | number;
  parentId: number;
  /** Raw name bytes (UTF-8 as written by Linux and mkyaffs2image on a UTF-8 system). */
  name: Uint8Array;
  mode: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
  ctime: number;
  fileSize: number;
  equivId: number;
  alias: Uint8Array;
  rdev: number;
  shadows: number;
  isShrink: boolean;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes: Uint8Array): boolean {
  try {
    strictDecoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * Names are raw bytes on flash (Linux and mkyaffs2image write whatever the host had). A name
 * that is valid UTF-8 is its text; any other is spelled with its bytes ≥ 0x80 and backslashes
 * as `\xHH` escapes — lossless both ways: {@link encodeName} turns such a spelling back into the
 * same bytes (and only when those bytes are not UTF-8, so a UTF-8 name that happens to contain
 * `\x41` stays as written).
 */
export function decodeName(bytes: Uint8Array): string {
  if (isUtf8(bytes)) return strictDecoder.decode(bytes);
  let out = '';
  for (const b of bytes) out += b >= 0x80 || b === 0x5c ? `\\x${b.toString(16).padStart(2, '0')}` : String.fromCharCode(b);
  return out;
}

export function encodeName(name: string): Uint8Array {
  if (/\\x[0-9a-f]{2}/.test(name)) {
    const bytes: number[] = [];
    let ok = true;
    for (let i = 0; i < name.length; i++) {
      const m = /^\\x([0-9a-f]{2})/.exec(name.slice(i, i + 4));
      if (m) {
        bytes.push(parseInt(m[1]!, 16));
        i += 3;
      } else if (name.charCodeAt(i) < 0x80) {
        bytes.push(name.charCodeAt(i));
      } else {
        ok = false;
        break;
      }
    }
    const raw = Uint8Array.from(bytes);
    if (ok && !isUtf8(raw)) return raw;
  }
  return encoder.encode(name);
}

let bigEndianFields = false;

function putU32(b: Uint8Array, o: number, v: number): void {
  if (bigEndianFields) {
    b[o] = (v >>> 24) & 0xff;
    b[o + 1] = (v >>> 16) & 0xff;
    b[o + 2] = (v >>> 8) & 0xff;
    b[o + 3] = v & 0xff;
    return;
  }
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}
function getU32(b: Uint8Array, o: number): number {
  if (bigEndianFields) return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function cString(b: Uint8Array, offset: number, max: number): Uint8Array {
  let end = offset;
  while (end < offset + max && b[end] !== 0) end++;
  return b.slice(offset, end);
}

/**
 * Writes a header into `chunk` (the whole chunk is first set to 0xFF). Fields a type does not
 * use are left as mkyaffs2image leaves them.
 */
export function encodeHeader(h: ObjectHeader, chunk: Uint8Array, bigEndian = false, inbandTags = false): void {
  bigEndianFields = bigEndian;
  try {
    encodeFields(h, chunk);
    if (inbandTags) {
      // Inband-tag images keep the shadow and shrink marks at @488/@492 too (upstream reads them there).
      putU32(chunk, 488, h.shadows > 0 ? h.shadows : 0);
      putU32(chunk, 492, h.isShrink ? 1 : 0);
    }
  } finally {
    bigEndianFields = false;
  }
}

function encodeFields(h: ObjectHeader, chunk: Uint8Array): void {
  if (h.name.length > MAX_NAME_BYTES) throw new Yaffs2Error('ENAMETOOLONG', `name of ${h.name.length} bytes (max ${MAX_NAME_BYTES})`);
  if (h.alias.length > MAX_ALIAS_BYTES) {
    throw new Yaffs2Error('ENAMETOOLONG', `symlink target of ${h.alias.length} bytes (max ${MAX_ALIAS_BYTES})`);
  }
  chunk.fill(0xff);
  putU32(chunk, 0, h.type);
  putU32(chunk, 4, h.parentId);
  chunk.fill(0, 10, 10 + MAX_NAME_BYTES + 1);
  chunk.set(h.name, 10);
  if (h.type !== 4) {
    putU32(chunk, 268, h.mode);
    putU32(chunk, 272, h.uid);
    putU32(chunk, 276, h.gid);
    putU32(chunk, 280, h.atime);
    putU32(chunk, 284, h.mtime);
    putU32(chunk, 288, h.ctime);
    putU32(chunk, 460, h.rdev);
  }
  if (h.type === 1) {
    putU32(chunk, 292, h.fileSize % 0x100000000);
    putU32(chunk, 496, Math.floor(h.fileSize / 0x100000000));
  }
  if (h.type === 4) putU32(chunk, 296, h.equivId);
  if (h.type === 2) {
    chunk.fill(0, 300, 300 + MAX_ALIAS_BYTES + 1);
    chunk.set(h.alias, 300);
  }
  putU32(chunk, 504, h.shadows > 0 ? h.shadows : 0);
  putU32(chunk, 508, h.isShrink ? 1 : 0);
}

/** Reads a header; `bigEndian`: every u32 (and the u16 checksum) is stored big-endian (upstream's stored_endian 2). */
export function decodeHeader(chunk: Uint8Array, bigEndian = false, inbandTags = false): ObjectHeader {
  bigEndianFields = bigEndian;
  try {
    const h = decodeFields(chunk);
    if (inbandTags) {
      // yaffs2_scan_chunk with inband tags takes the marks from inband_shadowed_obj_id / inband_is_shrink.
      const shadows = getU32(chunk, 488) | 0;
      h.shadows = shadows > 0 ? shadows : 0;
      h.isShrink = getU32(chunk, 492) === 1;
    }
    return h;
  } finally {
    bigEndianFields = false;
  }
}

function decodeFields(chunk: Uint8Array): ObjectHeader {
  const low = getU32(chunk, 292);
  const high = getU32(chunk, 496);
  // yaffs_oh_to_size: an unset high word (0xFFFFFFFF, as mkyaffs2image leaves it) means 32-bit.
  const fileSize = high === 0xffffffff ? low : high * 0x100000000 + low;
  const shadowsRaw = getU32(chunk, 504) | 0;
  return {
    type: getU32(chunk, 0),
    parentId: getU32(chunk, 4),
    name: cString(chunk, 10, MAX_NAME_BYTES),
    mode: getU32(chunk, 268),
    uid: getU32(chunk, 272),
    gid: getU32(chunk, 276),
    atime: getU32(chunk, 280),
    mtime: getU32(chunk, 284),
    ctime: getU32(chunk, 288),
    fileSize,
    equivId: getU32(chunk, 296),
    // Only symlinks carry an alias; other types leave the field as 0xFF (mkyaffs2image).
    alias: getU32(chunk, 0) === 2 ? cString(chunk, 300, MAX_ALIAS_BYTES) : new Uint8Array(0),
    rdev: getU32(chunk, 460),
    shadows: shadowsRaw > 0 ? shadowsRaw : 0,
    // Only an explicit 1 counts: mkyaffs2image leaves the field 0xFFFFFFFF.
    isShrink: getU32(chunk, 508) === 1,
  };
}
