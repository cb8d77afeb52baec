/**
 * The job list shown on every view: each job of this server with its kind, state, progress and
 * a Cancel button while it runs. It polls GET /api/jobs; when the server stops answering the
 * list says the server is lost (the jobs' states are then unknown, not "cancelled").
 */
import type { JobKind, JobSummary } from '../../shared/protocol.ts';
import { api, cancelJob } from '../api.ts';
import { h } from '../dom.ts';
import { errorText, showMessage } from '../messages.ts';

const POLL_MS = 1000;

const KIND_TITLES: Partial<Record<JobKind, string>> = {
  'ssd-run': 'SSD run',
  'diffusion-train': 'Diffusion training',
  'diffusion-sample': 'Diffusion sampling',
  't2i-generate': 'Text to image',
};

function kindTitle(kind: JobKind): string {
  return KIND_TITLES[kind] ?? kind;
}

function row(job: JobSummary, onCancel: (id: string) => void): HTMLTableRowElement {
  const progress = job.progress;
  const cell = progress && progress.total > 0
    ? h('td', {}, h('progress', { max: progress.total, value: progress.done, 'aria-label': `${kindTitle(job.kind)} progress` }), ` ${Math.round((100 * progress.done) / progress.total)} %`, progress.message ? h('span', { class: 'job-message' }, ` ${progress.message}`) : null)
    : h('td', {}, job.state === 'running' ? 'starting…' : '');
  const state = job.state === 'failed' && job.error ? `failed: ${job.error}` : job.state;
  return h(
    'tr',
    { 'data-job': job.id, 'data-state': job.state },
    h('td', {}, kindTitle(job.kind), job.background ? h('span', { class: 'job-background', title: 'keeps running when this page is closed' }, ' (background)') : null),
    h('td', { class: `job-state job-${job.state}` }, state),
    cell,
    h('td', {}, new Date(job.startedAt).toLocaleTimeString()),
    h('td', {}, job.state === 'running' ? h('button', { class: 'job-cancel', type: 'button', 'aria-label': `Cancel ${kindTitle(job.kind)}`, onclick: () => onCancel(job.id) }, 'Cancel') : null),
  );
}

export function createJobList(): HTMLElement {
  const status = h('p', { class: 'job-status', role: 'status' }, 'No jobs yet.');
  const body = h('tbody', {});
  const table = h(
    'table',
    { class: 'job-table', hidden: true },
    h('caption', { class: 'visually-hidden' }, 'Jobs of this dashboard'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Job'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Progress'), h('th', { scope: 'col' }, 'Started'), h('th', { scope: 'col' }, ''))),
    body,
  );
  const section = h('section', { class: 'job-list', 'aria-labelledby': 'job-list-title' }, h('h2', { id: 'job-list-title' }, 'Jobs'), status, table);
  let lost = false;
  const cancel = (id: string): void => {
    cancelJob(id).then(refresh, (e: unknown) => showMessage(`cannot cancel the job: ${errorText(e)}`));
  };
  async function refresh(): Promise<void> {
    let jobs: JobSummary[];
    try {
      jobs = await api<JobSummary[]>('GET', 'api/jobs');
    } catch (e) {
      if (!lost) {
        lost = true;
        section.classList.add('job-list-lost');
        status.textContent = `Server lost: ${errorText(e)}. Job states are unknown until it answers again.`;
      }
      return;
    }
    lost = false;
    section.classList.remove('job-list-lost');
    const newestFirst = [...jobs].sort((a, b) => b.startedAt - a.startedAt);
    body.replaceChildren(...newestFirst.map((job) => row(job, cancel)));
    table.hidden = jobs.length === 0;
    const running = jobs.filter((j) => j.state === 'running').length;
    status.textContent = jobs.length === 0 ? 'No jobs yet.' : `${running} running, ${jobs.length - running} finished.`;
  }
  void refresh();
  setInterval(() => void refresh(), POLL_MS);
  return section;
}
