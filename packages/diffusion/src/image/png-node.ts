/** Node-only PNG encode/decode through pngjs. */
import { PNG } from 'pngjs';
import type { RgbaImage } from './grid.ts';

export function encodePng(image: RgbaImage): Buffer {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return PNG.sync.write(png);
}

/** Decode to RGBA (pngjs expands palettes, grey and 16-bit to 8-bit RGBA). Throws on malformed data. */
export function decodePng(bytes: Buffer): RgbaImage & { colorType: number } {
  const png = PNG.sync.read(bytes);
  const meta = png as unknown as { colorType?: number };
  return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength), colorType: meta.colorType ?? 6 };
}
