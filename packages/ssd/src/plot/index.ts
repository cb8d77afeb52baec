/** Charts: Vega-Lite specs from reports and sweep summaries, rendered to SVG and PNG without a browser. */
export { wafVsOpSpec, intervalWafSpec, freeBlocksSpec, eraseHistogramSpec, latencyCdfSpec, cdfFromHistogram, POLICY_COLOURS, THEORY_COLOUR, SERIES_COLOUR, SECOND_COLOUR } from './specs.ts';
export type { VegaLiteSpec } from './specs.ts';
export { renderChart, renderSvg, rasterise } from './render.ts';
export type { RenderedChart } from './render.ts';
export { plotFile, writeCharts, summaryCharts, reportCharts, parseCsv } from './plot.ts';
