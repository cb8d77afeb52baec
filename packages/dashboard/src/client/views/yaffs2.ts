import { rgb, YAFFS_BLOCK_COLORS } from '../../shared/colors.ts';
import type { YaffsBlockInfo, YaffsEntry, YaffsImageInfo } from '../../shared/protocol.ts';
import { api, apiBytes, saveBlob } from '../api.ts';
import { field, formatBytes, formatNumber, h, keyValueTable, numberInput, panel, select, sizeCanvas } from '../dom.ts';
import { errorText, showMessage } from '../messages.ts';

/** The YAFFS2 view: open or create an image, browse and change its tree, see its blocks. */
export function createYaffsView(): HTMLElement {
  const view = h('div', { class: 'layout' });
  const messages = h('div', { class: 'view-messages' });
  const fail = (e: unknown): void => {
    showMessage(errorText(e), 'error', messages);
  };

  const blocks = numberInput('blocks', 64, { min: 4, max: 65536, step: 1 });
  const layout = select('layout', [
    ['mkyaffs2', 'mkyaffs2image'],
    ['mtd', 'Linux MTD'],
  ]);
  // The settings form's submit button: Enter in Blocks creates the image (implicit submission clicks it).
  const createButton = h('button', { type: 'submit', class: 'primary', 'data-testid': 'yaffs-create' }, 'Create empty image');
  const imageInput = h('input', { type: 'file', name: 'image', 'data-testid': 'yaffs-open-file' });
  const openButton = h('button', { type: 'button', class: 'secondary' }, 'Open image');
  const info = h('div', { class: 'image-info' }, h('p', { class: 'muted' }, 'No image open.'));
  const controls = h(
    'form',
    { class: 'controls', 'aria-label': 'YAFFS2 image settings', onsubmit: (e: Event) => e.preventDefault() },
    h('h2', {}, 'New image'),
    h('div', { class: 'grid2' }, field('Blocks', blocks, '64 pages × 2 KiB each'), field('Spare layout', layout, 'tags at spare 0, or in OOB bytes 2–39')),
    h('div', { class: 'buttons' }, createButton),
    h('h2', {}, 'Open an image file'),
    field('Image (.img, .yaffs2)', imageInput),
    h('div', { class: 'buttons' }, openButton),
    h('h2', {}, 'Image'),
    info,
  );

  const breadcrumb = h('div', { class: 'breadcrumb', 'data-testid': 'yaffs-path' });
  const tableBody = h('tbody', {});
  const table = h(
    'table',
    { class: 'files', 'data-testid': 'yaffs-files' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Type'), h('th', { class: 'num' }, 'Size'), h('th', { class: 'num' }, 'Object id'), h('th', {}, ''))),
    tableBody,
  );
  const uploadInput = h('input', { type: 'file', multiple: true, 'data-testid': 'yaffs-upload' });
  const uploadButton = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Upload here');
  const mkdirName = h('input', { type: 'text', placeholder: 'new folder name', 'data-testid': 'yaffs-mkdir-name' });
  // The toolbar is a form whose one submit button is Make folder: Enter in the folder name makes it.
  const mkdirButton = h('button', { type: 'submit', class: 'secondary', disabled: true, 'data-testid': 'yaffs-mkdir' }, 'Make folder');
  const downloadImageButton = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Download image');
  const toolbar = h('form', { class: 'toolbar', 'aria-label': 'change this folder', onsubmit: (e: Event) => e.preventDefault() }, uploadInput, uploadButton, mkdirName, mkdirButton, h('span', { class: 'spacer' }), downloadImageButton);

  const blockCanvas = h('canvas', { class: 'yaffs-blocks', 'data-testid': 'yaffs-blocks', role: 'img', 'aria-label': "the image's blocks coloured by state; the table 'Every block' below lists each one" });
  const blockSummary = h('div', { class: 'block-summary' });
  const blockDetail = h('div', { class: 'muted block-detail' }, 'Point at a block to see its sequence number and erase count.');
  const legend = h(
    'div',
    { class: 'legend' },
    ...['empty', 'allocating', 'full', 'dirty', 'checkpoint', 'bad'].map((state) =>
      h('span', { class: 'legend-item' }, h('i', { style: `background:${rgb(YAFFS_BLOCK_COLORS[state]!)}` }), state),
    ),
    h('span', { class: 'legend-item muted' }, 'darker part = live chunks; dirty = full with stale chunks GC can reclaim'),
  );
  const blockTableBody = h('tbody', {});
  const blockTable = h(
    'table',
    { class: 'blocks-table' },
    h('thead', {}, h('tr', {}, h('th', { class: 'num' }, 'Block'), h('th', {}, 'State'), h('th', { class: 'num' }, 'Sequence'), h('th', { class: 'num' }, 'Erases'), h('th', { class: 'num' }, 'Pages in use'))),
    blockTableBody,
  );

  view.append(
    controls,
    h(
      'div',
      { class: 'content' },
      messages,
      panel('Files', breadcrumb, toolbar, table),
      panel('Blocks by state', legend, blockCanvas, blockDetail, blockSummary, h('details', {}, h('summary', {}, 'Every block (table)'), blockTable)),
    ),
  );

  let image: YaffsImageInfo | undefined;
  let currentPath = '/';
  let blockList: readonly YaffsBlockInfo[] = [];

  const base = (): string => `api/yaffs2/images/${encodeURIComponent(image!.id)}`;

  const showInfo = (i: YaffsImageInfo): void => {
    info.replaceChildren(
      keyValueTable([
        ['Name', i.name],
        ['Layout', i.layout],
        ['Geometry', `${i.blocks} blocks × ${i.pagesPerBlock} pages × ${i.pageSize} B`],
        ['Objects', i.objects],
        ['Free', `${formatBytes(i.freeBytes)} of ${formatBytes(i.totalBytes)}`],
      ]),
    );
  };

  const refresh = async (): Promise<void> => {
    if (!image) return;
    const [entries, newInfo] = await Promise.all([
      api<YaffsEntry[]>('GET', `${base()}/list`, undefined, { path: currentPath }),
      api<YaffsImageInfo>('GET', base()),
    ]);
    image = newInfo;
    showInfo(newInfo);
    renderBreadcrumb();
    renderEntries(entries);
    // The block view degrades on its own: the file browser works without it.
    try {
      blockList = await api<YaffsBlockInfo[]>('GET', `${base()}/blocks`);
      drawBlocks();
    } catch (e) {
      blockList = [];
      blockSummary.replaceChildren(h('div', { class: 'unavailable' }, errorText(e)));
    }
  };

  const renderBreadcrumb = (): void => {
    const parts = currentPath.split('/').filter(Boolean);
    const crumbs: HTMLElement[] = [h('a', { href: '#yaffs2', onclick: (e: Event) => navigate(e, '/') }, 'root')];
    parts.forEach((part, i) => {
      const path = `/${parts.slice(0, i + 1).join('/')}`;
      crumbs.push(h('span', { class: 'sep' }, ' / '), h('a', { href: '#yaffs2', onclick: (e: Event) => navigate(e, path) }, part));
    });
    breadcrumb.replaceChildren(...crumbs);
  };

  const navigate = (e: Event, path: string): void => {
    e.preventDefault();
    currentPath = path;
    refresh().catch(fail);
  };

  const renderEntries = (entries: readonly YaffsEntry[]): void => {
    const rows = entries.map((entry) => {
      const nameCell =
        entry.type === 'directory'
          ? h('a', { href: '#yaffs2', class: 'dir', onclick: (e: Event) => navigate(e, entry.path) }, `${entry.name}/`)
          : h('span', {}, entry.name, entry.target !== undefined ? h('span', { class: 'muted' }, ` → ${entry.target}`) : null);
      const actions = h('td', { class: 'actions' });
      if (entry.type === 'file') {
        actions.append(
          h('button', {
            class: 'link',
            onclick: () => {
              apiBytes(`${base()}/file`, { path: entry.path }).then((blob) => saveBlob(blob, entry.name), fail);
            },
          }, 'download'),
        );
      }
      actions.append(
        h('button', {
          class: 'link danger',
          onclick: () => {
            if (!window.confirm(`Delete ${entry.path}?`)) return;
            api('DELETE', `${base()}/file`, undefined, { path: entry.path }).then(() => refresh(), fail);
          },
        }, 'delete'),
      );
      return h('tr', {}, h('td', {}, nameCell), h('td', {}, entry.type), h('td', { class: 'num' }, entry.type === 'file' ? formatNumber(entry.size) : ''), h('td', { class: 'num' }, entry.objectId), actions);
    });
    tableBody.replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 5, class: 'muted' }, '(empty folder)'))]));
  };

  const drawBlocks = (): void => {
    const n = blockList.length;
    const width = Math.max(300, blockCanvas.parentElement?.clientWidth ?? 600) - 4;
    const cell = Math.max(6, Math.min(22, Math.floor(width / Math.min(64, Math.max(1, n)))));
    const perRow = Math.max(1, Math.floor(width / cell));
    const rows = Math.ceil(n / perRow);
    const context = sizeCanvas(blockCanvas, Math.min(width, perRow * cell), Math.max(cell, rows * cell));
    context.fillStyle = '#fff';
    context.fillRect(0, 0, width, rows * cell);
    const counts = new Map<string, number>();
    blockList.forEach((b, i) => {
      counts.set(b.state, (counts.get(b.state) ?? 0) + 1);
      const color = YAFFS_BLOCK_COLORS[b.state] ?? YAFFS_BLOCK_COLORS.unknown!;
      context.fillStyle = rgb(color);
      const x = (i % perRow) * cell;
      const y = Math.floor(i / perRow) * cell;
      context.fillRect(x, y, cell - 1, cell - 1);
      // The darker lower part is the share of the block's chunks that are live.
      const live = Math.round(((cell - 1) * b.pagesInUse) / Math.max(1, image?.pagesPerBlock ?? 64));
      if (live > 0 && b.state !== 'bad') {
        context.fillStyle = 'rgba(0, 0, 0, 0.28)';
        context.fillRect(x, y + cell - 1 - live, cell - 1, live);
      }
    });
    blockSummary.replaceChildren(
      keyValueTable([...counts.entries()].sort().map(([state, count]) => [state, `${count} block${count === 1 ? '' : 's'}`] as [string, string])),
    );
    blockTableBody.replaceChildren(
      ...blockList.map((b) =>
        h('tr', {}, h('td', { class: 'num' }, b.block), h('td', {}, b.state), h('td', { class: 'num' }, b.sequence || '–'), h('td', { class: 'num' }, b.eraseCount), h('td', { class: 'num' }, b.pagesInUse)),
      ),
    );
    blockCanvas.onmousemove = (e: MouseEvent) => {
      const rect = blockCanvas.getBoundingClientRect();
      const i = Math.floor((e.clientY - rect.top) / cell) * perRow + Math.floor((e.clientX - rect.left) / cell);
      const b = blockList[i];
      if (b) blockDetail.textContent = `block ${b.block}: ${b.state}, sequence ${b.sequence || '–'}, erased ${b.eraseCount}×, ${b.pagesInUse} pages in use`;
    };
  };

  const opened = async (i: YaffsImageInfo): Promise<void> => {
    image = i;
    currentPath = '/';
    for (const b of [uploadButton, mkdirButton, downloadImageButton]) b.disabled = false;
    await refresh();
  };

  const guard = (button: HTMLButtonElement, action: () => Promise<void>) => () => {
    button.disabled = true;
    action()
      .catch(fail)
      .finally(() => {
        button.disabled = false;
      });
  };

  createButton.addEventListener('click', guard(createButton, async () => {
    await opened(await api<YaffsImageInfo>('POST', 'api/yaffs2/images', { blocks: Number(blocks.value), layout: layout.value }));
  }));
  openButton.addEventListener('click', guard(openButton, async () => {
    const file = imageInput.files?.[0];
    if (!file) throw new Error('choose an image file first');
    const upload = await api<{ id: string }>('POST', 'api/uploads', file, { name: file.name });
    await opened(await api<YaffsImageInfo>('POST', 'api/yaffs2/images/open', { upload: upload.id }));
  }));
  uploadButton.addEventListener('click', guard(uploadButton, async () => {
    const files = [...(uploadInput.files ?? [])];
    if (files.length === 0) throw new Error('choose one or more files to upload first');
    for (const file of files) {
      const path = `${currentPath.replace(/\/$/, '')}/${file.name}`;
      await api('PUT', `${base()}/file`, file, { path });
    }
    uploadInput.value = '';
    await refresh();
  }));
  mkdirButton.addEventListener('click', guard(mkdirButton, async () => {
    const name = mkdirName.value.trim();
    if (!name) throw new Error('type a folder name first');
    await api('POST', `${base()}/mkdir`, { path: `${currentPath.replace(/\/$/, '')}/${name}` });
    mkdirName.value = '';
    await refresh();
  }));
  downloadImageButton.addEventListener('click', guard(downloadImageButton, async () => {
    saveBlob(await apiBytes(`${base()}/download`), image?.name ?? 'image.yaffs2');
  }));
  return view;
}
