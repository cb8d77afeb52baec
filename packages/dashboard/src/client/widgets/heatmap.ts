import { heatColor, rgb } from '../../shared/colors.ts';
import { h, sizeCanvas } from '../dom.ts';

/**
 * A heatmap of one number per block (erase counts), laid out like the block map: one row per
 * die. The colour scale runs from the minimum to the maximum, shown in the legend.
 */
export class Heatmap {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly legend: HTMLElement;
  private readonly minLabel: HTMLElement;
  private readonly maxLabel: HTMLElement;

  constructor(private readonly unit: string) {
    this.canvas = h('canvas', { class: 'heatmap', 'data-testid': 'erase-heatmap' });
    this.minLabel = h('span', {});
    this.maxLabel = h('span', {});
    const gradient = h('span', {
      class: 'gradient',
      style: `background: linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map((t) => rgb(heatColor(t))).join(', ')})`,
    });
    this.legend = h('div', { class: 'legend heat-legend' }, this.minLabel, gradient, this.maxLabel, h('span', { class: 'unit' }, unit));
    this.element = h('div', { class: 'heatmap-wrap' }, this.legend, this.canvas);
  }

  draw(values: ArrayLike<number>, dies: number, perDie: number): void {
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
    const cellWidth = Math.min(24, (width - 8) / perDie);
    const cellHeight = Math.max(10, Math.min(24, Math.round(cellWidth)));
    const height = dies * (cellHeight + 3) + 3;
    const cssWidth = Math.ceil(perDie * cellWidth + 8);
    const context = sizeCanvas(this.canvas, cssWidth, height);
    context.fillStyle = '#fff';
    context.fillRect(0, 0, cssWidth, height);
    const gap = cellWidth >= 6 ? 1 : 0;
    for (let die = 0; die < dies; die++) {
      const y = 3 + die * (cellHeight + 3);
      for (let b = 0; b < perDie; b++) {
        const v = values[die * perDie + b] ?? 0;
        context.fillStyle = rgb(heatColor(max > min ? (v - min) / (max - min) : 0));
        const x0 = Math.round(4 + b * cellWidth);
        const x1 = Math.round(4 + (b + 1) * cellWidth);
        context.fillRect(x0, y, Math.max(1, x1 - x0 - gap), cellHeight);
      }
    }
    this.canvas.title = `${this.unit}: min ${min}, max ${max}`;
  }
}
