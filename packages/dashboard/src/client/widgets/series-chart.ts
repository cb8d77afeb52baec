import uPlot from 'uplot';
import { h } from '../dom.ts';

export interface SeriesSpec {
  readonly label: string;
  readonly color: string;
  /** Which y axis: the left ('left') or the right one ('right'). */
  readonly axis: 'left' | 'right';
  readonly digits?: number;
}

/**
 * A live time-series chart (uPlot) with up to two y axes; points are appended as frames come.
 * Keeps at most `maxPoints` points by dropping every other old one (the curve's shape stays).
 */
export class SeriesChart {
  readonly element: HTMLElement;
  private plot: uPlot | undefined;
  private readonly xs: number[] = [];
  private readonly ys: number[][];
  private pending = false;

  constructor(
    private readonly xLabel: string,
    private readonly series: readonly SeriesSpec[],
    private readonly axisLabels: { left: string; right?: string },
    private readonly maxPoints = 2000,
  ) {
    this.ys = series.map(() => []);
    this.element = h('div', { class: 'chart' });
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(this.element);
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(280, this.element.clientWidth || 560), height: 220 };
  }

  private create(): uPlot {
    const scaleOf = (axis: 'left' | 'right'): string => (axis === 'left' ? 'y' : 'y2');
    const options: uPlot.Options = {
      ...this.size(),
      legend: { show: true },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false } },
      axes: [
        { label: this.xLabel, stroke: '#495057', grid: { stroke: '#f1f3f5' } },
        { label: this.axisLabels.left, scale: 'y', stroke: '#495057', grid: { stroke: '#f1f3f5' } },
        ...(this.axisLabels.right ? [{ label: this.axisLabels.right, scale: 'y2', side: 1 as const, stroke: '#495057', grid: { show: false } }] : []),
      ],
      series: [
        { label: this.xLabel },
        ...this.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          scale: scaleOf(s.axis),
          value: (_u: uPlot, v: number | null) => (v === null ? '–' : v.toFixed(s.digits ?? 2)),
        })),
      ],
    };
    return new uPlot(options, [this.xs, ...this.ys], this.element);
  }

  reset(): void {
    this.xs.length = 0;
    for (const y of this.ys) y.length = 0;
    this.plot?.destroy();
    this.plot = undefined;
  }

  push(x: number, values: readonly number[]): void {
    if (this.xs.length > 0 && x <= this.xs[this.xs.length - 1]!) return;
    this.xs.push(x);
    values.forEach((v, i) => this.ys[i]?.push(v));
    if (this.xs.length > this.maxPoints) {
      // Thin the older half to keep redraws cheap on long runs.
      const keep = (_: unknown, i: number): boolean => i % 2 === 0 || i >= this.xs.length / 2;
      const xs = this.xs.filter(keep);
      const ys = this.ys.map((y) => y.filter(keep));
      this.xs.splice(0, this.xs.length, ...xs);
      ys.forEach((y, i) => this.ys[i]!.splice(0, this.ys[i]!.length, ...y));
    }
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      if (!this.plot) this.plot = this.create();
      else this.plot.setData([this.xs, ...this.ys]);
    });
  }
}
