import { h } from './dom.ts';
import { cancelJob } from './api.ts';
import type { ProgressEvent } from '../shared/protocol.ts';

let area: HTMLElement | undefined;

/** Where page-wide messages go (top of the page). */
export function mountMessageArea(parent: HTMLElement): void {
  area = h('div', { class: 'messages', role: 'status', 'aria-live': 'polite' });
  parent.append(area);
}

/** Shows an error (or notice) as a dismissable message; errors are never silent. */
export function showMessage(text: string, kind: 'error' | 'info' = 'error', where?: HTMLElement): HTMLElement {
  const target = where ?? area ?? document.body;
  const message = h(
    'div',
    { class: `message message-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', { class: 'message-text' }, text),
    h('button', { class: 'message-close', title: 'dismiss', onclick: () => message.remove() }, '×'),
  );
  target.append(message);
  if (kind === 'info') setTimeout(() => message.remove(), 6000);
  return message;
}

export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Runs an async action from a button, disabling it meanwhile and showing any error. */
export function guarded(button: HTMLButtonElement | null, action: () => Promise<void>, where?: HTMLElement): () => void {
  return () => {
    if (button) button.disabled = true;
    action()
      .catch((e: unknown) => showMessage(errorText(e), 'error', where))
      .finally(() => {
        if (button) button.disabled = false;
      });
  };
}

/** A progress bar with a line of text and a Cancel button bound to a job. */
export class ProgressView {
  readonly element: HTMLElement;
  private readonly bar: HTMLElement;
  private readonly text: HTMLElement;
  private readonly cancelButton: HTMLButtonElement;
  private jobId: string | undefined;

  constructor() {
    this.bar = h('div', { class: 'progress-fill' });
    this.text = h('span', { class: 'progress-text' }, 'idle');
    this.cancelButton = h('button', { class: 'secondary', disabled: true }, 'Cancel');
    this.cancelButton.addEventListener('click', () => {
      if (this.jobId === undefined) return;
      this.cancelButton.disabled = true;
      this.text.textContent = 'cancelling…';
      cancelJob(this.jobId).catch((e: unknown) => showMessage(errorText(e)));
    });
    this.element = h('div', { class: 'progress' }, h('div', { class: 'progress-track' }, this.bar), this.text, this.cancelButton);
  }

  start(jobId: string, text = 'starting…'): void {
    this.jobId = jobId;
    this.cancelButton.disabled = false;
    this.bar.style.width = '0%';
    this.bar.classList.remove('done', 'failed');
    this.text.textContent = text;
  }

  update(progress: ProgressEvent): void {
    const fraction = progress.total > 0 ? Math.min(1, progress.done / progress.total) : 0;
    this.bar.style.width = `${(fraction * 100).toFixed(1)}%`;
    this.text.textContent = progress.message || `${progress.done} / ${progress.total}`;
  }

  end(state: string, error?: string): void {
    this.cancelButton.disabled = true;
    this.jobId = undefined;
    if (state === 'done') {
      this.bar.style.width = '100%';
      this.bar.classList.add('done');
    } else this.bar.classList.add('failed');
    if (state !== 'done') this.text.textContent = state === 'cancelled' ? 'cancelled' : `failed: ${error ?? ''}`;
  }
}
