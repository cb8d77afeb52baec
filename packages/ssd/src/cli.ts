import { Command, InvalidArgumentError, Option } from 'commander';
import { CliError, applyCliStyle, packageVersion, progressBar, runCli, writeFileAtomic } from '@flashdiff/cli-kit';
import type { CliDefinition } from '@flashdiff/cli-kit';
import { NandError, geometryPreset, isPresetName, PRESET_NAMES } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import { GC_POLICIES, GC_UNITS, VALIDITY_METHODS, userPagesFor } from './config.ts';
import type { FtlOptions, GcPolicy, GcUnit, ValidityMethod } from './config.ts';
import { SsdError } from './errors.ts';
import { SsdSimulator } from './simulator.ts';
import type { SimulationReport, SimulatorConfig } from './simulator.ts';
import { readTraceFile } from './trace.ts';
import { WORKLOAD_KINDS } from './workload.ts';
import type { WorkloadKind } from './workload.ts';

/** A usage problem: one line on stderr, exit status 2. */
const usageError = (message: string): CliError => new CliError('USAGE', message);

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

interface CommonFlags {
  preset: string;
  op: number;
  gc: GcPolicy;
  gcUnit: GcUnit;
  validBy: ValidityMethod;
  gcThreshold?: number;
  channels?: number;
  dies?: number;
  blocks?: number;
  pagesPerBlock?: number;
  pageSize?: number;
  wearLeveling: { dynamic: boolean; static: boolean };
  staticWlThreshold?: number;
  seed: number;
  json?: boolean;
  out?: string;
  precondition: boolean;
  snapshotEvery?: number;
  queueDepth: number;
}

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
    .addOption(new Option('--pages-per-block <n>', 'override the preset: pages per block').argParser(positiveInt('--pages-per-block')))
    .addOption(new Option('--page-size <bytes>', 'override the preset: page size in bytes (a multiple of 512)').argParser(pageSize))
    .addOption(new Option('--wear-leveling <modes>', 'dynamic,static | dynamic | static | none').argParser(parseWearLeveling).default({ dynamic: true, static: false }, 'dynamic'))
    .addOption(new Option('--static-wl-threshold <n>', 'static wear leveling starts when max - min erase count exceeds this').argParser(nonNegativeInt('--static-wl-threshold')))
    .addOption(new Option('--seed <n>', 'PRNG seed').argParser(parseSeed).default(1))
    .addOption(new Option('--json', 'the report as one JSON object (machine-readable; nothing else on stdout)'))
    .addOption(new Option('--out <file>', 'write the report to this file (atomically) instead of stdout'))
    .addOption(new Option('--no-precondition', 'skip filling the device once before measuring'))
    .addOption(new Option('--snapshot-every <n>', 'time-series point every N host page writes (default: 1% of the run)').argParser(nonNegativeInt('--snapshot-every')))
    .addOption(new Option('--queue-depth <n>', 'closed-loop host queue depth for the latency model').argParser(positiveInt('--queue-depth')).default(32));
}

function resolveGeometry(flags: CommonFlags): NandGeometry {
  if (!isPresetName(flags.preset)) throw usageError(`--preset: unknown preset '${flags.preset}' (${PRESET_NAMES.join(', ')})`);
  const base = geometryPreset(flags.preset);
  return {
    ...base,
    ...(flags.channels !== undefined ? { channels: flags.channels } : {}),
    ...(flags.dies !== undefined ? { diesPerChannel: flags.dies } : {}),
    ...(flags.blocks !== undefined ? { blocksPerDie: flags.blocks } : {}),
    ...(flags.pagesPerBlock !== undefined ? { pagesPerBlock: flags.pagesPerBlock } : {}),
    ...(flags.pageSize !== undefined ? { pageSize: flags.pageSize } : {}),
  };
}

function ftlOptions(flags: CommonFlags): Partial<FtlOptions> {
  return {
    overProvisioning: flags.op,
    gcPolicy: flags.gc,
    gcUnit: flags.gcUnit,
    validityMethod: flags.validBy,
    dynamicWearLeveling: flags.wearLeveling.dynamic,
    staticWearLeveling: flags.wearLeveling.static,
    seed: flags.seed,
    ...(flags.gcThreshold !== undefined ? { gcThreshold: flags.gcThreshold } : {}),
    ...(flags.staticWlThreshold !== undefined ? { staticWearLevelingThreshold: flags.staticWlThreshold } : {}),
  };
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
    report.precondition ? `precondition: ${report.precondition.hostPageWrites} host writes, WAF ${f(report.precondition.waf)}` : 'precondition: none',
    `WAF ${f(report.waf)} = ${report.nandPageWrites} NAND page programs / ${report.hostPageWrites} host page writes`,
    `GC runs ${report.gcRuns}, pages moved ${report.gcMovedPages}, wear-leveling moves ${report.wearLevelingMovedPages}, erases ${report.erases}`,
    `erase count min ${report.erase.min} max ${report.erase.max} mean ${f(report.erase.mean, 2)} stddev ${f(report.erase.stddev, 2)}`,
    `simulated ${f(report.throughput.simulatedSeconds)} s: ${f(report.throughput.hostWriteMBps, 1)} MB/s host writes; latency µs p50 ${f(report.latencyUs.p50, 0)} p99 ${f(report.latencyUs.p99, 0)} p99.9 ${f(report.latencyUs.p999, 0)}`,
  ];
  emit(lines.join('\n') + '\n');
}

function makeSimulator(flags: CommonFlags, workload: SimulatorConfig['workload'], snapshotEvery: number): SsdSimulator {
  const geometry = resolveGeometry(flags);
  return new SsdSimulator({
    geometry,
    preset: flags.preset,
    ftl: ftlOptions(flags),
    workload,
    metadataOnly: true,
    queueDepth: flags.queueDepth,
    snapshotEvery,
  });
}

const DEFINITION: CliDefinition = {
  tool: 'ssdsim',
  version: packageVersion(import.meta.url),
  examples: [
    'ssdsim run --preset ssd-small --op 0.2 --gc greedy --workload uniform --writes 20x',
    'ssdsim run --preset ssd-small --workload hotcold --gc cost-benefit --json --out report.json',
    'ssdsim replay trace.ascii --preset ssd-small --blocks 32',
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

  const run = addCommonOptions(
    program
      .command('run')
      .description('run a synthetic workload (the device is filled once first unless --no-precondition)')
      .addOption(new Option('--workload <kind>', 'access pattern').choices(WORKLOAD_KINDS as string[]).default('uniform'))
      .addOption(new Option('--writes <N|Nx>', 'host page writes to measure: a count, or Nx = N × user capacity').argParser(parseWrites).default({ count: 4, times: true }, '4x'))
      .addOption(new Option('--read-ratio <f>', 'fraction of operations that are reads').argParser(fraction('--read-ratio')).default(0))
      .addOption(new Option('--hot-fraction <f>', 'hotcold: fraction of LBAs that are hot').argParser(fraction('--hot-fraction')).default(0.2))
      .addOption(new Option('--hot-access <f>', 'hotcold: fraction of accesses to hot LBAs').argParser(fraction('--hot-access')).default(0.8)),
  );
  run.action((flags: CommonFlags & { workload: WorkloadKind; writes: { count: number; times: boolean }; readRatio: number; hotFraction: number; hotAccess: number }) => {
    const geometry = resolveGeometry(flags);
    const user = userPagesFor(geometry, flags.op, flags.validBy);
    const writes = Math.round(flags.writes.times ? flags.writes.count * user : flags.writes.count);
    const every = flags.snapshotEvery ?? Math.max(1, Math.floor(writes / 100));
    if (flags.readRatio >= 1) throw usageError('--read-ratio must be below 1 for a write run');
    const sim = makeSimulator(flags, {
      kind: flags.workload,
      seed: flags.seed,
      readRatio: flags.readRatio,
      hotFraction: flags.hotFraction,
      hotAccessFraction: flags.hotAccess,
    }, every);
    const bar = progressBar('ssdsim');
    if (flags.precondition) sim.precondition((d, t) => bar.update(d, t));
    else sim.startMeasurement();
    const report = sim.run(writes, (d, t) => bar.update(d, t));
    bar.stop();
    report.config = { ...report.config, command: 'run', writes, writesFlag: `${flags.writes.count}${flags.writes.times ? 'x' : ''}`, precondition: flags.precondition };
    printReport(report, flags.json, flags.out);
  });

  const replay = addCommonOptions(
    program
      .command('replay')
      .description('replay a DiskSim ASCII trace (arrival_ns device lba_sector size_sectors type); addresses map modulo the user capacity')
      .argument('<trace>', 'trace file')
      .addOption(new Option('--bg-gc-idle-us <us>', 'gaps between arrivals longer than this run background GC (0: off)').argParser(nonNegativeInt('--bg-gc-idle-us')).default(1000)),
  );
  replay.action((trace: string, flags: CommonFlags & { bgGcIdleUs: number }) => {
    const geometry = resolveGeometry(flags);
    const requests = readTraceFile(trace);
    const every = flags.snapshotEvery ?? Math.max(1, Math.floor(requests.length / 100));
    const sim = new SsdSimulator({
      geometry,
      preset: flags.preset,
      ftl: ftlOptions(flags),
      metadataOnly: true,
      queueDepth: flags.queueDepth,
      snapshotEvery: every,
      backgroundGcIdleNs: flags.bgGcIdleUs * 1000,
    });
    const bar = progressBar('ssdsim');
    if (flags.precondition) sim.precondition((d, t) => bar.update(d, t));
    else sim.startMeasurement();
    const report = sim.replay(requests, (d, t) => bar.update(d, t));
    bar.stop();
    report.config = { ...report.config, command: 'replay', trace, requests: requests.length, addressMapping: 'page = floor(sector * 512 / pageSize) mod userPages', precondition: flags.precondition };
    printReport(report, flags.json, flags.out);
  });

  return program;
}

process.exitCode = await runCli(applyCliStyle(buildProgram(), DEFINITION), DEFINITION, process.argv.slice(2));
