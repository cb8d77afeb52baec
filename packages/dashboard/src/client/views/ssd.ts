import type { JobCreated, SsdFrame, SsdOptionsInfo, SsdPresetInfo } from '../../shared/protocol.ts';
import { api, base64ToUint32, followJob } from '../api.ts';
import { checkbox, field, formatNumber, h, keyValueTable, numberInput, panel, select } from '../dom.ts';
import { errorText, ProgressView, showMessage } from '../messages.ts';
import { BlockMap } from '../widgets/block-map.ts';
import { eraseHistogramChart, freeBlocksChart, intervalWafChart, latencyCdfChart } from '../charts.ts';
import { Chart } from '../widgets/chart.ts';
import { Heatmap } from '../widgets/heatmap.ts';

/** The SSD simulator view: configure, run live or step, and watch the FTL. */
export function createSsdView(): HTMLElement {
  const view = h('div', { class: 'layout' });
  const messages = h('div', { class: 'view-messages' });
  // Enter in a field clicks the submit button (Run), whose click handler starts the run.
  const form = h('form', { class: 'controls', 'aria-label': 'SSD run settings', onsubmit: (e: Event) => e.preventDefault() });
  const presetSelect = select('preset', []);
  const presetHint = h('span', { class: 'field-hint' });
  const geometryInputs = {
    channels: numberInput('channels', 4, { min: 1, step: 1 }),
    diesPerChannel: numberInput('diesPerChannel', 1, { min: 1, step: 1 }),
    blocksPerDie: numberInput('blocksPerDie', 6, { min: 2, step: 1 }),
    pagesPerBlock: numberInput('pagesPerBlock', 9, { min: 2, step: 1 }),
  };
  const overProvisioning = numberInput('overProvisioning', 0.2, { min: 0.01, max: 10, step: 0.01 });
  const gcPolicy = select('gcPolicy', []);
  const gcUnit = select('gcUnit', []);
  const dynamicWl = checkbox('dynamicWearLeveling', true, 'dynamic (youngest free block)');
  const staticWl = checkbox('staticWearLeveling', false, 'static (move cold data)');
  const workload = select('workload', []);
  const writes = h('input', { type: 'text', name: 'writes', value: '2x', title: 'host page writes: N, or Nx = N × user capacity' });
  const precondition = checkbox('precondition', true, 'fill the drive once first');
  const seed = numberInput('seed', 1, { step: 1 });
  const speed = select('speed', [
    ['0', 'as fast as it goes'],
    ['20', '20 writes / s'],
    ['100', '100 writes / s'],
    ['1000', '1,000 writes / s'],
    ['10000', '10,000 writes / s'],
  ], '0');
  const traceInput = h('input', { type: 'file', name: 'trace', accept: '.trace,.ascii,.txt,*/*' });
  const traceClear = h('button', { type: 'button', class: 'link', 'aria-label': 'clear the trace file' }, 'clear');
  traceClear.addEventListener('click', () => {
    traceInput.value = '';
  });

  // The form's submit button: Enter in a field runs (implicit submission clicks it).
  const runButton = h('button', { type: 'submit', class: 'primary', 'data-testid': 'ssd-run' }, 'Run');
  const stepStartButton = h('button', { type: 'button', class: 'secondary', 'data-testid': 'ssd-step-start' }, 'Start stepping');
  const stepButton = h('button', { type: 'button', class: 'secondary', disabled: true, 'data-testid': 'ssd-step' }, 'Step 1 write');
  const step10Button = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Step 10');
  const pauseButton = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Pause');
  const progress = new ProgressView();

  form.append(
    // Run, the step controls and the running job's progress and Cancel first, kept in sight
    // while the settings below scroll (style.css .actions).
    h(
      'div',
      { class: 'actions', 'data-testid': 'ssd-actions' },
      h('div', { class: 'buttons' }, runButton, stepStartButton),
      h('div', { class: 'buttons' }, stepButton, step10Button, pauseButton),
      progress.element,
    ),
    h('h2', {}, 'Drive'),
    field('Preset', presetSelect),
    presetHint,
    h('div', { class: 'grid2' }, field('Channels', geometryInputs.channels), field('Dies / channel', geometryInputs.diesPerChannel), field('Blocks / die', geometryInputs.blocksPerDie), field('Pages / block', geometryInputs.pagesPerBlock)),
    field('Over-provisioning', overProvisioning, 'OP = (physical − user) / user, e.g. 0.2 = 20 %'),
    h('h2', {}, 'FTL'),
    h('div', { class: 'grid2' }, field('GC victim policy', gcPolicy), field('GC unit', gcUnit)),
    h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Wear leveling'), dynamicWl.element, staticWl.element),
    h('h2', {}, 'Workload'),
    h('div', { class: 'grid2' }, field('Pattern', workload), field('Host writes', writes, 'pages, or Nx × user capacity')),
    precondition.element,
    h('div', { class: 'grid2' }, field('Seed', seed), field('Run speed', speed)),
    field('…or replay a DiskSim trace', h('div', { class: 'row' }, traceInput, traceClear), 'ASCII: time device lba sectors read-flag'),
  );

  const blockMap = new BlockMap();
  const heatmap = new Heatmap('erases', 'erase count of each block');
  // The charts `ssdsim plot` writes, from the same specs (@flashdiff/ssd/plot/specs), live.
  const waitingText = 'Drawn as the run goes.';
  const wafChart = new Chart('chart-interval-waf', 'interval and cumulative WAF over the measured host page writes', waitingText);
  const freeChart = new Chart('chart-free-blocks', 'free blocks over the measured host page writes', waitingText);
  const eraseChart = new Chart('chart-erase-histogram', 'erase-count histogram of the good blocks', waitingText);
  const latencyChart = new Chart('chart-latency-cdf', 'read and write latency CDFs', 'Drawn once host operations complete.');
  const charts = [wafChart, freeChart, eraseChart, latencyChart];
  const status = h('div', { class: 'status-line', 'data-testid': 'ssd-status' }, 'Choose a drive and a workload, then Run — or Start stepping to follow the mini SSD one host write at a time.');
  const report = h('div', { class: 'report', 'data-testid': 'ssd-report' }, h('p', { class: 'muted' }, 'The final report appears here when a run ends.'));

  const content = h(
    'div',
    { class: 'content' },
    messages,
    panel('Block map', status, blockMap.element),
    h('div', { class: 'two-up' }, panel('WAF over time', wafChart.element), panel('Free blocks over time', freeChart.element)),
    h('div', { class: 'two-up' }, panel('Erase counts per block', heatmap.element), panel('Erase-count histogram', eraseChart.element)),
    panel('Latency CDFs', latencyChart.element),
    panel('Report', report),
  );
  view.append(form, content);

  let presets: readonly SsdPresetInfo[] = [];
  const applyPreset = (): void => {
    const preset = presets.find((p) => p.name === presetSelect.value);
    if (!preset) return;
    presetHint.textContent = preset.description;
    geometryInputs.channels.value = String(preset.geometry.channels);
    geometryInputs.diesPerChannel.value = String(preset.geometry.diesPerChannel);
    geometryInputs.blocksPerDie.value = String(preset.geometry.blocksPerDie);
    geometryInputs.pagesPerBlock.value = String(preset.geometry.pagesPerBlock);
    if (preset.name === 'seed-mini') {
      // The seed: 20 user blocks + 4 OP blocks of 24 → OP = 4 / 20 = 0.2; sequential writes.
      overProvisioning.value = '0.2';
      workload.value = workload.querySelector('option[value="seq"]') ? 'seq' : workload.value;
      gcUnit.value = gcUnit.querySelector('option[value="superblock"]') ? 'superblock' : gcUnit.value;
      writes.value = '3x';
      precondition.input.checked = false;
      speed.value = '100';
    } else {
      // Larger drives: the steady state after a fill, under random writes.
      workload.value = workload.querySelector('option[value="uniform"]') ? 'uniform' : workload.value;
      gcUnit.value = gcUnit.querySelector('option[value="block"]') ? 'block' : gcUnit.value;
      writes.value = '2x';
      precondition.input.checked = true;
      speed.value = '0';
    }
  };
  presetSelect.addEventListener('change', applyPreset);

  api<SsdOptionsInfo>('GET', 'api/ssd/options').then(
    (options) => {
      presets = options.presets;
      presetSelect.replaceChildren(...options.presets.map((p) => h('option', { value: p.name, title: p.description }, p.name)));
      gcPolicy.replaceChildren(...options.gcPolicies.map((p) => h('option', { value: p }, p)));
      gcUnit.replaceChildren(...options.gcUnits.map((u) => h('option', { value: u }, u)));
      workload.replaceChildren(...options.workloads.map((w) => h('option', { value: w }, w)));
      applyPreset();
    },
    (e: unknown) => showMessage(`SSD options: ${errorText(e)}`, 'error', messages),
  );

  let jobId: string | undefined;
  let stopFollowing: (() => void) | undefined;
  let paused = false;
  const setRunning = (running: boolean, stepped: boolean): void => {
    runButton.disabled = running;
    stepStartButton.disabled = running;
    stepButton.disabled = !(running && stepped);
    step10Button.disabled = !(running && stepped);
    pauseButton.disabled = !(running && !stepped);
    pauseButton.textContent = 'Pause';
    paused = false;
  };

  const parseWrites = (): { writes: number; multiple: boolean } => {
    const text = writes.value.trim().toLowerCase();
    const m = /^(\d+(?:\.\d+)?)(x?)$/.exec(text);
    if (!m) throw new Error(`Host writes: '${writes.value}' is not a number of pages or a multiple like 2x`);
    return { writes: Number(m[1]), multiple: m[2] === 'x' };
  };

  const start = async (stepped: boolean): Promise<void> => {
    let traceUpload: string | undefined;
    const file = traceInput.files?.[0];
    if (file) {
      const uploaded = await api<{ id: string }>('POST', 'api/uploads', file, { name: file.name });
      traceUpload = uploaded.id;
    }
    const parsed = parseWrites();
    const request = {
      preset: presetSelect.value,
      geometry: {
        channels: Number(geometryInputs.channels.value),
        diesPerChannel: Number(geometryInputs.diesPerChannel.value),
        blocksPerDie: Number(geometryInputs.blocksPerDie.value),
        pagesPerBlock: Number(geometryInputs.pagesPerBlock.value),
      },
      overProvisioning: Number(overProvisioning.value),
      gcPolicy: gcPolicy.value,
      gcUnit: gcUnit.value,
      dynamicWearLeveling: dynamicWl.input.checked,
      staticWearLeveling: staticWl.input.checked,
      workload: workload.value,
      writes: parsed.writes,
      writesAreMultiple: parsed.multiple,
      precondition: precondition.input.checked,
      seed: Number(seed.value),
      stepped,
      writesPerSecond: Number(speed.value),
      ...(traceUpload !== undefined ? { traceUpload } : {}),
    };
    const job = await api<JobCreated>('POST', 'api/ssd/runs', request);
    stopFollowing?.();
    jobId = job.id;
    let gotReport = false;
    for (const chart of charts) chart.reset();
    report.replaceChildren(h('p', { class: 'muted' }, stepped ? 'Stepping: press "Step 1 write".' : 'Running…'));
    setRunning(true, stepped);
    progress.start(job.id, stepped ? 'stepping' : 'starting…');
    stopFollowing = followJob(job.id, {
      onProgress: (p) => progress.update(p),
      onFrame: (f) => {
        const frame = f as SsdFrame;
        blockMap.draw(frame);
        heatmap.draw(base64ToUint32(frame.eraseCounts), frame.dies, frame.blocksPerDie);
        const draw = (chart: Chart, data: ReturnType<typeof intervalWafChart>): void => {
          if (data) chart.update(data);
        };
        draw(wafChart, intervalWafChart(frame.series));
        draw(freeChart, freeBlocksChart(frame.series));
        draw(eraseChart, eraseHistogramChart(frame.eraseHistogram));
        draw(latencyChart, latencyCdfChart(frame.readLatency, frame.writeLatency));
        status.textContent =
          `host writes ${formatNumber(frame.hostPageWrites)} · NAND writes ${formatNumber(frame.nandPageWrites)} · ` +
          `WAF ${frame.waf.toFixed(3)} · free blocks ${frame.freeBlocks} · GC runs ${formatNumber(frame.gcRuns)} ` +
          `(${formatNumber(frame.gcMovedPages)} pages moved)` +
          (frame.lastEvent ? ` — ${frame.lastEvent}` : '');
      },
      onResult: (r) => {
        gotReport = true;
        report.replaceChildren(renderReport(r as Record<string, unknown>));
      },
      onLog: (m) => showMessage(m, 'info', messages),
      onEnd: (state, error) => {
        progress.end(state, error);
        setRunning(false, false);
        // The Report panel never keeps saying "Running…" once the run is over without a report.
        if (!gotReport) report.replaceChildren(h('p', { class: 'muted' }, state === 'cancelled' ? 'Cancelled: no report.' : `No report: ${error ?? state}.`));
        if (state === 'failed') showMessage(`SSD run failed: ${error ?? 'unknown error'}`, 'error', messages);
      },
    });
  };

  const guard = (action: () => Promise<void>) => () => {
    action().catch((e: unknown) => showMessage(errorText(e), 'error', messages));
  };
  runButton.addEventListener('click', guard(() => start(false)));
  stepStartButton.addEventListener('click', guard(() => start(true)));
  const control = (body: unknown) => guard(async () => {
    if (jobId === undefined) return;
    await api('POST', `api/jobs/${jobId}/control`, body);
  });
  stepButton.addEventListener('click', control({ action: 'step', count: 1 }));
  step10Button.addEventListener('click', control({ action: 'step', count: 10 }));
  pauseButton.addEventListener('click', () => {
    paused = !paused;
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
    control({ action: paused ? 'pause' : 'resume' })();
  });
  return view;
}

/** The final report: headline figures as cards, then every number the simulator gave. */
function renderReport(result: Record<string, unknown>): HTMLElement {
  const get = (path: string): number | undefined => {
    let v: unknown = result;
    for (const key of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
    return typeof v === 'number' ? v : undefined;
  };
  const cards: [string, string, number | undefined, number][] = [
    ['write amplification', '', get('waf'), 3],
    ['host page writes', 'pages', get('hostPageWrites'), 0],
    ['NAND page writes', 'pages', get('nandPageWrites'), 0],
    ['GC runs', '', get('gcRuns'), 0],
    ['GC moved', 'pages', get('gcMovedPages'), 0],
    ['wear-leveling moved', 'pages', get('wearLevelingMovedPages'), 0],
    ['block erases', '', get('erases'), 0],
    ['erase count min / max', '', undefined, 0],
    ['erase count mean ± sd', '', undefined, 0],
    ['host write throughput', 'MB/s', get('throughput.hostWriteMBps'), 1],
    ['latency p50', 'µs', get('latencyUs.p50'), 0],
    ['latency p99', 'µs', get('latencyUs.p99'), 0],
    ['latency p99.9', 'µs', get('latencyUs.p999'), 0],
    ['simulated time', 's', get('throughput.simulatedSeconds'), 3],
  ];
  const text = (value: number | undefined, digits: number): string => (value === undefined ? '–' : formatNumber(Number(value.toFixed(digits)), digits));
  const headline = h('div', { class: 'headline' });
  for (const [label, unit, value, digits] of cards) {
    let shown = text(value, digits);
    if (label === 'erase count min / max') shown = `${text(get('erase.min'), 0)} / ${text(get('erase.max'), 0)}`;
    if (label === 'erase count mean ± sd') shown = `${text(get('erase.mean'), 2)} ± ${text(get('erase.stddev'), 2)}`;
    headline.append(h('div', { class: 'metric' }, h('div', { class: 'metric-label' }, label), h('div', { class: 'metric-value' }, shown, unit ? h('span', { class: 'metric-unit' }, unit) : null)));
  }
  const rows: [string, string | number][] = [];
  const flat = (prefix: string, value: unknown): void => {
    if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') rows.push([prefix, typeof value === 'boolean' ? String(value) : value]);
    else if (Array.isArray(value)) {
      if (value.length <= 32 && value.every((v) => typeof v === 'number')) rows.push([prefix, value.map((v) => formatNumber(v as number)).join(', ')]);
    } else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) flat(prefix ? `${prefix}.${k}` : k, v);
  };
  flat('', result);
  return h('div', {}, headline, h('details', { class: 'all-figures' }, h('summary', {}, `All ${rows.length} figures and the resolved configuration`), keyValueTable(rows)));
}
