import { Command, InvalidArgumentError, Option } from 'commander';
import { applyCliStyle, exitOnInterrupt, packageVersion, progressBar, runCli, writeFileAtomic } from '@flashdiff/cli-kit';
import type { CliDefinition } from '@flashdiff/cli-kit';
import { NandError, PRESET_NAMES } from '@flashdiff/nand';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { GC_POLICIES, GC_UNITS, HOST_ALLOCATIONS, VALIDITY_METHODS } from './config.ts';
import type { FtlOptions } from './config.ts';
import { SsdError } from './errors.ts';
import type { SimulationReport } from './simulator.ts';
import { WORKLOAD_KINDS } from './workload.ts';
import { loadScenario } from './scenario/load.ts';
import { applyOverrides, overrideFor, scenarioKey } from './scenario/overrides.ts';
import { PRECONDITION_STATES, defaultScenario } from './scenario/schema.ts';
import type { Scenario } from './scenario/schema.ts';
import type { ScenarioReport } from './scenario/run.ts';
import { runScenarioHere, runScenarioThread, runsInThread } from './scenario/thread.ts';
import { BLKPARSE_EVENTS } from './traces/blkparse.ts';
import { TRACE_FORMATS } from './traces/load.ts';
import { join } from 'node:path';

// The plots (vega, resvg) and the sweep load only in the commands that use them, and the yaml
// package only for --print-config: at start the CLI loads what a run needs (the simulator itself
// loads on the run's own thread, scenario/thread.ts).
const plotModule = () => import('./plot/plot.ts');
const sweepModule = () => import('./sweep/index.ts');
const toYaml = (value: unknown): string => (createRequire(import.meta.url)('yaml') as typeof import('yaml')).stringify(value);

function positiveInt(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
      throw new InvalidArgumentError(`${name} must be a positive integer.`);
    }
    return Number(value);
  };
}

function nonNegativeInt(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError(`${name} must be a non-negative integer.`);
    return Number(value);
  };
}

function fraction(name: string) {
  return (value: string): number => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isFinite(v) || v < 0 || v > 1) throw new InvalidArgumentError(`${name} must be a number in [0, 1].`);
    return v;
  };
}

/**
 * A cache size: a plain count (pages for --data-cache, entries for --mapping-cache) or bytes with
 * a unit (B, KiB, MiB, GiB). Returns which.
 */
function cacheSize(name: string, unit: string) {
  return (value: string): { count: number } | { bytes: number } => {
    const m = /^(\d+)\s*(B|KiB|MiB|GiB)?$/.exec(value.trim());
    const scale = m?.[2] === undefined ? 0 : { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[m[2]]!;
    const v = m ? Number(m[1]) : NaN;
    if (!m || !Number.isSafeInteger(v * Math.max(scale, 1))) {
      throw new InvalidArgumentError(`${name} must be a number of ${unit} (4096) or a size in bytes (64MiB, 512KiB, 1GiB, 8192B); 0 turns it off.`);
    }
    return scale === 0 ? { count: v } : { bytes: v * scale };
  };
}

/** Page size: whole 512-byte sectors, since traces address sectors. */
function pageSize(value: string): number {
  const v = positiveInt('--page-size')(value);
  if (v % 512 !== 0) throw new InvalidArgumentError('--page-size must be a multiple of 512 bytes.');
  return v;
}

/** OP as a ratio ("0.2") or a percentage ("20%"). */
function parseOp(value: string): number {
  const percent = value.endsWith('%');
  const v = Number(percent ? value.slice(0, -1) : value);
  if (value.trim() === '' || !Number.isFinite(v) || v <= 0) {
    throw new InvalidArgumentError('OP must be a positive ratio such as 0.2 or 20%.');
  }
  return percent ? v / 100 : v;
}

/** "N" host page writes, or "Nx" = N × user capacity. */
function parseWrites(value: string): { count: number; times: boolean } {
  const m = /^(\d+(?:\.\d+)?)(x?)$/.exec(value.trim());
  if (!m || Number(m[1]) <= 0) throw new InvalidArgumentError('writes must be a count (100000) or a multiple of the user capacity (20x).');
  if (!m[2] && !Number.isInteger(Number(m[1]))) throw new InvalidArgumentError('a write count must be an integer.');
  return { count: Number(m[1]), times: m[2] === 'x' };
}

function parseSeed(value: string): number {
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError('seed must be an integer.');
  return Number(value);
}

function parseWearLeveling(value: string): { dynamic: boolean; static: boolean } {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 1 && parts[0] === 'none') return { dynamic: false, static: false };
  const out = { dynamic: false, static: false };
  for (const p of parts) {
    if (p === 'dynamic') out.dynamic = true;
    else if (p === 'static') out.static = true;
    else throw new InvalidArgumentError(`'${p}' is not a wear-leveling mode (dynamic,static or none).`);
  }
  return out;
}

/** Commander's parsed flags (values already checked by the option parsers). */
type Flags = Record<string, unknown>;

const OP_HELP =
  'over-provisioning OP = (physical - user) / user, as a ratio (0.2) or percentage (20%); ' +
  "note MQSim's Overprovisioning_Ratio is (physical - user) / physical";

function addCommonOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--preset <name>', `NAND geometry preset (${PRESET_NAMES.join(', ')})`).default('ssd-small'))
    .addOption(new Option('--op <ratio>', OP_HELP).argParser(parseOp).default(0.2))
    .addOption(new Option('--gc <policy>', 'GC victim policy').choices(GC_POLICIES as string[]).default('greedy'))
    .addOption(new Option('--gc-unit <unit>', 'GC/allocation unit: one block, or the same block on every die').choices(GC_UNITS as string[]).default('block'))
    .addOption(new Option('--valid-by <method>', 'how GC finds valid pages: VPBM bitmap, scan (read all), p2l (summary page)').choices(VALIDITY_METHODS as string[]).default('bitmap'))
    .addOption(new Option('--gc-threshold <units>', 'foreground GC while free units (per die in block mode) are fewer than this').argParser(nonNegativeInt('--gc-threshold')))
    .addOption(new Option('--channels <n>', 'override the preset: channels').argParser(positiveInt('--channels')))
    .addOption(new Option('--dies <n>', 'override the preset: dies per channel').argParser(positiveInt('--dies')))
    .addOption(new Option('--blocks <n>', 'override the preset: blocks per die').argParser(positiveInt('--blocks')))
    .addOption(new Option('--planes <n>', 'override the preset: planes per die (block b of a die in plane b mod n; must divide --blocks)').argParser(positiveInt('--planes')))
    .addOption(new Option('--multi-plane', 'with planes: operations on distinct planes of a die go as one multi-plane command (one tPROG/tR/tBERS)'))
    .addOption(new Option('--gc-copyback', 'with --multi-plane: GC moves pages by copyback (no channel transfer; the planes of a die as one multi-plane copyback)'))
    .addOption(new Option('--allocation <scheme>', "host write placement: round-robin (dynamic), superblock (stripe over the same block of every die), or a static plane allocation scheme as MQSim names it (cwdp, pcwd, ... any order of c, w, d, p)").choices(['superblock', ...HOST_ALLOCATIONS]))
    .addOption(new Option('--pages-per-block <n>', 'override the preset: pages per block').argParser(positiveInt('--pages-per-block')))
    .addOption(new Option('--page-size <bytes>', 'override the preset: page size in bytes (a multiple of 512)').argParser(pageSize))
    .addOption(new Option('--wear-leveling <modes>', 'dynamic,static | dynamic | static | none').argParser(parseWearLeveling).default({ dynamic: true, static: false }, 'dynamic'))
    .addOption(new Option('--static-wl-threshold <n>', 'static wear leveling starts when max - min erase count exceeds this').argParser(nonNegativeInt('--static-wl-threshold')))
    .addOption(new Option('--seed <n>', 'PRNG seed').argParser(parseSeed).default(1))
    .addOption(new Option('--json', 'the report as one JSON object (machine-readable; nothing else on stdout)'))
    .addOption(new Option('--out <file>', 'write the report to this file (atomically) instead of stdout'))
    .addOption(new Option('--no-precondition', 'skip filling the device once before measuring'))
    .addOption(new Option('--snapshot-every <n>', 'time-series point every N host page writes (default: 1% of the run)').argParser(nonNegativeInt('--snapshot-every')))
    .addOption(new Option('--queue-depth <n>', 'closed-loop host queue depth for the latency model').argParser(positiveInt('--queue-depth')).default(32))
    .addOption(new Option('--data-cache <size>', 'DRAM write-back data cache: pages, or bytes with a unit (64MiB); default none').argParser(cacheSize('--data-cache', 'pages')))
    .addOption(new Option('--flush-idle-us <us>', 'replay: an idle gap longer than this flushes the data cache (default 1000; 0: never)').argParser(nonNegativeInt('--flush-idle-us')))
    .addOption(new Option('--data-cache-read-allocate', 'a read miss also brings the page into the data cache'))
    .addOption(new Option('--mapping-cache <size>', 'DFTL cached mapping table: entries, or bytes with a unit (256KiB); default the full table in RAM').argParser(cacheSize('--mapping-cache', 'entries')))
    .addOption(new Option('--precondition-state <state>', 'how the device is brought to its state before measuring (default sequential)').choices(PRECONDITION_STATES as unknown as string[]))
    .addOption(new Option('--occupancy <f>', 'fraction of the user capacity valid after preconditioning, in (0, 1] (default 1)').argParser(fraction('--occupancy')))
    .addOption(new Option('--print-config', 'print the resolved scenario (YAML; JSON with --json) and exit'))
    .addOption(new Option('--plots <dir>', 'also draw the report (interval WAF, free blocks, erase histogram, latency CDF) as SVG + PNG into this folder'));
}

/** What preconditioning did and cost, in one line. */
function preconditionLine(report: SimulationReport, f: (x: number, d?: number) => string): string {
  const p = report.precondition as ScenarioReport['precondition'] | { hostPageWrites: number; waf: number; state?: undefined } | null;
  if (p === null) return 'precondition: none';
  if (p.state === undefined) return `precondition: ${p.hostPageWrites} host writes, WAF ${f(p.waf)}`;
  const steady = p.steady
    ? `; steady state ${p.steady.settled ? 'reached' : 'NOT reached'} after ${p.steady.overwrites} overwrites in ${p.steady.windowWaf.length} windows (${p.steady.criterion})`
    : '';
  // A marked fill takes no simulated time (PreconditionOptions.fill): say so, or why the fill was simulated instead.
  const fill = p.fill === undefined ? '' : ` (${p.fill === 'marked' ? 'marked fill, untimed' : 'simulated fill'}${p.fillNote !== undefined ? `: ${p.fillNote}` : ''})`;
  return `precondition: ${p.state} to ${f(p.occupancy * 100, 1)}% occupancy${fill}: ${p.hostPageWrites} host writes, WAF ${f(p.waf)}, ${f(p.simulatedSeconds)} s simulated, ${f(p.wallSeconds, 2)} s wall${steady}`;
}

/** The report on stdout, or written atomically to `out` (the previous file kept on any failure). */
function printReport(report: SimulationReport, json: boolean | undefined, out: string | undefined): void {
  const emit = (text: string): void => {
    if (out === undefined) process.stdout.write(text);
    else writeFileAtomic(out, text);
  };
  if (json) {
    emit(JSON.stringify(report) + '\n');
    return;
  }
  const c = report.config as { userPages: number; physicalPages: number; ftl: FtlOptions };
  const f = (x: number, d = 3) => x.toFixed(d);
  const lines = [
    `user pages ${c.userPages} of ${c.physicalPages} physical (OP ${c.ftl.overProvisioning} = (physical - user) / user), GC ${c.ftl.gcPolicy} per ${c.ftl.gcUnit}, valid pages by ${c.ftl.validityMethod}`,
    preconditionLine(report, f),
    `WAF ${f(report.waf)} = ${report.nandPageWrites} NAND page programs / ${report.hostPageWrites} host page writes`,
    `TRIM commands ${report.counters.hostTrimCommands}, pages trimmed ${report.counters.hostTrimmedPages}`,
    `GC runs ${report.gcRuns}, pages moved ${report.gcMovedPages}, wear-leveling moves ${report.wearLevelingMovedPages}, erases ${report.erases}`,
    `erase count min ${report.erase.min} max ${report.erase.max} mean ${f(report.erase.mean, 2)} stddev ${f(report.erase.stddev, 2)}`,
    `simulated ${f(report.throughput.simulatedSeconds)} s: ${f(report.throughput.hostWriteMBps, 1)} MB/s host writes; latency µs p50 ${f(report.latencyUs.p50, 0)} p99 ${f(report.latencyUs.p99, 0)} p99.9 ${f(report.latencyUs.p999, 0)}`,
  ];
  const engine = report.config.engine as { ftlKernel: boolean; runLoopKernel: boolean; replayKernel?: boolean; typescriptBecause: string[] } | undefined;
  const planes = report.config.planes as { planesPerDie: number; multiPlane: boolean; multiPlaneCommands: number; multiPlaneOperations: number; multiPlaneEraseCommands: number; multiPlaneErasedBlocks: number; copybackOperations: number } | undefined;
  if (planes) {
    lines.push(`planes ${planes.planesPerDie} per die, multi-plane commands ${planes.multiPlane ? `on: ${planes.multiPlaneCommands} commands held ${planes.multiPlaneOperations} page operations${planes.multiPlaneErasedBlocks > 0 ? `; GC erased ${planes.multiPlaneErasedBlocks} blocks in ${planes.multiPlaneEraseCommands} multi-plane erases` : ''}${planes.copybackOperations > 0 ? `; ${planes.copybackOperations} copyback reads and programs` : ''}` : 'off'}`);
  }
  // After a scheduled replay, whether it ran in the kernel replay (and if not, why: in the list).
  const replay = engine?.replayKernel === undefined ? '' : `, replay ${engine.replayKernel ? 'yes' : 'no'}`;
  if (engine && (report.dataCache || report.mappingCache || planes || replay !== '') && engine.typescriptBecause.length > 0) {
    lines.push(`WebAssembly kernel: FTL ${engine.ftlKernel ? 'yes' : 'no'}, run loop ${engine.runLoopKernel ? 'yes' : 'no'}${replay} (TypeScript because of ${engine.typescriptBecause.join('; ')})`);
  } else if (replay !== '') {
    lines.push(`WebAssembly kernel: FTL ${engine!.ftlKernel ? 'yes' : 'no'}, run loop ${engine!.runLoopKernel ? 'yes' : 'no'}${replay}`);
  }
  const dc = report.dataCache;
  if (dc) {
    lines.push(
      `data cache ${dc.capacityPages} pages: read hits ${dc.readHits} of ${dc.readHits + dc.readMisses} (${f(dc.readHitRatio * 100, 1)}%), write hits ${dc.writeHits} of ${dc.writeHits + dc.writeMisses}, evictions ${dc.evictions}, write-backs ${dc.writeBacks}, flushes ${dc.flushes} (${dc.flushedPages} pages), dirty now ${dc.dirtyPages}`,
    );
  }
  const mc = report.mappingCache;
  if (mc) {
    lines.push(
      `mapping cache ${mc.capacityEntries} entries (${mc.entriesPerTranslationPage} per translation page, ${mc.translationPages} pages): hits ${mc.hits} of ${mc.hits + mc.misses} (${f(mc.hitRatio * 100, 1)}%), translation reads ${mc.translationReads}, writes ${mc.translationWrites} (batch updates ${mc.batchUpdates})`,
    );
  }
  emit(lines.join('\n') + '\n');
}

/**
 * The scenario a command runs: the file's (or the defaults), then every flag the user typed
 * (commander says which: getOptionValueSource 'cli'), so a flag always overrides the file.
 */
function scenarioFromFlags(cmd: Command, base: Scenario, extra: Record<string, unknown>[] = []): Scenario {
  const flags = cmd.opts();
  const typed = (name: string) => cmd.getOptionValueSource(name) === 'cli';
  const over: Record<string, unknown>[] = [];
  const FLAG_KEYS: Record<string, string> = {
    preset: 'preset', op: 'op', gc: 'gc', gcUnit: 'gc-unit', validBy: 'valid-by', gcThreshold: 'gc-threshold', channels: 'channels', dies: 'dies',
    blocks: 'blocks', planes: 'planes', pagesPerBlock: 'pages-per-block', pageSize: 'page-size', staticWlThreshold: 'static-wl-threshold', queueDepth: 'queue-depth',
    snapshotEvery: 'snapshot-every', workload: 'workload', readRatio: 'read-ratio', trimRatio: 'trim-ratio', hotFraction: 'hot-fraction',
    hotAccess: 'hot-access', bgGcIdleUs: 'bg-gc-idle-us', occupancy: 'occupancy', preconditionState: 'precondition-state', format: 'format',
  };
  for (const [flag, name] of Object.entries(FLAG_KEYS)) if (typed(flag)) over.push(overrideFor(scenarioKey(name), flags[flag]));
  if (typed('writes')) {
    const w = flags.writes as { count: number; times: boolean };
    over.push({ workload: { writes: w.times ? `${w.count}x` : w.count } });
  }
  if (typed('seed')) over.push(overrideFor('seed', flags.seed));
  if (typed('wearLeveling')) {
    const wl = flags.wearLeveling as { dynamic: boolean; static: boolean };
    over.push({ device: { ftl: { dynamicWearLeveling: wl.dynamic, staticWearLeveling: wl.static } } });
  }
  if (typed('precondition') && flags.precondition === false) over.push({ precondition: { state: 'none' } });
  if (typed('multiPlane')) over.push({ device: { multiPlane: true } });
  if (typed('gcCopyback')) over.push({ device: { ftl: { gcCopyback: true } } });
  if (typed('allocation')) {
    // superblock striping is the superblock GC unit with round-robin placement; the rest are hostAllocation schemes
    const scheme = flags.allocation as string;
    over.push({ device: { ftl: scheme === 'superblock' ? { gcUnit: 'superblock', hostAllocation: 'round-robin' } : { hostAllocation: scheme } } });
  }
  if (typed('sort')) over.push({ workload: { sort: true } });
  if (typed('allowEmpty')) over.push({ workload: { allowEmpty: true } });
  if (typed('blkparseEvent')) over.push({ workload: { blkparseEvent: flags.blkparseEvent } });
  if (typed('plots')) over.push({ outputs: { plots: flags.plots } });
  if (typed('dataCache')) {
    const size = flags.dataCache as { count: number } | { bytes: number };
    over.push({ device: { dataCache: 'count' in size ? { capacityPages: size.count, capacityBytes: 0 } : { capacityBytes: size.bytes, capacityPages: 0 } } });
  }
  if (typed('flushIdleUs')) over.push({ device: { dataCache: { flushIdleUs: flags.flushIdleUs } } });
  if (typed('dataCacheReadAllocate')) over.push({ device: { dataCache: { readAllocate: true } } });
  if (typed('mappingCache')) {
    const size = flags.mappingCache as { count: number } | { bytes: number };
    over.push({ device: { ftl: 'count' in size ? { mappingCacheEntries: size.count, mappingCacheBytes: 0 } : { mappingCacheBytes: size.bytes, mappingCacheEntries: 0 } } });
  }
  return applyOverrides(base, [...extra, ...over]);
}

/**
 * Runs a scenario with a progress bar per phase; writes the JSON report where the scenario says.
 * The simulation runs on its own thread (scenario/thread.ts) so that Ctrl-C and SIGTERM are
 * answered at once (exitOnInterrupt: exit 130 / 143, one stderr line, no partial output); a short
 * trace replay runs here (runsInThread: a worker's start would be a fifth of its time), a signal
 * then answered when it ends.
 */
async function runWithOutputs(s: Scenario): Promise<ScenarioReport> {
  let bar = progressBar('ssdsim precondition');
  let phase = 'precondition';
  let report: ScenarioReport;
  try {
    report = await (runsInThread(s) ? runScenarioHere : runScenarioThread)(s, {
      onProgress: (p, d, t) => {
        if (p !== phase) {
          bar.stop();
          bar = progressBar(`ssdsim ${p}`);
          phase = p;
        }
        bar.update(d, t);
      },
      onWarning: (m) => process.stderr.write(`ssdsim: warning: ${m}\n`),
    });
  } finally {
    // Also on an error: a drawn bar's redraw timer would keep the process alive.
    bar.stop();
  }
  if (s.outputs.json !== '') writeFileAtomic(s.outputs.json, JSON.stringify(report) + '\n');
  return report;
}

/** Draws the report's charts where the scenario says (outputs.plots). */
async function writePlots(s: Scenario, report: ScenarioReport): Promise<void> {
  if (s.outputs.plots === '') return;
  const { reportCharts, writeCharts } = await plotModule();
  await writeCharts(reportCharts(report), s.outputs.plots);
}

/** --print-config: the resolved scenario (YAML, or JSON with --json). */
function printConfig(s: Scenario, json: boolean | undefined, out: string | undefined): void {
  const text = json ? JSON.stringify(s, null, 2) + '\n' : toYaml(s);
  if (out === undefined) process.stdout.write(text);
  else writeFileAtomic(out, text);
}

const DEFINITION: CliDefinition = {
  tool: 'ssdsim',
  version: packageVersion(import.meta.url),
  examples: [
    'ssdsim run --preset ssd-small --op 0.2 --gc greedy --workload uniform --writes 20x',
    'ssdsim run --preset ssd-small --workload hotcold --gc cost-benefit --json --out report.json',
    'ssdsim replay trace.ascii --preset ssd-small --blocks 32',
    'ssdsim run my-scenario.yaml --gc fifo --plots plots',
    'ssdsim sweep my-scenario.yaml --vary op=0.07,0.125,0.2,0.28 --vary gc=greedy,fifo --dir sweep && ssdsim plot sweep/summary.csv',
    'source <(ssdsim completion bash)',
  ],
  classify(e) {
    if (e instanceof SsdError) return { status: e.code === 'INVALID_CONFIG' ? 2 : 1, message: e.message };
    if (e instanceof NandError) return { status: e.code === 'INVALID_GEOMETRY' || e.code === 'UNKNOWN_PRESET' ? 2 : 1, message: e.message };
    return undefined;
  },
};

export function buildProgram(): Command {
  const program = new Command('ssdsim');
  program.description('SSD FTL simulator: page mapping, GC, TRIM, wear leveling, write amplification.\n' + `OP = (physical - user) / user (MQSim uses (physical - user) / physical).`);

  const withWorkloadOptions = (cmd: Command): Command =>
    cmd
      .addOption(new Option('--workload <kind>', 'access pattern').choices(WORKLOAD_KINDS as string[]).default('uniform'))
      .addOption(new Option('--writes <N|Nx>', 'host page writes to measure: a count, or Nx = N × user capacity').argParser(parseWrites).default({ count: 4, times: true }, '4x'))
      .addOption(new Option('--read-ratio <f>', 'fraction of operations that are reads').argParser(fraction('--read-ratio')).default(0))
      .addOption(new Option('--hot-fraction <f>', 'hotcold: fraction of LBAs that are hot').argParser(fraction('--hot-fraction')).default(0.2))
      .addOption(new Option('--hot-access <f>', 'hotcold: fraction of accesses to hot LBAs').argParser(fraction('--hot-access')).default(0.8))
      .addOption(new Option('--trim-ratio <f>', 'fraction of operations that are single-page TRIMs').argParser(fraction('--trim-ratio')).default(0));
  const run = addCommonOptions(
    withWorkloadOptions(program.command('run').description('run a scenario or a synthetic workload (the device is filled once first unless --no-precondition)')),
  );
  run.argument('[scenario]', 'scenario file (.yaml, .yml, .json) or a shipped scenario (ssd-small, ssd-4k, seed-mini, mqsim-default); flags override it');
  run.action(async (file: string | undefined, _flags: Flags, cmd: Command) => {
    const o = cmd.opts();
    const s = scenarioFromFlags(cmd, file !== undefined ? loadScenario(file) : defaultScenario());
    if (o.printConfig) return printConfig(s, o.json as boolean | undefined, o.out as string | undefined);
    exitOnInterrupt(DEFINITION.tool);
    const report = await runWithOutputs(s);
    await writePlots(s, report);
    printReport(report, o.json as boolean | undefined, o.out as string | undefined);
  });

  const replay = addCommonOptions(
    program
      .command('replay')
      .description('replay a block trace (DiskSim ASCII, MSR/SNIA CSV, blkparse text or flashdiff, detected from its content); addresses map modulo the user capacity')
      .argument('<trace>', 'trace file')
      .addOption(new Option('--scenario <file>', 'take the device, preconditioning and outputs from this scenario (flags override it)'))
      .addOption(new Option('--format <format>', 'the trace format (default: detected from the content)').choices(['auto', ...TRACE_FORMATS]))
      .addOption(new Option('--sort', 'sort requests by arrival time instead of failing when one goes backwards'))
      .addOption(new Option('--allow-empty', 'an empty trace is a warning, not an error'))
      .addOption(new Option('--blkparse-event <action>', 'blkparse: the event replayed (default D, else Q, else C)').choices(BLKPARSE_EVENTS as string[]))
      .addOption(new Option('--bg-gc-idle-us <us>', 'gaps between arrivals longer than this run background GC (0: off)').argParser(nonNegativeInt('--bg-gc-idle-us')).default(1000)),
  );
  replay.action(async (trace: string, _flags: Flags, cmd: Command) => {
    const o = cmd.opts();
    const file = o.scenario as string | undefined;
    const s = scenarioFromFlags(cmd, file !== undefined ? loadScenario(file) : defaultScenario(), [{ workload: { kind: 'trace', path: trace } }]);
    if (o.printConfig) return printConfig(s, o.json as boolean | undefined, o.out as string | undefined);
    exitOnInterrupt(DEFINITION.tool);
    const report = await runWithOutputs(s);
    await writePlots(s, report);
    printReport(report, o.json as boolean | undefined, o.out as string | undefined);
  });

  const sweep = addCommonOptions(
    withWorkloadOptions(
      program
        .command('sweep')
        .description('run the cross product of --vary axes over a scenario on every core: one JSON per point and summary.csv in --dir')
        .argument('[scenario]', 'scenario file or shipped scenario (flags override it, --vary overrides both)')
        .addOption(new Option('--vary <name=v1,v2,...>', 'an axis: a short name (op, gc, gc-unit, workload, blocks, seed, ...) or a dotted scenario key; repeat for more').argParser((v: string, prev: string[] = []) => [...prev, v]))
        .addOption(new Option('--dir <folder>', 'where points/ and summary.csv go').default('sweep'))
        .addOption(new Option('--workers <n>', `worker threads (default: ${availableParallelism()}, the available cores)`).argParser(positiveInt('--workers')))
        .addOption(new Option('--shard <i/N>', 'run only the i-th of N slices of the points (1 ≤ i ≤ N), for batch systems; join with ssdsim merge')),
    ),
  );
  sweep.action(async (file: string | undefined, _flags: Flags, cmd: Command) => {
    const o = cmd.opts();
    const { parseShard, parseVary, planSweep, runSweep, shardPoints, sweepProgress } = await sweepModule();
    const base = scenarioFromFlags(cmd, file !== undefined ? loadScenario(file) : defaultScenario());
    const plan = planSweep(base, ((o.vary as string[] | undefined) ?? []).map(parseVary));
    const shard = o.shard !== undefined ? parseShard(o.shard as string) : null;
    const points = shard ? shardPoints(plan.points, shard) : [...plan.points];
    if (o.printConfig) {
      const text = JSON.stringify({ sweep: plan.id, points: points.map((p) => ({ index: p.index, id: p.id, values: p.values })) }, null, 2) + '\n';
      process.stdout.write(text);
      return;
    }
    const dir = o.dir as string;
    const started = performance.now();
    const bar = sweepProgress(points.length);
    let results;
    try {
      results = await runSweep(plan, points, dir, { ...(o.workers !== undefined ? { workers: o.workers as number } : {}), onProgress: (d, t) => bar.update(d, t) });
    } finally {
      bar.stop(); // also on an error: the bar's redraw timer would keep the process alive
    }
    const failed = results.filter((r) => r.error !== null);
    const where = shard ? ` (shard ${shard.index}/${shard.count})` : '';
    const seconds = (performance.now() - started) / 1000;
    if (o.json) {
      const summary = { sweep: plan.id, points: plan.points.length, ran: results.length, shard, seconds, summary: join(dir, 'summary.csv'), failed: failed.map((f) => ({ id: f.id, error: f.error })) };
      process.stdout.write(JSON.stringify(summary) + '\n');
    } else {
      process.stdout.write(`sweep ${plan.id}: ${results.length} of ${plan.points.length} points${where} in ${seconds.toFixed(1)} s → ${join(dir, 'summary.csv')}\n`);
    }
    for (const f of failed) process.stderr.write(`ssdsim: point ${f.id} failed: ${f.error}\n`);
    if (failed.length > 0) process.exitCode = 1;
  });

  program
    .command('merge')
    .description("join the folders of a sweep's shards (ssdsim sweep --shard i/N) into one: points/ and summary.csv")
    .argument('<folders...>', 'the shards\' --dir folders')
    .addOption(new Option('--dir <folder>', 'where the merged points/ and summary.csv go').makeOptionMandatory())
    .addOption(new Option('--allow-partial', 'merge even when points are missing'))
    .action(async (folders: string[], o: { dir: string; allowPartial?: boolean }) => {
      const { mergeSweeps } = await sweepModule();
      const results = mergeSweeps(folders, o.dir, o.allowPartial === true);
      process.stdout.write(`merged ${results.length} of ${results[0]!.sweep.points} points of sweep ${results[0]!.sweep.id} → ${join(o.dir, 'summary.csv')}\n`);
    });

  program
    .command('plot')
    .description('draw a sweep summary (WAF vs OP per GC policy, with the Lambert-W curve) or a report JSON (interval WAF, free blocks, erase histogram, latency CDF) as SVG + PNG')
    .argument('<input>', "a sweep's summary.csv, a report written by --json --out, or a sweep point's JSON")
    .addOption(new Option('--dir <folder>', 'where the charts go').default('plots'))
    .addOption(new Option('--scale <factor>', 'PNG pixels per SVG unit').argParser(positiveInt('--scale')).default(1))
    .action(async (input: string, o: { dir: string; scale: number }) => {
      // Rendering awaits, so a handler can run: Ctrl-C removes temporaries, says so, exit 130.
      exitOnInterrupt(DEFINITION.tool);
      const { plotFile } = await plotModule();
      const files = await plotFile(input, o.dir, o.scale);
      process.stdout.write(files.join('\n') + '\n');
    });

  return program;
}

process.exitCode = await runCli(applyCliStyle(buildProgram(), DEFINITION), DEFINITION, process.argv.slice(2));
