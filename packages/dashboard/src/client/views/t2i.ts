import type { DiffusionFrame, JobCreated, T2iModelInfo } from '../../shared/protocol.ts';
import { T2I_SCHEDULERS } from '../../shared/protocol.ts';
import { api, apiBytes, base64ToBytes, followJob, saveBlob } from '../api.ts';
import { field, h, keyValueTable, numberInput, panel, select } from '../dom.ts';
import { errorText, ProgressView, showMessage } from '../messages.ts';

/**
 * The text-to-image view: pick a Stable Diffusion model (the shipped one first, then the diffusers
 * folders and .safetensors files of the server's models folder), write a prompt, watch the image
 * form (the scheduler's x̂_0 decoded every few steps), cancel, download the PNG.
 */
export function createT2iView(): HTMLElement {
  const view = h('div', { class: 'layout' });
  const messages = h('div', { class: 'view-messages' });
  const fail = (e: unknown): void => {
    showMessage(errorText(e), 'error', messages);
  };

  const modelSelect = h('select', { name: 'model', id: 't2i-model', 'data-testid': 't2i-model' });
  const refreshButton = h('button', { type: 'button', class: 'link' }, 'refresh');
  const modelInfo = h('div', { class: 'muted' });
  const modelFolder = h('div', { class: 'field-hint' });
  const prompt = h('textarea', { name: 'prompt', id: 't2i-prompt', rows: 3, 'data-testid': 't2i-prompt' });
  const negative = h('input', { type: 'text', name: 'negativePrompt', id: 't2i-negative' });
  const examples = h('div', { class: 'examples', 'data-testid': 't2i-examples' });
  const steps = numberInput('steps', 25, { min: 1, max: 1000, step: 1 });
  const guidance = numberInput('guidance', 7.5, { min: 0, max: 50, step: 0.5 });
  const scheduler = select('scheduler', T2I_SCHEDULERS.map((s) => [s, s === 'default' ? "the model's own" : s] as [string, string]), 'default');
  const seed = numberInput('seed', 0, { min: 0, step: 1 });
  const width = numberInput('width', 512, { min: 8, max: 2048, step: 8 });
  const height = numberInput('height', 512, { min: 8, max: 2048, step: 8 });
  const count = numberInput('count', 1, { min: 1, max: 16, step: 1 });
  const previewEvery = numberInput('previewEvery', 2, { min: 1, step: 1 });
  const generateButton = h('button', { type: 'submit', class: 'primary', 'data-testid': 't2i-generate' }, 'Generate');
  // Enter in the prompt generates, as in the one-line fields (a textarea only wraps the long
  // prompt; CLIP reads one line); Shift+Enter still breaks the line. Clicking the button, not
  // submitting the form, so Enter does nothing while the button is disabled (a job runs).
  prompt.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.shiftKey || e.ctrlKey || e.altKey || e.metaKey || e.isComposing) return;
    e.preventDefault();
    generateButton.click();
  });
  const progress = new ProgressView();

  const controls = h(
    'form',
    {
      class: 'controls',
      onsubmit: (e: Event) => {
        e.preventDefault();
        generate();
      },
    },
    h('h2', {}, 'Model'),
    field('Model', h('div', { class: 'row' }, modelSelect, refreshButton)),
    modelFolder,
    modelInfo,
    h('h2', {}, 'Prompt'),
    field('Prompt', prompt, 'what the picture should show (Enter generates; Shift+Enter breaks the line)'),
    examples,
    field('Negative prompt', negative, 'what it should not show (empty: unconditional)'),
    h('div', { class: 'buttons' }, generateButton),
    progress.element,
    h('h2', {}, 'Settings'),
    h('div', { class: 'grid2' }, field('Steps', steps), field('Guidance', guidance, 'classifier-free scale w'), field('Scheduler', scheduler), field('Seed', seed), field('Width', width, 'multiple of 8'), field('Height', height, 'multiple of 8'), field('Images', count), field('Preview every', previewEvery, 'steps')),
  );

  const canvas = h('canvas', { class: 'frame', 'data-testid': 't2i-canvas', role: 'img', 'aria-label': 'generated image (none yet)' });
  const caption = h('div', { class: 'caption', 'data-testid': 't2i-caption' }, 'The image appears here while it forms: the estimate of the final picture, decoded every few steps.');
  const downloadButton = h('button', { type: 'button', class: 'secondary', disabled: true, 'data-testid': 't2i-download' }, 'Download PNG');
  const resultInfo = h('div', {});
  view.append(controls, h('div', { class: 'content' }, messages, panel('Image', canvas, caption, h('div', { class: 'buttons' }, downloadButton), resultInfo)));

  let models: T2iModelInfo[] = [];
  const applyModel = (): void => {
    const m = models.find((x) => x.path === modelSelect.value);
    modelInfo.textContent = m ? `${m.shipped ? 'Shipped with @flashdiff/diffusion. ' : ''}${m.description}` : '';
    examples.replaceChildren();
    if (!m) return;
    steps.value = String(m.defaults.steps);
    guidance.value = String(m.defaults.guidance);
    scheduler.value = m.defaults.scheduler;
    if (m.defaultSize !== null) {
      width.value = String(m.defaultSize);
      height.value = String(m.defaultSize);
    }
    if (m.examplePrompts.length > 0) {
      examples.append(h('span', { class: 'muted' }, 'Examples: '));
      for (const text of m.examplePrompts) {
        examples.append(h('button', { type: 'button', class: 'link', onclick: () => void (prompt.value = text) }, text));
      }
      if (prompt.value === '') prompt.value = m.examplePrompts[0]!;
    }
  };
  const loadModels = async (): Promise<void> => {
    const listing = await api<{ directory: string; models: T2iModelInfo[] }>('GET', 'api/t2i/models');
    models = listing.models;
    modelFolder.textContent = `${models.some((m) => m.shipped) ? 'the shipped model, and models ' : 'models '}from ${listing.directory}`;
    modelSelect.replaceChildren(...(models.length ? models.map((m) => h('option', { value: m.path }, m.name)) : [h('option', { value: '' }, '(none: put a diffusers folder or an SD-1.x .safetensors file there)')]));
    applyModel();
  };
  modelSelect.addEventListener('change', applyModel);
  refreshButton.addEventListener('click', () => void loadModels().catch(fail));
  loadModels().catch(fail);

  const draw = (frame: DiffusionFrame, final: boolean): void => {
    const pixels = base64ToBytes(frame.pixels);
    const image = new ImageData(frame.width, frame.height);
    for (let i = 0; i < frame.width * frame.height; i++) image.data.set([pixels[i * 3]!, pixels[i * 3 + 1]!, pixels[i * 3 + 2]!, 255], i * 4);
    canvas.width = frame.width;
    canvas.height = frame.height;
    const scale = Math.max(1, Math.floor(512 / Math.max(frame.width, frame.height)));
    canvas.style.width = `${frame.width * scale}px`;
    canvas.style.height = `${frame.height * scale}px`;
    canvas.style.imageRendering = scale > 1 ? 'pixelated' : 'auto';
    canvas.getContext('2d')!.putImageData(image, 0, 0);
    const text = final ? `the final image for “${prompt.value}”` : `estimate of the final image after step ${frame.step} of ${frame.totalSteps}`;
    caption.textContent = text;
    canvas.setAttribute('aria-label', text);
  };

  let jobId: string | undefined;
  const generate = (): void => {
    const run = async (): Promise<void> => {
      if (!modelSelect.value) throw new Error('pick a model first');
      if (prompt.value.trim() === '') throw new Error('write a prompt first');
      const request = {
        model: modelSelect.value,
        prompt: prompt.value,
        negativePrompt: negative.value,
        steps: Number(steps.value),
        guidance: Number(guidance.value),
        scheduler: scheduler.value,
        seed: Number(seed.value),
        width: Number(width.value),
        height: Number(height.value),
        count: Number(count.value),
        previewEvery: Number(previewEvery.value),
      };
      const job = await api<JobCreated>('POST', 'api/t2i/generate', request);
      jobId = job.id;
      generateButton.disabled = true;
      downloadButton.disabled = true;
      resultInfo.replaceChildren();
      progress.start(job.id, 'loading the model…');
      let last: DiffusionFrame | undefined;
      followJob(job.id, {
        onProgress: (p) => progress.update(p),
        onFrame: (f) => {
          last = f as DiffusionFrame;
          draw(last, false);
        },
        onResult: (r) => {
          if (last) draw(last, true);
          resultInfo.replaceChildren(keyValueTable(Object.entries(r as Record<string, string | number>).filter(([, v]) => typeof v !== 'object')));
        },
        onEnd: (state, error) => {
          progress.end(state, error);
          generateButton.disabled = false;
          downloadButton.disabled = state !== 'done';
          if (state === 'failed') fail(new Error(`generation failed: ${error ?? 'unknown error'}`));
        },
      });
    };
    run().catch(fail);
  };
  downloadButton.addEventListener('click', () => {
    if (jobId === undefined) return;
    apiBytes(`api/jobs/${jobId}/files/image.png`).then((blob) => saveBlob(blob, 'image.png'), fail);
  });
  return view;
}
