import { GC_HIGHLIGHT, PAGE_COLORS, rgb } from '../../shared/colors.ts';
import { PAGE_BAD, PAGE_INVALID, PAGE_VALID, type SsdFrame } from '../../shared/protocol.ts';
import { base64ToBytes, base64ToUint16 } from '../api.ts';
import { h, sizeCanvas } from '../dom.ts';

const COLOR_BY_STATE = [PAGE_COLORS.free, PAGE_COLORS.valid, PAGE_COLORS.invalid, PAGE_COLORS.bad, PAGE_COLORS.meta];

/**
 * The SSD block map: one row per die, blocks side by side; each block is a small grid of its
 * pages (free / valid / invalid), as the seed draws its mini SSD. Blocks the last GC took are
 * outlined. Geometries too large for one pixel per page draw one cell per block, shaded by its
 * share of valid and invalid pages.
 */
export class BlockMap {
  readonly element: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  private readonly caption: HTMLElement;
  private lastFrame: SsdFrame | undefined;
  private readonly details: HTMLDetailsElement;
  private readonly tableHost: HTMLElement;

  constructor() {
    this.canvas = h('canvas', { class: 'block-map', 'data-testid': 'block-map', role: 'img', 'aria-label': 'block map: nothing drawn yet' });
    this.caption = h('div', { class: 'caption' });
    const legend = h(
      'div',
      { class: 'legend' },
      ...(
        [
          ['free', PAGE_COLORS.free],
          ['valid', PAGE_COLORS.valid],
          ['invalid (garbage)', PAGE_COLORS.invalid],
          ['bad', PAGE_COLORS.bad],
        ] as const
      ).map(([label, color]) => h('span', { class: 'legend-item' }, h('i', { style: `background:${rgb(color)}` }), label)),
      h('span', { class: 'legend-item' }, h('i', { class: 'outline', style: `border-color:${rgb(GC_HIGHLIGHT)}` }), 'last GC victim'),
    );
    // The text alternative: each block's pages by state, built when the disclosure opens.
    this.tableHost = h('div', { class: 'chart-table' });
    this.details = h('details', { class: 'chart-data' }, h('summary', {}, 'Data table: pages of each block by state'), this.tableHost);
    this.details.addEventListener('toggle', () => this.renderTable());
    this.element = h('div', { class: 'block-map-wrap' }, legend, this.canvas, this.caption, this.details);
    new ResizeObserver(() => {
      if (this.lastFrame) this.draw(this.lastFrame);
    }).observe(this.element);
  }

  private renderTable(): void {
    const frame = this.lastFrame;
    if (!this.details.open || !frame) return;
    const valid = base64ToUint16(frame.validPerBlock);
    const invalid = base64ToUint16(frame.invalidPerBlock);
    const gc = new Set(frame.gcBlocks);
    const rows: HTMLElement[] = [];
    for (let b = 0; b < frame.blocks; b++) {
      const free = frame.pagesPerBlock - valid[b]! - invalid[b]!;
      rows.push(
        h('tr', {}, h('td', { class: 'num' }, Math.floor(b / frame.blocksPerDie)), h('td', { class: 'num' }, b % frame.blocksPerDie), h('td', { class: 'num' }, valid[b]!), h('td', { class: 'num' }, invalid[b]!), h('td', { class: 'num' }, Math.max(0, free)), h('td', {}, gc.has(b) ? 'last GC victim' : '')),
      );
    }
    this.tableHost.replaceChildren(
      h(
        'table',
        { class: 'data-table', 'data-testid': 'block-map-table' },
        h('caption', {}, 'Pages of each block by state'),
        h('thead', {}, h('tr', {}, ...['die', 'block', 'valid pages', 'invalid pages', 'other pages (free, metadata)', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, ...rows),
      ),
    );
  }

  draw(frame: SsdFrame): void {
    this.lastFrame = frame;
    this.canvas.setAttribute('aria-label', `block map: ${frame.dies} dies × ${frame.blocksPerDie} blocks of ${frame.pagesPerBlock} pages; the data table below gives each block's pages by state`);
    if (this.details.open) this.renderTable();
    const width = Math.max(320, this.element.clientWidth || 640);
    const dies = frame.dies;
    const perDie = frame.blocksPerDie;
    const pages = frame.pagesPerBlock;
    const gcBlocks = new Set(frame.gcBlocks);
    const labelWidth = 44;
    const columnsPerBlock = Math.ceil(Math.sqrt(pages));
    const gridGap = perDie <= 64 ? 6 : 2;
    const gridCell = Math.floor((width - labelWidth - gridGap * perDie) / (perDie * columnsPerBlock));
    if (frame.pageStates !== undefined && gridCell < 3 && perDie <= width - labelWidth) {
      this.drawColumns(frame, base64ToBytes(frame.pageStates), width, labelWidth, gcBlocks);
      return;
    }
    if (frame.pageStates !== undefined) {
      const states = base64ToBytes(frame.pageStates);
      // Each block is a grid of ⌈√pages⌉ columns, so 9 pages make the seed's 3 × 3 squares.
      const columns = columnsPerBlock;
      const rows = Math.ceil(pages / columns);
      const gap = gridGap;
      const cell = Math.max(1, Math.min(22, gridCell));
      const blockWidth = columns * cell;
      const blockHeight = rows * cell;
      const rowHeight = blockHeight + gap + (cell >= 12 ? 14 : 0);
      const height = dies * rowHeight + gap;
      const context = sizeCanvas(this.canvas, Math.min(width, labelWidth + perDie * (blockWidth + gap) + gap), height);
      context.fillStyle = '#fff';
      context.fillRect(0, 0, this.canvas.width, this.canvas.height);
      context.font = '11px system-ui, sans-serif';
      context.textBaseline = 'middle';
      const lbas = frame.pageLbas;
      for (let die = 0; die < dies; die++) {
        const y0 = gap + die * rowHeight;
        context.fillStyle = '#5c636a';
        context.textAlign = 'left';
        context.fillText(`die ${die}`, 4, y0 + blockHeight / 2);
        for (let b = 0; b < perDie; b++) {
          const block = die * perDie + b;
          const x0 = labelWidth + b * (blockWidth + gap);
          for (let p = 0; p < pages; p++) {
            const state = states[block * pages + p] ?? 0;
            const color = COLOR_BY_STATE[state] ?? PAGE_COLORS.free;
            context.fillStyle = rgb(color);
            const x = x0 + (p % columns) * cell;
            const y = y0 + Math.floor(p / columns) * cell;
            context.fillRect(x, y, cell > 3 ? cell - 1 : cell, cell > 3 ? cell - 1 : cell);
            const lba = lbas?.[block * pages + p];
            if (cell >= 18 && lba !== undefined && lba >= 0 && state !== 0 && state !== PAGE_BAD) {
              context.fillStyle = state === PAGE_VALID ? '#fff' : state === PAGE_INVALID ? '#ced4da' : '#fff';
              context.textAlign = 'center';
              context.font = '9px system-ui, sans-serif';
              context.fillText(String(lba), x + (cell - 1) / 2, y + (cell - 1) / 2);
              context.font = '11px system-ui, sans-serif';
            }
          }
          if (gcBlocks.has(block)) {
            context.strokeStyle = rgb(GC_HIGHLIGHT);
            context.lineWidth = Math.max(2, Math.min(3, gap - 1));
            context.strokeRect(x0 - 1.5, y0 - 1.5, blockWidth + 2, blockHeight + 2);
          }
          if (cell >= 12) {
            context.fillStyle = '#868e96';
            context.textAlign = 'center';
            context.fillText(`blk ${b}`, x0 + blockWidth / 2, y0 + blockHeight + 8);
          }
        }
      }
      this.caption.textContent = `${frame.blocks} blocks × ${pages} pages (${dies} dies × ${perDie} blocks); one square per page`;
    } else {
      // One cell per block: hue mixes valid (green) and invalid (dark) shares; white = free.
      const valid = base64ToUint16(frame.validPerBlock);
      const invalid = base64ToUint16(frame.invalidPerBlock);
      const cell = Math.max(2, Math.min(12, Math.floor((width - labelWidth) / perDie)));
      const perRow = Math.max(1, Math.floor((width - labelWidth) / cell));
      const rowsPerDie = Math.ceil(perDie / perRow);
      const dieHeight = rowsPerDie * cell + 4;
      const context = sizeCanvas(this.canvas, width, dies * dieHeight + 4);
      context.fillStyle = '#fff';
      context.fillRect(0, 0, width, dies * dieHeight + 4);
      context.font = '11px system-ui, sans-serif';
      context.textBaseline = 'middle';
      for (let die = 0; die < dies; die++) {
        const y0 = 4 + die * dieHeight;
        if (rowsPerDie * cell >= 10) {
          context.fillStyle = '#5c636a';
          context.fillText(`die ${die}`, 4, y0 + (rowsPerDie * cell) / 2);
        }
        for (let b = 0; b < perDie; b++) {
          const block = die * perDie + b;
          const v = (valid[block] ?? 0) / pages;
          const inv = (invalid[block] ?? 0) / pages;
          const free = Math.max(0, 1 - v - inv);
          const color = [0, 1, 2].map((k) => PAGE_COLORS.valid[k]! * v + PAGE_COLORS.invalid[k]! * inv + PAGE_COLORS.free[k]! * free);
          context.fillStyle = rgb(color.map(Math.round));
          const x = labelWidth + (b % perRow) * cell;
          const y = y0 + Math.floor(b / perRow) * cell;
          context.fillRect(x, y, cell - (cell > 3 ? 1 : 0), cell - (cell > 3 ? 1 : 0));
          if (gcBlocks.has(block)) {
            context.strokeStyle = rgb(GC_HIGHLIGHT);
            context.lineWidth = 2;
            context.strokeRect(x - 1, y - 1, cell + 1, cell + 1);
          }
        }
      }
      this.caption.textContent = `${frame.blocks} blocks × ${pages} pages: one cell per block, coloured by its valid / invalid / free share`;
    }
  }

  /**
   * Medium drives (thousands of blocks): each block is a column one to a few pixels wide, its
   * pages stacked top (page 0) to bottom, one row of columns per die: still one mark per page.
   */
  private drawColumns(frame: SsdFrame, states: Uint8Array, width: number, labelWidth: number, gcBlocks: ReadonlySet<number>): void {
    const perDie = frame.blocksPerDie;
    const pages = frame.pagesPerBlock;
    // Fractional CSS widths: pixel edges are rounded per column, so a die always fills the row.
    const columnWidth = Math.max(1 / (window.devicePixelRatio || 1), Math.min(8, (width - labelWidth - 8) / perDie));
    const pageHeight = Math.max(1, Math.min(3, Math.floor(96 / pages)));
    const dieHeight = pages * pageHeight;
    const rowHeight = dieHeight + 8;
    const height = frame.dies * rowHeight + 4;
    const cssWidth = Math.ceil(labelWidth + perDie * columnWidth + 4);
    const context = sizeCanvas(this.canvas, cssWidth, height);
    context.fillStyle = '#fff';
    context.fillRect(0, 0, cssWidth, height);
    const ratio = this.canvas.width / cssWidth;
    // Page-level pixels through ImageData: far faster than a fillRect per page.
    const image = context.createImageData(this.canvas.width, this.canvas.height);
    const data = image.data;
    data.fill(255);
    const put = (x0: number, y0: number, w: number, hgt: number, c: readonly number[]): void => {
      const xa = Math.round(x0 * ratio);
      const xb = Math.round((x0 + w) * ratio);
      const ya = Math.round(y0 * ratio);
      const yb = Math.round((y0 + hgt) * ratio);
      for (let y = ya; y < yb; y++) {
        for (let x = xa; x < xb; x++) {
          const o = (y * image.width + x) * 4;
          data[o] = c[0]!;
          data[o + 1] = c[1]!;
          data[o + 2] = c[2]!;
          data[o + 3] = 255;
        }
      }
    };
    for (let die = 0; die < frame.dies; die++) {
      const y0 = 4 + die * rowHeight;
      for (let b = 0; b < perDie; b++) {
        const block = die * perDie + b;
        const x0 = labelWidth + b * columnWidth;
        for (let p = 0; p < pages; p++) {
          const state = states[block * pages + p] ?? 0;
          put(x0, y0 + p * pageHeight, columnWidth, pageHeight, COLOR_BY_STATE[state] ?? PAGE_COLORS.free);
        }
        if (gcBlocks.has(block)) put(x0, y0 + dieHeight + 1, columnWidth, 4, GC_HIGHLIGHT);
      }
    }
    context.putImageData(image, 0, 0);
    context.font = '11px system-ui, sans-serif';
    context.textBaseline = 'middle';
    context.fillStyle = '#5c636a';
    for (let die = 0; die < frame.dies; die++) context.fillText(`die ${die}`, 4, 4 + die * rowHeight + dieHeight / 2);
    this.caption.textContent = `${frame.blocks} blocks × ${pages} pages (${frame.dies} dies × ${perDie} blocks): one column per block, page 0 at the top; the orange bar marks the last GC victim`;
  }
}
