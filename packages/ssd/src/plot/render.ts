/**
 * Rendering a Vega-Lite spec without a browser: vega-lite compiles it to Vega, Vega's headless
 * View draws it as SVG (renderer 'none' + toSVG: no canvas package, no native build), and
 * resvg (@resvg/resvg-js, a prebuilt Rust binary in the npm package) rasterises the SVG to PNG
 * with the system's fonts.
 */
import { Resvg } from '@resvg/resvg-js';
import { View, parse } from 'vega';
import { compile } from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import type { VegaLiteSpec } from './specs.ts';

export interface RenderedChart {
  svg: string;
  png: Uint8Array;
}

/** SVG of a Vega-Lite spec. */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const vega = compile(spec as unknown as TopLevelSpec).spec;
  const view = new View(parse(vega), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** PNG of an SVG (white background; `scale` × the SVG's size). */
export function rasterise(svg: string, scale = 1): Uint8Array {
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

export async function renderChart(spec: VegaLiteSpec, scale = 1): Promise<RenderedChart> {
  const svg = await renderSvg(spec);
  return { svg, png: rasterise(svg, scale) };
}
