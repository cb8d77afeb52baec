/**
 * A heatmap of one number per block (erase counts), laid out like the block map: one row per
 * die, one cell per block. Labelled axes (die, block within the die), a colour legend from the
 * minimum to the maximum, the value under the pointer, and a data table of every block's number.
 */
import { heatColor, rgb } from '../../shared/colors.ts';
import { h, sizeCanvas } from '../dom.ts';

/** Space for the die labels (left) and the block axis with its title (below), CSS pixels. */
const LEFT = 52;
const BOTTOM = 34;
const TOP = 4;

export class Heatmap {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly minLabel: HTMLElement;
  private readonly maxLabel: HTMLElement;
  private readonly readout: HTMLElement;
  private readonly details: HTMLDetailsElement;
  private readonly tableHost: HTMLElement;
  private values: ArrayLike<number> = [];
  private dies = 0;
  private perDie = 0;
  private cellWidth = 0;
  private cellHeight = 0;

  constructor(
    private readonly unit: string,
    private readonly label: string,
  ) {
    this.canvas = h('canvas', { class: 'heatmap', 'data-testid': 'erase-heatmap', role: 'img', 'aria-label': `${label}: nothing drawn yet` });
    this.minLabel = h('span', {});
    this.maxLabel = h('span', {});
    const gradient = h('span', {
      class: 'gradient',
      style: `background: linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map((t) => rgb(heatColor(t))).join(', ')})`,
    });
    const legend = h('div', { class: 'legend heat-legend' }, h('span', { class: 'unit' }, `colour: ${unit}`), this.minLabel, gradient, this.maxLabel);
    this.readout = h('div', { class: 'chart-readout', 'data-testid': 'erase-heatmap-readout' }, '\u00a0');
    this.tableHost = h('div', { class: 'chart-table' });
    this.details = h('details', { class: 'chart-data' }, h('summary', {}, `Data table: ${label}`), this.tableHost);
    this.details.addEventListener('toggle', () => this.renderTable());
    this.element = h('div', { class: 'heatmap-wrap' }, legend, this.canvas, this.readout, this.details);
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => (this.readout.textContent = '\u00a0'));
  }

  draw(values: ArrayLike<number>, dies: number, perDie: number): void {
    this.values = values;
    this.dies = dies;
    this.perDie = perDie;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < values.length; i++) {
      min = Math.min(min, values[i]!);
      max = Math.max(max, values[i]!);
    }
    if (!Number.isFinite(min)) min = max = 0;
    this.minLabel.textContent = `min ${min}`;
    this.maxLabel.textContent = `max ${max}`;
    const width = Math.max(240, this.element.clientWidth || 480);
    // One row per die; each block a cell of (possibly fractional) width, edges rounded to pixels.
    this.cellWidth = Math.min(24, (width - LEFT - 8) / perDie);
    this.cellHeight = Math.max(10, Math.min(24, Math.round(this.cellWidth)));
    const plotHeight = dies * (this.cellHeight + 3);
    const cssWidth = Math.ceil(LEFT + perDie * this.cellWidth + 8);
    const cssHeight = TOP + plotHeight + BOTTOM;
    const context = sizeCanvas(this.canvas, cssWidth, cssHeight);
    context.fillStyle = '#fff';
    context.fillRect(0, 0, cssWidth, cssHeight);
    const gap = this.cellWidth >= 6 ? 1 : 0;
    for (let die = 0; die < dies; die++) {
      const y = TOP + die * (this.cellHeight + 3);
      for (let b = 0; b < perDie; b++) {
        const v = values[die * perDie + b] ?? 0;
        context.fillStyle = rgb(heatColor(max > min ? (v - min) / (max - min) : 0));
        const x0 = Math.round(LEFT + b * this.cellWidth);
        const x1 = Math.round(LEFT + (b + 1) * this.cellWidth);
        context.fillRect(x0, y, Math.max(1, x1 - x0 - gap), this.cellHeight);
      }
    }
    // Axes: die numbers down the left (every row while they fit), block ticks below, titles.
    context.fillStyle = '#495057';
    context.font = '11px system-ui, sans-serif';
    context.textBaseline = 'middle';
    context.textAlign = 'right';
    const dieEvery = Math.max(1, Math.ceil(12 / (this.cellHeight + 3)));
    for (let die = 0; die < dies; die += dieEvery) context.fillText(String(die), LEFT - 6, TOP + die * (this.cellHeight + 3) + this.cellHeight / 2);
    context.save();
    context.translate(10, TOP + plotHeight / 2);
    context.rotate(-Math.PI / 2);
    context.textAlign = 'center';
    context.fillText('die', 0, 0);
    context.restore();
    context.textAlign = 'center';
    context.textBaseline = 'top';
    const tickEvery = niceStep(perDie, Math.max(2, Math.floor((perDie * this.cellWidth) / 50)));
    for (let b = 0; b < perDie; b += tickEvery) context.fillText(String(b), LEFT + (b + 0.5) * this.cellWidth, TOP + plotHeight + 2);
    context.fillText('block within the die', LEFT + (perDie * this.cellWidth) / 2, TOP + plotHeight + 18);
    this.canvas.setAttribute('aria-label', `${this.label}: ${dies} dies × ${perDie} blocks, ${this.unit} from ${min} to ${max}; the data table below lists every block`);
    if (this.details.open) this.renderTable();
  }

  /** The block under the pointer, or undefined. */
  private blockAt(e: MouseEvent): { die: number; block: number } | undefined {
    const box = this.canvas.getBoundingClientRect();
    const x = e.clientX - box.left - LEFT;
    const y = e.clientY - box.top - TOP;
    if (x < 0 || y < 0 || this.cellWidth <= 0) return undefined;
    const block = Math.floor(x / this.cellWidth);
    const die = Math.floor(y / (this.cellHeight + 3));
    if (block >= this.perDie || die >= this.dies || y - die * (this.cellHeight + 3) > this.cellHeight) return undefined;
    return { die, block };
  }

  private hover(e: MouseEvent): void {
    const at = this.blockAt(e);
    if (!at) return;
    const value = this.values[at.die * this.perDie + at.block] ?? 0;
    this.readout.textContent = `die ${at.die}, block ${at.block}: ${value} ${this.unit}`;
  }

  private renderTable(): void {
    if (!this.details.open) return;
    const rows: HTMLElement[] = [];
    for (let die = 0; die < this.dies; die++) {
      for (let b = 0; b < this.perDie; b++) rows.push(h('tr', {}, h('td', { class: 'num' }, die), h('td', { class: 'num' }, b), h('td', { class: 'num' }, this.values[die * this.perDie + b] ?? 0)));
    }
    this.tableHost.replaceChildren(
      h(
        'table',
        { class: 'data-table', 'data-testid': 'erase-heatmap-table' },
        h('caption', {}, this.label),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'die'), h('th', { scope: 'col' }, 'block'), h('th', { scope: 'col' }, this.unit))),
        h('tbody', {}, ...rows),
      ),
    );
  }
}

/** A tick step of 1, 2, 5 × 10^k giving at most `ticks` ticks over `n` items. */
function niceStep(n: number, ticks: number): number {
  const raw = Math.max(1, n / ticks);
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}
