import type { CheckpointInfo, DiffusionFrame, DiffusionTrainFrame, JobCreated } from '../../shared/protocol.ts';
import { api, apiBytes, base64ToBytes, followJob, saveBlob } from '../api.ts';
import { field, h, keyValueTable, numberInput, panel, select } from '../dom.ts';
import { errorText, ProgressView, showMessage } from '../messages.ts';
import { lossCurveChart } from '../charts.ts';
import { Chart } from '../widgets/chart.ts';

/** The diffusion view: pick or train a checkpoint, sample with DDPM/DDIM, watch the denoising. */
export function createDiffusionView(): HTMLElement {
  const view = h('div', { class: 'layout' });
  const messages = h('div', { class: 'view-messages' });
  const fail = (e: unknown): void => {
    showMessage(errorText(e), 'error', messages);
  };

  // --- checkpoint
  const checkpointSelect = h('select', { name: 'checkpoint', 'data-testid': 'diffusion-checkpoint' });
  const refreshButton = h('button', { type: 'button', class: 'link', 'aria-label': 'refresh the checkpoint list' }, 'refresh');
  const checkpointInfo = h('div', { class: 'muted' });
  const checkpointFolder = h('div', { class: 'field-hint' });

  // --- training
  const trainName = h('input', { type: 'text', value: 'mnist-small', name: 'trainName' });
  const trainEpochs = numberInput('epochs', 1, { min: 1, step: 1 });
  const trainImages = numberInput('trainImages', 2000, { min: 10, step: 10 });
  const trainBatch = numberInput('batch', 32, { min: 1, step: 1 });
  const trainLr = numberInput('lr', 0.001, { min: 0, step: 'any' });
  const trainTimesteps = numberInput('timesteps', 500, { min: 10, step: 1 });
  const trainFeatures = numberInput('nFeat', 32, { min: 4, step: 4 });
  const trainProgress = new ProgressView();
  const trainBackground = h('input', { type: 'checkbox', name: 'background' });
  // The training settings sit inside the sampling form (a disclosure at its end) but belong to a
  // form of their own through the form attribute (forms cannot nest): Enter in a training field
  // clicks Train, Enter in a sampling field clicks Sample (HTML implicit submission).
  const trainFormId = 'diffusion-train-form';
  const trainForm = h('form', { id: trainFormId, hidden: true, 'aria-label': 'diffusion training settings', onsubmit: (e: Event) => e.preventDefault() });
  const trainButton = h('button', { type: 'submit', form: trainFormId, class: 'secondary', 'data-testid': 'diffusion-train' }, 'Train on MNIST');
  for (const input of [trainName, trainEpochs, trainImages, trainBatch, trainLr, trainTimesteps, trainFeatures, trainBackground]) input.setAttribute('form', trainFormId);

  // --- sampling
  const sampler = select('sampler', [['ddim', 'DDIM'], ['ddpm', 'DDPM (all steps)']], 'ddim');
  const steps = numberInput('steps', 25, { min: 1, step: 1 });
  const eta = numberInput('eta', 0, { min: 0, max: 1, step: 0.1 });
  const classMode = select('classMode', [['class', 'one class'], ['mix', 'a mix of classes'], ['none', 'none (unconditional)']], 'class');
  const classLabel = numberInput('class', 3, { min: 0, step: 1 });
  const mix = h('input', { type: 'text', name: 'mix', value: '3:1,7:0.6', title: 'class:weight pairs, e.g. 3:1,7:0.6' });
  const guidance = numberInput('guidance', 2, { min: 0, step: 0.5 });
  const count = numberInput('count', 16, { min: 1, max: 64, step: 1 });
  const seed = numberInput('seed', 1, { step: 1 });
  const frameEvery = numberInput('frameEvery', 1, { min: 1, step: 1 });
  // The form's submit button: Enter in a sampling field samples (implicit submission clicks it).
  const sampleButton = h('button', { type: 'submit', class: 'primary', 'data-testid': 'diffusion-sample' }, 'Sample');
  const sampleProgress = new ProgressView();
  const classField = field('Class', classLabel);
  const mixField = field('Mix', mix, 'class:weight, e.g. 3:1,7:0.6');
  const syncClassMode = (): void => {
    classField.hidden = classMode.value !== 'class';
    mixField.hidden = classMode.value !== 'mix';
  };
  classMode.addEventListener('change', syncClassMode);
  syncClassMode();
  // DDPM runs all T steps and has no η: its fields are disabled, not silently ignored.
  const syncSampler = (): void => {
    eta.disabled = sampler.value === 'ddpm';
    steps.disabled = sampler.value === 'ddpm';
  };
  sampler.addEventListener('change', syncSampler);
  syncSampler();
  let guidanceTouched = false;
  guidance.addEventListener('input', () => (guidanceTouched = true));

  // Each job's progress and Cancel sit at the top, in sight while the settings scroll (style.css .actions).
  const trainStatus = h('div', { class: 'action-job', hidden: true }, h('span', { class: 'action-label' }, 'Training'), trainProgress.element);
  const controls = h(
    'form',
    { class: 'controls', 'aria-label': 'diffusion settings', onsubmit: (e: Event) => e.preventDefault() },
    h(
      'div',
      { class: 'actions', 'data-testid': 'diffusion-actions' },
      h('div', { class: 'buttons' }, sampleButton),
      h('div', { class: 'action-job' }, h('span', { class: 'action-label' }, 'Sampling'), sampleProgress.element),
      trainStatus,
    ),
    h('h2', {}, 'Checkpoint'),
    field('Checkpoint', h('div', { class: 'row' }, checkpointSelect, refreshButton)),
    checkpointFolder,
    checkpointInfo,
    h('h2', {}, 'Sampling'),
    h('div', { class: 'grid2' }, field('Sampler', sampler), field('Steps', steps), field('η (DDIM)', eta, '0 = deterministic'), field('Guidance', guidance, 'classifier-free scale w')),
    field('Context', classMode),
    classField,
    mixField,
    h('div', { class: 'grid2' }, field('Images', count), field('Seed', seed)),
    field('Send a frame every', frameEvery, 'denoising steps'),
    h('details', { class: 'train' },
      h('summary', {}, 'Train a small model on MNIST'),
      field('Name', trainName),
      h('div', { class: 'grid2' }, field('Epochs', trainEpochs), field('Images', trainImages), field('Batch', trainBatch), field('Learning rate', trainLr), field('Timesteps T', trainTimesteps), field('Features', trainFeatures)),
      field('Keep training when this page is closed', trainBackground, 'a background job: otherwise closing or reloading the page cancels it'),
      h('div', { class: 'buttons' }, trainButton),
    ),
  );

  const frameCanvas = h('canvas', { class: 'frame', 'data-testid': 'diffusion-frame', role: 'img', 'aria-label': 'denoising frame (none yet)' });
  const frameCaption = h('div', { class: 'caption' }, 'Frames appear here as the sampler denoises (noise → image).');
  const downloadButton = h('button', { type: 'button', class: 'secondary', disabled: true, 'data-testid': 'diffusion-download' }, 'Download grid PNG');
  const strip = h('div', { class: 'strip', 'data-testid': 'diffusion-strip' });
  const resultInfo = h('div', {});
  const trainLog = h('pre', { class: 'log' }, 'No training run yet. Open "Train a small model on MNIST" on the left.');
  const lossChart = new Chart('chart-training-loss', 'training loss per step', 'The loss of each training step is drawn here while a model trains.');
  view.append(
    controls,
    trainForm,
    h(
      'div',
      { class: 'content' },
      messages,
      panel('Denoising', frameCanvas, frameCaption, h('div', { class: 'buttons' }, downloadButton), resultInfo),
      panel('Progression', h('p', { class: 'muted' }, 'The samples x_t at a few steps of the run, from the noisiest (left) to the final images (right).'), strip),
      panel('Training', lossChart.element, trainLog),
    ),
  );

  let checkpoints: CheckpointInfo[] = [];
  const describeCheckpoint = (): void => {
    const c = checkpoints.find((x) => x.path === checkpointSelect.value);
    checkpointInfo.textContent = c ? `${c.model}, ${c.imageSize}×${c.imageSize}×${c.channels}, ${c.classes} classes. ${c.shipped ? 'The trained model shipped with @flashdiff/diffusion: ' : ''}${c.description}` : '';
    if (c) {
      // A class the chosen model does not have would only fail at sampling: keep it in range.
      classLabel.max = String(Math.max(0, c.classes - 1));
      if (Number(classLabel.value) > c.classes - 1) classLabel.value = classLabel.max;
    }
    // Each model's own default guidance (the shipped model's evaluated 1.4) until the user sets one.
    if (c && !guidanceTouched) guidance.value = String(c.guidance);
  };
  const loadCheckpoints = async (select?: string): Promise<void> => {
    const listing = await api<{ directory: string; checkpoints: CheckpointInfo[] }>('GET', 'api/diffusion/checkpoints');
    checkpoints = listing.checkpoints;
    checkpointFolder.textContent = `${checkpoints.some((c) => c.shipped) ? 'the shipped model, and checkpoints ' : ''}from ${listing.directory}`;
    checkpointSelect.replaceChildren(
      ...(checkpoints.length ? checkpoints.map((c) => h('option', { value: c.path }, c.name)) : [h('option', { value: '' }, '(none yet — train one below)')]),
    );
    if (select !== undefined) checkpointSelect.value = select;
    describeCheckpoint();
  };
  checkpointSelect.addEventListener('change', describeCheckpoint);
  refreshButton.addEventListener('click', () => {
    loadCheckpoints().catch(fail);
  });
  loadCheckpoints().catch(fail);

  const drawFrame = (frame: DiffusionFrame): void => {
    const pixels = base64ToBytes(frame.pixels);
    const scale = Math.max(1, Math.floor(Math.min(512 / frame.width, 512 / frame.height)));
    const image = new ImageData(frame.width, frame.height);
    for (let i = 0, n = frame.width * frame.height; i < n; i++) {
      const r = frame.channels === 1 ? pixels[i]! : pixels[i * 3]!;
      const g = frame.channels === 1 ? r : pixels[i * 3 + 1]!;
      const b = frame.channels === 1 ? r : pixels[i * 3 + 2]!;
      image.data.set([r, g, b, 255], i * 4);
    }
    frameCanvas.width = frame.width;
    frameCanvas.height = frame.height;
    frameCanvas.style.width = `${frame.width * scale}px`;
    frameCanvas.style.height = `${frame.height * scale}px`;
    frameCanvas.getContext('2d')!.putImageData(image, 0, 0);
    frameCaption.textContent = `x after step ${frame.step} of ${frame.totalSteps} (the step from t = ${frame.timestep})${frame.step === frame.totalSteps ? ': the samples' : ''}`;
    frameCanvas.setAttribute('aria-label', `sampled images, ${frameCaption.textContent}`);
    // Keep up to 8 thumbnails for the progression strip.
    const thumbs = strip.children.length;
    const every = Math.max(1, Math.ceil(frame.totalSteps / 8));
    if (frame.step === frame.totalSteps || frame.step % every === 0 || thumbs === 0) {
      const thumb = document.createElement('canvas');
      thumb.width = frame.width;
      thumb.height = frame.height;
      thumb.getContext('2d')!.putImageData(image, 0, 0);
      thumb.title = `step ${frame.step}, t = ${frame.timestep}`;
      thumb.setAttribute('role', 'img');
      thumb.setAttribute('aria-label', `the samples after step ${frame.step} (t = ${frame.timestep})`);
      strip.append(h('figure', {}, thumb, h('figcaption', {}, `t=${frame.timestep}`)));
    }
  };

  let sampleJob: string | undefined;
  sampleButton.addEventListener('click', () => {
    const run = async (): Promise<void> => {
      if (!checkpointSelect.value) throw new Error('pick a checkpoint first (or train one below)');
      const mixWeights: Record<string, number> = {};
      if (classMode.value === 'mix') {
        for (const part of mix.value.split(',')) {
          const m = /^\s*(\d+)\s*:\s*(\d*\.?\d+)\s*$/.exec(part);
          if (!m) throw new Error(`Mix: '${part}' is not class:weight`);
          mixWeights[m[1]!] = Number(m[2]);
        }
      }
      const request = {
        checkpoint: checkpointSelect.value,
        sampler: sampler.value,
        ...(sampler.value === 'ddim' ? { steps: Number(steps.value) } : {}),
        eta: Number(eta.value),
        classLabel: classMode.value === 'class' ? Number(classLabel.value) : null,
        ...(classMode.value === 'mix' ? { mix: mixWeights } : {}),
        guidance: Number(guidance.value),
        count: Number(count.value),
        seed: Number(seed.value),
        frameEvery: Number(frameEvery.value),
      };
      const job = await api<JobCreated>('POST', 'api/diffusion/sample', request);
      sampleJob = job.id;
      strip.replaceChildren();
      resultInfo.replaceChildren();
      downloadButton.disabled = true;
      sampleButton.disabled = true;
      sampleProgress.start(job.id);
      followJob(job.id, {
        onProgress: (p) => sampleProgress.update(p),
        onFrame: (f) => drawFrame(f as DiffusionFrame),
        onResult: (r) => {
          const result = r as Record<string, number | string>;
          resultInfo.replaceChildren(keyValueTable(Object.entries(result).filter(([, v]) => typeof v !== 'object') as [string, string | number][]));
        },
        onEnd: (state, error) => {
          sampleProgress.end(state, error);
          sampleButton.disabled = false;
          downloadButton.disabled = state !== 'done';
          if (state === 'failed') fail(new Error(`sampling failed: ${error ?? 'unknown error'}`));
        },
      });
    };
    run().catch(fail);
  });
  downloadButton.addEventListener('click', () => {
    if (sampleJob === undefined) return;
    apiBytes(`api/jobs/${sampleJob}/files/grid.png`).then((blob) => saveBlob(blob, 'grid.png'), fail);
  });

  trainButton.addEventListener('click', () => {
    const run = async (): Promise<void> => {
      const request = {
        name: trainName.value.trim(),
        epochs: Number(trainEpochs.value),
        trainImages: Number(trainImages.value),
        batchSize: Number(trainBatch.value),
        learningRate: Number(trainLr.value),
        timesteps: Number(trainTimesteps.value),
        nFeat: Number(trainFeatures.value),
        seed: Number(seed.value),
      };
      const job = await api<JobCreated>('POST', 'api/diffusion/train', request, undefined, { background: trainBackground.checked });
      trainButton.disabled = true;
      trainStatus.hidden = false;
      trainProgress.start(job.id);
      trainLog.textContent = '';
      lossChart.reset();
      followJob(job.id, {
        onProgress: (p) => trainProgress.update(p),
        onFrame: (f) => {
          const frame = f as DiffusionTrainFrame;
          const data = lossCurveChart(frame.steps, frame.losses, frame.totalSteps);
          if (data) lossChart.update(data);
        },
        onLog: (m) => {
          trainLog.textContent += `${m}\n`;
        },
        onResult: (r) => {
          const result = r as { checkpoint?: string };
          if (result.checkpoint) loadCheckpoints(result.checkpoint).catch(fail);
        },
        onEnd: (state, error) => {
          trainProgress.end(state, error);
          trainButton.disabled = false;
          if (state === 'failed') fail(new Error(`training failed: ${error ?? 'unknown error'}`));
        },
      });
    };
    run().catch(fail);
  });
  return view;
}
