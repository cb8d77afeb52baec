/**
 * A live chart drawn from a Vega-Lite spec — the specs @flashdiff/ssd's `ssdsim plot` renders to
 * SVG/PNG (@flashdiff/ssd/plot/specs), here compiled by vega-lite and drawn by Vega's SVG
 * renderer in the page. Vega's expressions run through vega-interpreter (parse with `ast`), so
 * the page's CSP needs no 'unsafe-eval'.
 *
 * Each chart carries its text alternative: a data table of the plotted numbers (a disclosure
 * under the chart, built when opened) and a hover readout of the values under the pointer.
 */
import type { Spec, View } from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import { formatNumber, h } from '../dom.ts';

/**
 * Vega, Vega-Lite and the interpreter are most of the page's script (about 800 of 880 kB
 * minified): loaded on the first draw, as a chunk of their own, so the page starts without them.
 */
let vegaModules: Promise<[typeof import('vega'), typeof import('vega-lite'), typeof import('vega-interpreter')]> | undefined;
function loadVega(): Promise<[typeof import('vega'), typeof import('vega-lite'), typeof import('vega-interpreter')]> {
  vegaModules ??= Promise.all([import('vega'), import('vega-lite'), import('vega-interpreter')]);
  return vegaModules;
}

export type VegaLiteSpec = Record<string, unknown>;

/** The numbers behind a chart, as its data table shows them. */
export interface ChartTable {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
}

export interface ChartData {
  /** The Vega-Lite spec (single view, inline `data.values`). */
  readonly spec: VegaLiteSpec;
  readonly table: ChartTable;
  /** The values at x (the chart's x scale, data units), for the hover readout. */
  readonly describe: (x: number) => string;
}

/** Redraws at most this often; the last update always lands. */
const MIN_REDRAW_MS = 250;
const DATA_NAME = 'table';

export class Chart {
  readonly element: HTMLElement;
  private readonly plot: HTMLElement;
  private readonly readout: HTMLElement;
  private readonly details: HTMLDetailsElement;
  private readonly tableHost: HTMLElement;
  private readonly note: HTMLElement;
  private view: View | undefined;
  private viewKey = '';
  private latest: ChartData | undefined;
  private drawn: ChartData | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastDraw = 0;
  private drawing: Promise<void> = Promise.resolve();
  private generation = 0;

  constructor(
    private readonly testId: string,
    private readonly label: string,
    emptyText: string,
  ) {
    this.plot = h('div', { class: 'chart-plot', 'data-testid': testId });
    this.note = h('p', { class: 'muted chart-note' }, emptyText);
    this.readout = h('div', { class: 'chart-readout', 'data-testid': `${testId}-readout` }, '\u00a0');
    this.tableHost = h('div', { class: 'chart-table' });
    this.details = h('details', { class: 'chart-data' }, h('summary', {}, `Data table: ${label}`), this.tableHost);
    this.details.addEventListener('toggle', () => this.renderTable());
    this.element = h('div', { class: 'chart' }, this.note, this.plot, this.readout, this.details);
    this.plot.addEventListener('mousemove', (e) => this.hover(e));
    this.plot.addEventListener('mouseleave', () => (this.readout.textContent = '\u00a0'));
    new ResizeObserver(() => {
      if (this.latest && Math.abs(this.width() - this.lastWidth) > 40) this.schedule();
    }).observe(this.element);
  }

  private lastWidth = 0;

  private width(): number {
    return Math.max(260, this.element.clientWidth || 560);
  }

  /** Shows "nothing yet" (a new run) and drops the drawing. */
  reset(emptyText?: string): void {
    // A draw of the previous run still in flight is dropped when it lands (the generation moved on).
    this.generation++;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.element.dataset.state = 'empty';
    this.latest = undefined;
    this.drawn = undefined;
    this.view?.finalize();
    this.view = undefined;
    this.viewKey = '';
    this.plot.replaceChildren();
    this.tableHost.replaceChildren();
    if (emptyText !== undefined) this.note.textContent = emptyText;
    this.note.hidden = false;
    this.element.dataset.points = '0';
  }

  update(data: ChartData): void {
    this.latest = data;
    this.schedule();
  }

  private schedule(): void {
    // 'pending' until the latest data is drawn (tests wait for 'drawn' once a run has ended).
    this.element.dataset.state = 'pending';
    if (this.timer !== undefined) return;
    const wait = Math.max(0, MIN_REDRAW_MS - (Date.now() - this.lastDraw));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastDraw = Date.now();
      const data = this.latest;
      if (data) this.drawing = this.drawing.then(() => this.draw(data)).catch((e: unknown) => this.fail(e));
    }, wait);
  }

  private fail(e: unknown): void {
    this.note.hidden = false;
    this.note.textContent = `the chart could not be drawn: ${e instanceof Error ? e.message : String(e)}`;
  }

  private async draw(data: ChartData): Promise<void> {
    const generation = this.generation;
    const { data: inline, ...rest } = data.spec as { data?: { values?: unknown[] } } & VegaLiteSpec;
    const values = inline?.values ?? [];
    this.lastWidth = this.width();
    // 'fit' with 'padding': the whole drawing (axes and legend included) is the panel's width.
    const spec = { ...rest, width: this.lastWidth, height: 260, autosize: { type: 'fit', contains: 'padding' }, description: this.label, data: { name: DATA_NAME } };
    // The same structure (axes, scales' fixed domains, size) keeps its view; only the data changes.
    const key = JSON.stringify(spec);
    if (key !== this.viewKey || !this.view) {
      const [{ parse, View: VegaView }, { compile }, { expressionInterpreter }] = await loadVega();
      if (generation !== this.generation) return;
      this.view?.finalize();
      const runtime = parse(compile(spec as unknown as TopLevelSpec).spec as Spec, undefined, { ast: true });
      this.view = new VegaView(runtime, { expr: expressionInterpreter, renderer: 'svg', container: this.plot, hover: false });
      this.viewKey = key;
    }
    const view = this.view;
    view.data(DATA_NAME, values as object[]);
    await view.runAsync();
    if (generation !== this.generation) return;
    this.drawn = data;
    if (data === this.latest && this.timer === undefined) this.element.dataset.state = 'drawn';
    this.note.hidden = true;
    this.element.dataset.points = String(values.length);
    if (this.details.open) this.renderTable();
  }

  private hover(e: MouseEvent): void {
    const view = this.view;
    const data = this.drawn;
    const svg = this.plot.querySelector('svg');
    if (!view || !data || !svg) return;
    const box = svg.getBoundingClientRect();
    const [originX] = view.origin();
    const scale = view.scale('x') as { invert?: (v: number) => number; range: () => number[] } | undefined;
    if (!scale?.invert) return;
    const px = e.clientX - box.left - originX;
    const [r0, r1] = scale.range();
    if (px < Math.min(r0!, r1!) || px > Math.max(r0!, r1!)) return;
    this.readout.textContent = data.describe(scale.invert(px));
  }

  /** Builds the data table (only while the disclosure is open: large tables cost nothing closed). */
  private renderTable(): void {
    const data = this.drawn;
    if (!this.details.open || !data) return;
    const { columns, rows } = data.table;
    this.tableHost.replaceChildren(
      h(
        'table',
        { class: 'data-table', 'data-testid': `${this.testId}-table` },
        h('caption', {}, this.label),
        h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, ...rows.map((row) => h('tr', {}, ...row.map((v) => h('td', { class: typeof v === 'number' ? 'num' : '' }, typeof v === 'number' ? formatCell(v) : v))))),
      ),
    );
  }
}

/** Table cells: integers exactly, others to 4 significant digits (the readouts use the same). */
export function formatCell(value: number): string {
  if (Number.isInteger(value)) return formatNumber(value);
  return Number(value.toPrecision(4)).toString();
}

/** The index of the sample nearest to x in an ascending list. */
export function nearest(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  if (hi < 0) return -1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! <= x) lo = mid;
    else hi = mid;
  }
  return Math.abs(xs[hi]! - x) < Math.abs(xs[lo]! - x) ? hi : lo;
}
