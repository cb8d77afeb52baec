import './style.css';
import type { Capabilities } from '../shared/protocol.ts';
import { PAGE_SESSION, api, openPresence } from './api.ts';
import { createJobList } from './widgets/job-list.ts';
import { h } from './dom.ts';
import { errorText, mountMessageArea, showMessage } from './messages.ts';
import { createSsdView } from './views/ssd.ts';
import { createYaffsView } from './views/yaffs2.ts';
import { createDiffusionView } from './views/diffusion.ts';
import { createT2iView } from './views/t2i.ts';

// Anything that escapes a handler becomes a message on the page, never a blank page.
window.addEventListener('error', (e) => showMessage(`unexpected error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => showMessage(`unexpected error: ${errorText(e.reason)}`));

interface Tab {
  readonly id: string;
  readonly title: string;
  readonly create: (capability: true | string) => HTMLElement;
  readonly capability: keyof Capabilities;
}

const TABS: readonly Tab[] = [
  { id: 'ssd', title: 'SSD', create: createSsdView, capability: 'ssd' },
  { id: 'yaffs2', title: 'YAFFS2', create: createYaffsView, capability: 'yaffs2' },
  { id: 'diffusion', title: 'Diffusion', create: createDiffusionView, capability: 'diffusion' },
  { id: 't2i', title: 'Text to image', create: createT2iView, capability: 'diffusion' },
];

/** A view that could not be built shows why instead of leaving the tab empty. */
function unavailable(title: string, reason: string): HTMLElement {
  return h('div', { class: 'unavailable' }, h('h2', {}, `${title}: not available`), h('p', {}, reason));
}

async function start(): Promise<void> {
  const app = document.getElementById('app');
  if (!app) throw new Error('the page has no #app element');
  app.replaceChildren();
  const tabBar = h('nav', { class: 'tabs', role: 'tablist' });
  const header = h(
    'header',
    { class: 'top' },
    h('div', { class: 'brand' }, h('h1', {}, 'flashdiff'), h('span', {}, 'NAND flash · SSD FTL · YAFFS2 · diffusion')),
    tabBar,
  );
  const main = h('main', {});
  app.append(header);
  mountMessageArea(app);
  // Every view shows the job list (above the view, so Cancel is in sight); the presence stream
  // lets the server cancel this page's jobs when the page goes away.
  document.body.dataset.session = PAGE_SESSION;
  openPresence();
  app.append(createJobList());
  app.append(main);

  let capabilities: Capabilities;
  try {
    capabilities = await api<Capabilities>('GET', 'api/capabilities');
  } catch (e) {
    showMessage(`cannot read the server's capabilities: ${errorText(e)}`);
    capabilities = { ssd: 'server unreachable', yaffs2: 'server unreachable', diffusion: 'server unreachable' };
  }

  const views = new Map<string, HTMLElement>();
  const buttons = new Map<string, HTMLButtonElement>();
  const show = (id: string): void => {
    for (const [tabId, button] of buttons) {
      button.setAttribute('aria-selected', String(tabId === id));
      // One tab stop for the tab list; arrow keys move between tabs (WAI-ARIA tabs pattern).
      button.tabIndex = tabId === id ? 0 : -1;
      button.classList.toggle('active', tabId === id);
    }
    for (const [tabId, view] of views) view.hidden = tabId !== id;
    if (window.location.hash !== `#${id}`) history.replaceState(null, '', `#${id}`);
  };
  for (const tab of TABS) {
    const capability = capabilities[tab.capability];
    let view: HTMLElement;
    try {
      view = capability === true ? tab.create(true) : unavailable(tab.title, `not available: ${capability}`);
    } catch (e) {
      view = unavailable(tab.title, `the view failed to start: ${errorText(e)}`);
    }
    view.classList.add('view');
    view.id = `view-${tab.id}`;
    views.set(tab.id, view);
    main.append(view);
    view.setAttribute('role', 'tabpanel');
    view.setAttribute('aria-labelledby', `tab-${tab.id}`);
    const button = h('button', { role: 'tab', class: 'tab', id: `tab-${tab.id}`, 'aria-controls': `view-${tab.id}`, onclick: () => show(tab.id) }, tab.title);
    if (capability !== true) button.classList.add('tab-unavailable');
    buttons.set(tab.id, button);
    tabBar.append(button);
  }
  tabBar.addEventListener('keydown', (e) => {
    const ids = TABS.map((t) => t.id);
    const current = ids.findIndex((id) => buttons.get(id)?.getAttribute('aria-selected') === 'true');
    const next =
      e.key === 'ArrowRight' ? (current + 1) % ids.length
      : e.key === 'ArrowLeft' ? (current - 1 + ids.length) % ids.length
      : e.key === 'Home' ? 0
      : e.key === 'End' ? ids.length - 1
      : -1;
    if (next < 0) return;
    e.preventDefault();
    show(ids[next]!);
    buttons.get(ids[next]!)?.focus();
  });
  const initial = window.location.hash.slice(1);
  show(TABS.some((t) => t.id === initial) ? initial : 'ssd');
}

start().catch((e: unknown) => {
  const app = document.getElementById('app') ?? document.body;
  app.append(h('div', { class: 'message message-error' }, `The dashboard failed to start: ${errorText(e)}`));
});
