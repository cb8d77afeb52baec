/**
 * The SSD view's bridge to @flashdiff/ssd: validates a run request into a SimulatorConfig and
 * turns the simulator's block-map snapshot into the page's frame format.
 */
import { geometryPreset, PRESET_NAMES, validateGeometry } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import {
  BLOCK_BAD,
  BLOCK_FREE,
  eraseStats,
  GC_POLICIES,
  LatencyHistogram,
  GC_UNITS,
  PAGE_INVALID as SSD_PAGE_INVALID,
  PAGE_META as SSD_PAGE_META,
  PAGE_VALID as SSD_PAGE_VALID,
  resolveFtlOptions,
  userPagesFor,
  WORKLOAD_KINDS,
} from '@flashdiff/ssd';
import type { FtlOptions, SimulatorConfig, SsdSimulator, WorkloadKind } from '@flashdiff/ssd';
import { PAGE_BAD, PAGE_FREE, PAGE_INVALID, PAGE_META, PAGE_VALID } from '../../shared/protocol.ts';
import type { SparseHistogram, SsdFrame, SsdOptionsInfo, SsdPresetInfo, SsdRunRequest, SsdSeries } from '../../shared/protocol.ts';
import { DashboardError } from '../errors.ts';
import { field } from '../http-util.ts';

/** Largest map sent page by page; bigger drives are drawn one cell per block. */
export const MAX_PAGE_MAP = 1 << 19;
/** Largest drive the page accepts (pages): the FTL's tables are typed arrays of this length. */
const MAX_TOTAL_PAGES = 1 << 24;
/** Map small enough to label each page with its LBA (the seed's 216-page drive). */
const MAX_LABELLED_PAGES = 1024;

const PRESET_DESCRIPTIONS: Record<string, string> = {
  'seed-mini': 'the mini SSD of the introductory SSD article: 4 dies × 6 blocks × 9 pages',
  'ssd-small': '4 ch × 2 dies × 256 blocks × 64 pages of 4 KiB (512 MiB)',
  'ssd-4k': '8 ch × 512 blocks × 64 pages of 4 KiB (1 GiB)',
  'yaffs2-2k': '1024 blocks × 64 pages of 2 KiB (128 MiB)',
  'small-page': '1024 blocks × 32 pages of 512 B (16 MiB)',
};

export function ssdOptions(): SsdOptionsInfo {
  // The seed's drive comes first: it is the one that can be stepped write by write.
  const names = ['seed-mini', ...PRESET_NAMES.filter((n) => n !== 'seed-mini')];
  const presets: SsdPresetInfo[] = names.map((name) => {
    const g = geometryPreset(name);
    return {
      name,
      description: PRESET_DESCRIPTIONS[name] ?? name,
      geometry: { channels: g.channels, diesPerChannel: g.diesPerChannel, blocksPerDie: g.blocksPerDie, pagesPerBlock: g.pagesPerBlock, pageSize: g.pageSize },
    };
  });
  return { presets, gcPolicies: GC_POLICIES, gcUnits: GC_UNITS, workloads: WORKLOAD_KINDS };
}

/** A run request checked and resolved: what the worker needs. */
export interface SsdRunPlan {
  readonly request: SsdRunRequest;
  readonly config: SimulatorConfig;
  /** Measured host page writes (generated workloads). */
  readonly writes: number;
  /** The uploaded trace's path on the server and its original name. */
  readonly trace?: { readonly path: string; readonly name: string };
}

/** Validates a request body (400 naming the field) and resolves geometry and FTL options. */
export function planSsdRun(body: Record<string, unknown>, traceLookup: (id: string) => { path: string; name: string }): SsdRunPlan {
  const preset = field.string(body, 'preset', 'seed-mini');
  let base: NandGeometry;
  try {
    base = geometryPreset(preset);
  } catch (e) {
    throw new DashboardError('BAD_REQUEST', `preset: ${(e as Error).message}`);
  }
  const g = (body.geometry ?? {}) as Record<string, unknown>;
  if (typeof g !== 'object' || g === null) throw new DashboardError('BAD_REQUEST', 'geometry: expected an object');
  const geometry: NandGeometry = {
    ...base,
    channels: field.integer(g, 'channels', base.channels, 1, 64),
    diesPerChannel: field.integer(g, 'diesPerChannel', base.diesPerChannel, 1, 64),
    blocksPerDie: field.integer(g, 'blocksPerDie', base.blocksPerDie, 2, 1 << 20),
    pagesPerBlock: field.integer(g, 'pagesPerBlock', base.pagesPerBlock, 2, 4096),
  };
  try {
    validateGeometry(geometry);
  } catch (e) {
    throw new DashboardError('BAD_REQUEST', `geometry: ${(e as Error).message}`);
  }
  const totalPages = geometry.channels * geometry.diesPerChannel * geometry.blocksPerDie * geometry.pagesPerBlock;
  if (totalPages > MAX_TOTAL_PAGES) {
    throw new DashboardError('BAD_REQUEST', `geometry: ${totalPages} pages is more than the dashboard simulates (${MAX_TOTAL_PAGES})`);
  }
  const ftl: Partial<FtlOptions> = {
    overProvisioning: field.number(body, 'overProvisioning', 0.2, 0.001, 100),
    gcPolicy: field.oneOf(body, 'gcPolicy', GC_POLICIES, 'greedy'),
    gcUnit: field.oneOf(body, 'gcUnit', GC_UNITS, 'block'),
    dynamicWearLeveling: field.boolean(body, 'dynamicWearLeveling', true),
    staticWearLeveling: field.boolean(body, 'staticWearLeveling', false),
    seed: field.integer(body, 'seed', 1),
  };
  try {
    resolveFtlOptions(ftl);
  } catch (e) {
    throw new DashboardError('BAD_REQUEST', (e as Error).message);
  }
  const workload = field.oneOf<WorkloadKind>(body, 'workload', WORKLOAD_KINDS, 'uniform');
  const writesValue = field.number(body, 'writes', 1, 0, 1e9);
  const multiple = field.boolean(body, 'writesAreMultiple', false);
  const user = userPagesFor(geometry, ftl.overProvisioning!);
  if (user < 1) throw new DashboardError('BAD_REQUEST', 'overProvisioning: leaves no user capacity on this geometry');
  const writes = Math.round(multiple ? writesValue * user : writesValue);
  if (writes > 2e9) throw new DashboardError('BAD_REQUEST', `writes: ${writes} host writes is too many for one run`);
  const request: SsdRunRequest = {
    preset,
    geometry,
    overProvisioning: ftl.overProvisioning!,
    gcPolicy: ftl.gcPolicy!,
    gcUnit: ftl.gcUnit!,
    dynamicWearLeveling: ftl.dynamicWearLeveling!,
    staticWearLeveling: ftl.staticWearLeveling!,
    workload,
    writes: writesValue,
    writesAreMultiple: multiple,
    precondition: field.boolean(body, 'precondition', true),
    seed: ftl.seed!,
    stepped: field.boolean(body, 'stepped', false),
    writesPerSecond: field.number(body, 'writesPerSecond', 0, 0, 1e9),
    ...(typeof body.traceUpload === 'string' ? { traceUpload: body.traceUpload } : {}),
  };
  const trace = request.traceUpload !== undefined ? traceLookup(request.traceUpload) : undefined;
  const config: SimulatorConfig = {
    geometry,
    preset,
    ftl,
    workload: { kind: workload, seed: ftl.seed! },
    metadataOnly: true,
  };
  return { request, config, writes, ...(trace ? { trace } : {}) };
}

function base64(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}

/** Draws the simulator's state into one frame for the page. */
export function ssdFrame(
  sim: SsdSimulator,
  measuredFrom: { host: number; nand: number },
  extra: { lastEvent?: string; paused: boolean; series: SsdSeries },
): SsdFrame {
  const snapshot = sim.snapshot();
  const g = snapshot.geometry;
  const blocks = snapshot.blockState.length;
  const ppb = g.pagesPerBlock;
  const dies = g.channels * g.diesPerChannel;
  const valid = new Uint16Array(blocks);
  const invalid = new Uint16Array(blocks);
  let freeBlocks = 0;
  const gcBlocks: number[] = [];
  for (let b = 0; b < blocks; b++) {
    valid[b] = snapshot.validPages[b]!;
    invalid[b] = snapshot.invalidPages[b]!;
    if (snapshot.blockState[b] === BLOCK_FREE) freeBlocks++;
    if (snapshot.lastVictimUnit >= 0 && snapshot.unitOfBlock[b] === snapshot.lastVictimUnit) gcBlocks.push(b);
  }
  let pageStates: string | undefined;
  let pageLbas: number[] | undefined;
  const totalPages = blocks * ppb;
  if (totalPages <= MAX_PAGE_MAP) {
    const states = new Uint8Array(totalPages);
    for (let b = 0; b < blocks; b++) {
      const bad = snapshot.blockState[b] === BLOCK_BAD;
      for (let i = 0; i < ppb; i++) {
        const p = b * ppb + i;
        const s = snapshot.pageState[p];
        states[p] = bad ? PAGE_BAD : s === SSD_PAGE_VALID ? PAGE_VALID : s === SSD_PAGE_INVALID ? PAGE_INVALID : s === SSD_PAGE_META ? PAGE_META : PAGE_FREE;
      }
    }
    pageStates = base64(states);
    if (totalPages <= MAX_LABELLED_PAGES) {
      pageLbas = Array.from(sim.ftl.p2l, (lba, p) => (states[p] === PAGE_VALID || states[p] === PAGE_INVALID ? lba : -1));
    }
  }
  const host = sim.ftl.counters.hostPageWrites - measuredFrom.host;
  const nand = sim.device.stats.pagePrograms - measuredFrom.nand;
  return {
    hostPageWrites: host,
    nandPageWrites: nand,
    waf: host > 0 ? nand / host : 0,
    freeBlocks,
    freeUnits: snapshot.freeUnits,
    gcRuns: snapshot.gcRuns,
    gcMovedPages: sim.ftl.counters.gcMovedPages,
    blocks,
    pagesPerBlock: ppb,
    blocksPerDie: g.blocksPerDie,
    dies,
    ...(pageStates !== undefined ? { pageStates } : {}),
    validPerBlock: base64(valid),
    invalidPerBlock: base64(invalid),
    eraseCounts: base64(snapshot.eraseCount),
    gcBlocks,
    ...(pageLbas !== undefined ? { pageLbas } : {}),
    ...(extra.lastEvent !== undefined ? { lastEvent: extra.lastEvent } : {}),
    paused: extra.paused,
    series: extra.series,
    // The same histogram the report carries (16 bins over the good blocks' erase counts).
    eraseHistogram: eraseStats(snapshot.eraseCount, (b) => snapshot.blockState[b] === BLOCK_BAD).histogram,
    readLatency: sparse(sim.readLatency),
    writeLatency: sparse(sim.writeLatency()),
  };
}

/** A latency histogram's non-empty buckets (the report's SparseHistogram, scenario/run.ts). */
function sparse(histogram: LatencyHistogram): SparseHistogram {
  const buckets: [number, number][] = [];
  histogram.bucketCounts().forEach((count, bucket) => {
    if (count > 0) buckets.push([bucket, count]);
  });
  return { bucketsPerOctave: LatencyHistogram.OCTAVE_EDGES.length, buckets };
}

/** One sample of the time series, measured from `measuredFrom`: cumulative host and NAND page writes, free blocks. */
export function ssdSample(sim: SsdSimulator, measuredFrom: { host: number; nand: number }): { host: number; nand: number; free: number } {
  let free = 0;
  const states = sim.ftl.blockState;
  for (let b = 0; b < states.length; b++) if (states[b] === BLOCK_FREE) free++;
  return { host: sim.ftl.counters.hostPageWrites - measuredFrom.host, nand: sim.device.stats.pagePrograms - measuredFrom.nand, free };
}
