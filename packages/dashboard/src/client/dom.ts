/** Tiny DOM helpers: the page is plain TypeScript + DOM. */

type Attributes = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;
type Child = Node | string | number | null | undefined | false;

/** Creates an element: h('button', { class: 'primary', onclick: run }, 'Run'). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(key.replace(/^on/, ''), value);
    else if (value === true) element.setAttribute(key, '');
    else element.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
  }
  return element;
}

/** A labelled form field. */
export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), input, hint ? h('span', { class: 'field-hint' }, hint) : null);
}

export function numberInput(name: string, value: number, options: { min?: number; max?: number; step?: number | 'any' } = {}): HTMLInputElement {
  return h('input', {
    type: 'number',
    name,
    value,
    min: options.min,
    max: options.max,
    step: options.step ?? 'any',
  });
}

export function select(name: string, options: readonly (string | [string, string])[], value?: string): HTMLSelectElement {
  const element = h('select', { name });
  for (const option of options) {
    const [v, label] = typeof option === 'string' ? [option, option] : option;
    element.append(h('option', { value: v, selected: v === value }, label));
  }
  return element;
}

export function checkbox(name: string, checked: boolean, label: string): { element: HTMLElement; input: HTMLInputElement } {
  const input = h('input', { type: 'checkbox', name, checked });
  return { element: h('label', { class: 'check' }, input, ' ', label), input };
}

export function panel(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

/** Formats a number for a table cell: integers with thin separators, others to `digits`. */
export function formatNumber(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: Math.min(digits, 2) });
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = bytes;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** A definition table of label → value rows. */
export function keyValueTable(rows: readonly [string, string | number][]): HTMLTableElement {
  const table = h('table', { class: 'kv' });
  for (const [k, v] of rows) table.append(h('tr', {}, h('th', {}, k), h('td', {}, typeof v === 'number' ? formatNumber(v) : v)));
  return table;
}

/** Sets a canvas's backing store to its CSS size × devicePixelRatio; returns the 2D context. */
export function sizeCanvas(canvas: HTMLCanvasElement, cssWidth: number, cssHeight: number): CanvasRenderingContext2D {
  const ratio = window.devicePixelRatio || 1;
  canvas.style.width = `${cssWidth}px`;
  canvas.style.height = `${cssHeight}px`;
  canvas.width = Math.max(1, Math.round(cssWidth * ratio));
  canvas.height = Math.max(1, Math.round(cssHeight * ratio));
  const context = canvas.getContext('2d');
  if (!context) throw new Error('this browser has no 2D canvas');
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  return context;
}
