/**
 * Tile NHWC images in [−1, 1] into one RGBA picture (browser-safe; PNG encoding is in png-node.ts).
 * Grayscale images are repeated into R, G and B. A 1-pixel gap (mid grey) separates tiles.
 */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export function imagesToGrid(images: Float32Array, count: number, height: number, width: number, channels: number, columns: number, gap = 1): RgbaImage {
  const cols = Math.max(1, Math.min(columns, count));
  const rows = Math.ceil(count / cols);
  const outW = cols * width + (cols + 1) * gap;
  const outH = rows * height + (rows + 1) * gap;
  const data = new Uint8Array(outW * outH * 4).fill(128);
  for (let i = 0; i < outW * outH; i++) data[i * 4 + 3] = 255;
  const per = height * width * channels;
  for (let k = 0; k < count; k++) {
    const ox = gap + (k % cols) * (width + gap);
    const oy = gap + Math.floor(k / cols) * (height + gap);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const src = k * per + (y * width + x) * channels;
        const dst = ((oy + y) * outW + ox + x) * 4;
        for (let c = 0; c < 3; c++) {
          const v = images[src + (channels === 1 ? 0 : Math.min(c, channels - 1))];
          data[dst + c] = Math.round(Math.max(0, Math.min(1, (v + 1) / 2)) * 255);
        }
      }
    }
  }
  return { width: outW, height: outH, data };
}
