// Wall time against MQSim (CMU SAFARI's simulator, the field's reference), side by side in one run
// on the same geometry (issue 17: "≥ 10× faster than MQSim"):
//   1. synthetic, GC active: random uniform one-page writes at queue depth 32 on a device 70 %
//      occupied first, long enough that both simulators erase blocks (GC runs: the erase counts
//      are printed);
//   2. / 3. MQSim's tpcc-small and wsrch-small traces replayed, on our side twice: on the device
//      70 % occupied first, and on the device as MQSim replays them (nothing written first).
// The device is MQSim's default ssdconfig.xml (8 channels × 4 chips × 2 dies × 2 planes × B blocks
// × 256 pages of 8 KiB, tR 75 µs, tPROG 750 µs, tBERS 3.8 ms, 333 MT/s, OP 7 % of physical, CWDP,
// ideal mapping table, data cache off) with B blocks per plane, expressed here as the mqsim-default
// scenario does (one die per MQSim chip holding its 2 × 2 × B blocks; read-first transaction
// scheduling for the replays). The replays run at each B of --blocks-per-plane (default 64,2048:
// 16 GiB, and MQSim's default ssdconfig.xml, 512 GiB), one after the other in this one process,
// each with its MQSim run; the synthetic case at the first B.
//
// Our side: the occupancy comes from a sequential fill ('sequential' preconditioning), counted in
// our time: by default the marked fill (PreconditionOptions.fill 'marked': the FTL's tables and the
// spares written in one loop, untimed, the same state as the simulated fill — test/marked-fill.test.ts),
// `--fill simulated` for the page-by-page timed fill.
// MQSim's side: its ssdconfig has Enabled_Preconditioning false (as its default ssdconfig.xml), so
// it writes nothing before the trace: Initial_Occupancy_Percentage then only sets its GC's rho, and
// reads of never-written LPNs get a mapping on the fly. With Enabled_Preconditioning true, MQSim
// 7ec40e3 stops on a trace flow ("Unhandled address distribution type in FTL's preconditioning
// function"): it cannot precondition a trace replay. The synthetic case: MQSim preconditions
// nothing either (same flag); ours fills 70 % first (the kernel's fill), counted in our time.
// The synthetic case runs with eager timing, greedy GC and no static wear leveling (the FTL
// kernel's configuration; MQSim keeps its RGA victim policy and static wear leveling, so its GC
// does other work: the erase counts differ); the replays use the mqsim-default scenario as it is,
// with no time-series points: they run in the kernel replay (src/simulator/replay-kernel.ts; each
// row says where its replay ran).
// Measured figures: packages/ssd/README.md ("Speed against MQSim") and CHANGELOG.md.
// MQSim itself: this script writes the ssdconfig and workload XML to a temporary directory
// (the trace copied there) and runs MQSim 7ec40e3 (built in /tmp from its fetched source; its code
// is not in this repository) from MQSIM_BIN (default /tmp/mqsim/MQSim). Without it the script says
// so and prints only our figures.
//
// What is timed, like for like: MQSim runs as a fresh process per case, so each of our replays
// does too (this script with --child): its figure runs from reading the scenario file (MQSim's
// side parses its two XML files) through the trace's parse, the device's construction and the
// replay to the report, cold (nothing compiled yet in that process, as in `ssdsim replay`).
// MQSim's figure is its whole process; its start (a native binary's exec and dynamic linking)
// is about a millisecond, ours (Node's start, loading and compiling our TypeScript through tsx)
// is far more and is not part of the replay's figure: each replay row also prints our whole
// child process's CPU and that ratio, and the same case run by the compiled CLI as a user runs it
// (`ssdsim replay … --scenario mqsim-default --blocks 4B --snapshot-every 0 --json`, bin/ssdsim.js
// as a command, with --precondition-state sequential --occupancy 0.7 for the filled case): its
// whole process's wall and CPU time against MQSim's whole process. (Until 17g the replays ran one after another in this one
// process, after the scenario was read: later cases ran with code V8 had already optimised.)
// The synthetic case still runs in this process (seconds long, its start does not matter).
// Wall and CPU time (user + system; ours every thread of the process — the optimising compiler's
// background threads included —, MQSim's from the kernel's accounting of the waited-for child) are
// both printed: on a loaded machine the CPU ratio is the steadier one.
// Run: npx tsx bench/ssd-mqsim-speed.ts [--blocks-per-plane B[,B…]] [--writes N] [--fill marked|eager|simulated] [--replays-only]
//   --fill eager: the marked fill with its lazy part off (every entry written as it goes), the
//   figure before the lazy fill.
//   --writes: synthetic host page writes after the fill (default: the user pages, once over).
//   --replays-only: the trace cases alone (the synthetic one takes MQSim minutes).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MQSIM_TIMING } from '@flashdiff/nand';
import { Ftl, SsdSimulator, applyOverrides, loadScenario, preconditionSimulator, runScenario } from '@flashdiff/ssd';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`ssd-mqsim-speed: ${name} must be a positive integer, got ${process.argv[at + 1]}`);
    process.exit(2);
  }
  return value;
}

/** --blocks-per-plane: one B or a comma-separated list (default 64,2048). */
function blocksOption(): number[] {
  const at = process.argv.indexOf('--blocks-per-plane');
  if (at < 0) return [64, 2048];
  const list = String(process.argv[at + 1]).split(',').map(Number);
  if (list.some((b) => !Number.isInteger(b) || b < 1)) {
    console.error(`ssd-mqsim-speed: --blocks-per-plane must be positive integers separated by commas, got ${process.argv[at + 1]}`);
    process.exit(2);
  }
  return list;
}
const blockList = blocksOption();
const fillAt = process.argv.indexOf('--fill');
const fillArgument = fillAt < 0 ? 'marked' : process.argv[fillAt + 1];
if (fillArgument !== 'marked' && fillArgument !== 'simulated' && fillArgument !== 'eager') {
  console.error(`ssd-mqsim-speed: --fill must be marked, eager or simulated, got ${fillArgument}`);
  process.exit(2);
}
const fill: 'marked' | 'simulated' | 'eager' = fillArgument;
/** The library's fill: 'eager' is the marked fill with every entry written as it goes (patched in below). */
const preconditionFill: 'marked' | 'simulated' = fill === 'eager' ? 'marked' : fill;
if (fill === 'eager') {
  // The marked fill as before the lazy fill (src/ftl/lazy-fill.ts): FtlState.lazyFill off, so a
  // sequential kernel fill writes every L2P entry, head, page state and programmed byte at once.
  const markedFill = Ftl.prototype.markedFill;
  Ftl.prototype.markedFill = function (this: Ftl, ...args: Parameters<Ftl['markedFill']>) {
    this.internalState.lazyFill = false;
    return markedFill.apply(this, args);
  };
}
const OCCUPANCY = 0.7;
const QUEUE_DEPTH = 32;
const SEED = 321;
const geometryOf = (blocksPerPlane: number) => ({ pageSize: 8192, spareSize: 448, pagesPerBlock: 256, blocksPerDie: 4 * blocksPerPlane, diesPerChannel: 4, channels: 8 });
const overProvisioning = 0.07 / 0.93;
const mqsimBin = process.env.MQSIM_BIN ?? '/tmp/mqsim/MQSim';
const haveMqsim = existsSync(mqsimBin);
const traceDir = fileURLToPath(new URL('../packages/ssd/test/fixtures/traces/', import.meta.url));

// ------------------------------------------------------------------ MQSim's input files

/** MQSim's default ssdconfig.xml with B blocks per plane, the ideal mapping table and no preconditioning pass of its own. */
function ssdConfigXml(blocksPerPlane: number): string {
  const geometry = geometryOf(blocksPerPlane);
  const device: [string, string | number][] = [
    ['Seed', SEED], ['Enabled_Preconditioning', 'false'], ['Memory_Type', 'FLASH'], ['HostInterface_Type', 'NVME'],
    ['IO_Queue_Depth', 65535], ['Queue_Fetch_Size', 512], ['Caching_Mechanism', 'ADVANCED'], ['Data_Cache_Sharing_Mode', 'SHARED'],
    ['Data_Cache_Capacity', 268435456], ['Data_Cache_DRAM_Row_Size', 8192], ['Data_Cache_DRAM_Data_Rate', 100],
    ['Data_Cache_DRAM_Data_Busrt_Size', 1], ['Data_Cache_DRAM_tRCD', 13], ['Data_Cache_DRAM_tCL', 13], ['Data_Cache_DRAM_tRP', 13],
    ['Address_Mapping', 'PAGE_LEVEL'], ['Ideal_Mapping_Table', 'true'], ['CMT_Capacity', 2097152], ['CMT_Sharing_Mode', 'SHARED'],
    ['Plane_Allocation_Scheme', 'CWDP'], ['Transaction_Scheduling_Policy', 'PRIORITY_OUT_OF_ORDER'], ['Overprovisioning_Ratio', 0.07],
    ['GC_Exec_Threshold', '0.05000'], ['GC_Block_Selection_Policy', 'RGA'], ['Use_Copyback_for_GC', 'false'],
    ['Preemptible_GC_Enabled', 'false'], ['GC_Hard_Threshold', '0.005000'], ['Dynamic_Wearleveling_Enabled', 'true'],
    ['Static_Wearleveling_Enabled', 'true'], ['Static_Wearleveling_Threshold', 100], ['Preferred_suspend_erase_time_for_read', 700000],
    ['Preferred_suspend_erase_time_for_write', 700000], ['Preferred_suspend_write_time_for_read', 100000],
    ['Flash_Channel_Count', geometry.channels], ['Flash_Channel_Width', 1], ['Channel_Transfer_Rate', 333],
    ['Chip_No_Per_Channel', geometry.diesPerChannel], ['Flash_Comm_Protocol', 'NVDDR2'],
  ];
  const flash: [string, string | number][] = [
    ['Flash_Technology', 'MLC'], ['CMD_Suspension_Support', 'ERASE'],
    ['Page_Read_Latency_LSB', 75000], ['Page_Read_Latency_CSB', 75000], ['Page_Read_Latency_MSB', 75000],
    ['Page_Program_Latency_LSB', 750000], ['Page_Program_Latency_CSB', 750000], ['Page_Program_Latency_MSB', 750000],
    ['Block_Erase_Latency', 3800000], ['Block_PE_Cycles_Limit', 10000], ['Suspend_Erase_Time', 700000], ['Suspend_Program_Time', 100000],
    ['Die_No_Per_Chip', 2], ['Plane_No_Per_Die', 2], ['Block_No_Per_Plane', blocksPerPlane], ['Page_No_Per_Block', geometry.pagesPerBlock],
    ['Page_Capacity', geometry.pageSize], ['Page_Metadat_Capacity', geometry.spareSize],
  ];
  const tags = (pairs: [string, string | number][], indent: string): string => pairs.map(([k, v]) => `${indent}<${k}>${v}</${k}>`).join('\n');
  return `<?xml version="1.0" encoding="us-ascii"?>
<Execution_Parameter_Set>
\t<Host_Parameter_Set>
\t\t<PCIe_Lane_Bandwidth>1.00000</PCIe_Lane_Bandwidth>
\t\t<PCIe_Lane_Count>4</PCIe_Lane_Count>
\t\t<SATA_Processing_Delay>400000</SATA_Processing_Delay>
\t\t<Enable_ResponseTime_Logging>false</Enable_ResponseTime_Logging>
\t\t<ResponseTime_Logging_Period_Length>1000000</ResponseTime_Logging_Period_Length>
\t</Host_Parameter_Set>
\t<Device_Parameter_Set>
${tags(device, '\t\t')}
\t\t<Flash_Parameter_Set>
${tags(flash, '\t\t\t')}
\t\t</Flash_Parameter_Set>
\t</Device_Parameter_Set>
</Execution_Parameter_Set>
`;
}

const FLOW_COMMON = `<Priority_Class>HIGH</Priority_Class><Device_Level_Data_Caching_Mode>TURNED_OFF</Device_Level_Data_Caching_Mode>
<Channel_IDs>0,1,2,3,4,5,6,7</Channel_IDs><Chip_IDs>0,1,2,3</Chip_IDs><Die_IDs>0,1</Die_IDs><Plane_IDs>0,1</Plane_IDs>
<Initial_Occupancy_Percentage>${OCCUPANCY * 100}</Initial_Occupancy_Percentage>`;

/** A QUEUE_DEPTH synthetic flow: `requests` random uniform one-page (16-sector) writes. */
function syntheticWorkloadXml(requests: number): string {
  return `<?xml version="1.0" encoding="us-ascii"?>
<MQSim_IO_Scenarios><IO_Scenario><IO_Flow_Parameter_Set_Synthetic>
${FLOW_COMMON}<Working_Set_Percentage>100</Working_Set_Percentage>
<Synthetic_Generator_Type>QUEUE_DEPTH</Synthetic_Generator_Type><Read_Percentage>0</Read_Percentage>
<Address_Distribution>RANDOM_UNIFORM</Address_Distribution><Percentage_of_Hot_Region>0</Percentage_of_Hot_Region>
<Generated_Aligned_Addresses>true</Generated_Aligned_Addresses><Address_Alignment_Unit>16</Address_Alignment_Unit>
<Request_Size_Distribution>FIXED</Request_Size_Distribution><Average_Request_Size>16</Average_Request_Size><Variance_Request_Size>0</Variance_Request_Size>
<Seed>${SEED}</Seed><Average_No_of_Reqs_in_Queue>${QUEUE_DEPTH}</Average_No_of_Reqs_in_Queue><Intensity>32768</Intensity>
<Stop_Time>0</Stop_Time><Total_Requests_To_Generate>${requests}</Total_Requests_To_Generate>
</IO_Flow_Parameter_Set_Synthetic></IO_Scenario></MQSim_IO_Scenarios>
`;
}

function traceWorkloadXml(traceFile: string): string {
  return `<?xml version="1.0" encoding="us-ascii"?>
<MQSim_IO_Scenarios><IO_Scenario><IO_Flow_Parameter_Set_Trace_Based>
${FLOW_COMMON}<File_Path>${traceFile}</File_Path>
<Percentage_To_Be_Executed>100</Percentage_To_Be_Executed><Relay_Count>1</Relay_Count><Time_Unit>NANOSECOND</Time_Unit>
</IO_Flow_Parameter_Set_Trace_Based></IO_Scenario></MQSim_IO_Scenarios>
`;
}

interface MqsimRun {
  seconds: number;
  /** CPU seconds (user + system) of the MQSim process. */
  cpuSeconds: number;
  requests: number;
  erases: number;
}

/** CPU seconds (user + system) of this process's waited-for children so far (/proc/self/stat cutime + cstime, 100 ticks a second); NaN without /proc. */
function childCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system, every thread) of this process since `from` (process.cpuUsage). */
function ownCpuSeconds(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

/** Runs MQSim in `dir` on ssd.xml and wl.xml; wall time, requests serviced and flash erases from its output. */
function runMqsim(dir: string, blocksPerPlane: number, workloadXml: string): MqsimRun {
  writeFileSync(join(dir, 'ssd.xml'), ssdConfigXml(blocksPerPlane));
  writeFileSync(join(dir, 'wl.xml'), workloadXml);
  const cpu = childCpuSeconds();
  const started = performance.now();
  const log = execFileSync(mqsimBin, ['-i', 'ssd.xml', '-w', 'wl.xml'], { cwd: dir, encoding: 'utf8', input: '\n', maxBuffer: 1 << 26 });
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = childCpuSeconds() - cpu;
  const results = readFileSync(join(dir, 'wl_scenario_1.xml'), 'utf8');
  const serviced = /total requests serviced:\s*(\d+)/.exec(log);
  const erases = /Issued_Flash_Erase_CMD="(\d+)"/.exec(results);
  return { seconds, cpuSeconds, requests: serviced ? Number(serviced[1]) : NaN, erases: erases ? Number(erases[1]) : NaN };
}

// ------------------------------------------------------------------ the cases

/** Where the replay ran: the kernel replay (src/simulator/replay-kernel.ts), or TypeScript and why. */
function replayEngine(engine: unknown): string {
  const e = engine as { replayKernel?: boolean; typescriptBecause: string[] };
  return e.replayKernel === true ? 'in the kernel' : `in TypeScript (${e.typescriptBecause.join('; ')})`;
}

/** One of our replays, measured in its own process (see the header): scenario file to report. */
interface ReplayRun {
  wall: number;
  cpu: number;
  /** CPU seconds of the whole child process: Node's start, loading and compiling our modules, the run. */
  processCpu: number;
  detail: string;
}

/** The replay itself, in this process: from reading the scenario file to the report. */
function replayHere(blocksPerPlane: number, trace: string, occupied: boolean): ReplayRun {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const scenario = applyOverrides(loadScenario('mqsim-default'), [{
    device: { geometry: { blocksPerDie: geometryOf(blocksPerPlane).blocksPerDie } },
    precondition: occupied ? { state: 'sequential', occupancy: OCCUPANCY, seed: SEED } : { state: 'none' },
    workload: { kind: 'trace', path: join(traceDir, `mqsim-${trace}-small.trace`) },
    outputs: { snapshotEvery: 0 },
  }]);
  const report = runScenario(scenario, { preconditionFill });
  const wall = (performance.now() - started) / 1000;
  const used = ownCpuSeconds(cpu);
  const all = process.cpuUsage();
  const pre = report.precondition;
  return {
    wall,
    cpu: used,
    processCpu: (all.user + all.system) / 1e6,
    detail: `${pre && pre.state !== 'none' ? `${pre.fill} fill ${pre.wallSeconds.toFixed(2)} s of it; ` : ''}mean latency ${report.latencyUs.mean.toFixed(0)} µs; replay ${replayEngine(report.config.engine)}`,
  };
}

/** The compiled `ssdsim replay` as a user runs it (bin/ssdsim.js as a command), the same case: its whole process's wall and CPU seconds. */
interface CommandRun {
  wall: number;
  cpu: number;
  /** Its report's mean latency (µs): the same case as the in-process replay's. */
  meanUs: number;
}

const ssdsimBin = fileURLToPath(new URL('../packages/ssd/bin/ssdsim.js', import.meta.url));

function ssdsimReplay(blocksPerPlane: number, trace: string, occupied: boolean): CommandRun {
  const args = ['replay', join(traceDir, `mqsim-${trace}-small.trace`), '--scenario', 'mqsim-default', '--blocks', String(geometryOf(blocksPerPlane).blocksPerDie), '--snapshot-every', '0', '--json'];
  if (occupied) args.push('--precondition-state', 'sequential', '--occupancy', String(OCCUPANCY));
  else args.push('--precondition-state', 'none');
  const cpu = childCpuSeconds();
  const started = performance.now();
  const out = execFileSync(ssdsimBin, args, { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, SSDSIM_BUNDLE_QUIET: '1' } });
  const wall = (performance.now() - started) / 1000;
  const used = childCpuSeconds() - cpu;
  return { wall, cpu: used, meanUs: (JSON.parse(out) as { latencyUs: { mean: number } }).latencyUs.mean };
}

/** The replay in a fresh Node process (this script with --child), as MQSim runs in a fresh process. */
function ourReplay(blocksPerPlane: number, trace: string, occupied: boolean): ReplayRun {
  const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(blocksPerPlane), trace, occupied ? 'occupied' : 'unwritten', '--fill', fill], { encoding: 'utf8', maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').pop()!) as ReplayRun;
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  const [b, trace, state] = process.argv.slice(childAt + 1, childAt + 4);
  console.log(JSON.stringify(replayHere(Number(b), trace!, state === 'occupied')));
  process.exit(0);
}

interface Row {
  name: string;
  ours: number;
  oursCpu: number;
  /** Our whole process's CPU seconds (replays: Node's start and module loading included), when measured. */
  processCpu?: number;
  /** The compiled `ssdsim replay` of the same case as a whole process (replays). */
  command?: CommandRun;
  oursDetail: string;
  mqsim: MqsimRun | null;
}
const rows: Row[] = [];
const work = haveMqsim ? mkdtempSync(join(tmpdir(), 'ssd-mqsim-speed-')) : '';

const physicalGiB = (blocksPerPlane: number): number => {
  const g = geometryOf(blocksPerPlane);
  return (g.channels * g.diesPerChannel * g.blocksPerDie * g.pagesPerBlock * g.pageSize) / 2 ** 30;
};
const deviceName = (blocksPerPlane: number): string => `${blocksPerPlane} blocks/plane (${physicalGiB(blocksPerPlane)} GiB)`;

try {
  // 1. Synthetic with GC active (at the first geometry).
  if (!process.argv.includes('--replays-only')) {
    const blocksPerPlane = blockList[0]!;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const sim = new SsdSimulator({
      geometry: geometryOf(blocksPerPlane),
      timing: MQSIM_TIMING,
      ftl: { overProvisioning, hostAllocation: 'cwdp', gcPolicy: 'greedy' },
      queueDepth: QUEUE_DEPTH,
      snapshotEvery: 0,
      workload: { kind: 'uniform', seed: SEED },
    });
    preconditionSimulator(sim, { state: 'sequential', occupancy: OCCUPANCY, seed: SEED, fill: preconditionFill });
    const writes = option('--writes', sim.userPages);
    const report = sim.run(writes);
    const ours = (performance.now() - started) / 1000;
    const oursCpu = ownCpuSeconds(cpu);
    const engine = sim.engine();
    rows.push({
      name: `${deviceName(blocksPerPlane)}: synthetic, GC active (${writes} random page writes, QD ${QUEUE_DEPTH})`,
      ours,
      oursCpu,
      oursDetail: `WAF ${report.waf.toFixed(2)}, ${report.gcRuns} GC runs, ${report.erases} erases, run loop ${engine.runLoopKernel ? 'kernel' : 'TypeScript'}`,
      mqsim: haveMqsim ? runMqsim(work, blocksPerPlane, syntheticWorkloadXml(writes)) : null,
    });
  }
  // 2., 3. MQSim's traces at each geometry: replayed on the device 70 % occupied first, and on the
  // device as MQSim replays them (nothing written first); MQSim once per trace and geometry.
  for (const blocksPerPlane of blockList) {
    for (const trace of ['tpcc', 'wsrch'] as const) {
      const file = `mqsim-${trace}-small.trace`;
      let mqsim: MqsimRun | null = null;
      if (haveMqsim) {
        copyFileSync(join(traceDir, file), join(work, file));
        mqsim = runMqsim(work, blocksPerPlane, traceWorkloadXml(file));
      }
      for (const occupied of [true, false]) {
        const r = ourReplay(blocksPerPlane, trace, occupied);
        const command = ssdsimReplay(blocksPerPlane, trace, occupied);
        rows.push({
          command,
          name: `${deviceName(blocksPerPlane)}: ${trace}-small replay, ${occupied ? `${OCCUPANCY * 100} % occupied first` : 'nothing written first (as MQSim)'}`,
          ours: r.wall,
          oursCpu: r.cpu,
          processCpu: r.processCpu,
          oursDetail: r.detail,
          mqsim,
        });
      }
    }
  }
} finally {
  if (haveMqsim) rmSync(work, { recursive: true, force: true });
}

console.log(`device: MQSim's default with ${blockList.join(' and ')} blocks per plane; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
if (!haveMqsim) console.log(`MQSim not found at ${mqsimBin} (set MQSIM_BIN): only our wall times are printed`);
for (const r of rows) {
  const m = r.mqsim;
  const theirs =
    m === null
      ? ''
      : ` | MQSim ${m.seconds.toFixed(2)} s, CPU ${m.cpuSeconds.toFixed(2)} s (${m.requests} requests serviced, ${m.erases} erases)` +
        ` | MQSim / ours: wall ${(m.seconds / r.ours).toFixed(1)}×, CPU ${(m.cpuSeconds / r.oursCpu).toFixed(1)}×` +
        (r.processCpu !== undefined ? `; whole processes by CPU ${(m.cpuSeconds / r.processCpu).toFixed(2)}×` : '') +
        (r.command !== undefined ? `; MQSim / compiled ssdsim replay (whole processes): CPU ${(m.cpuSeconds / r.command.cpu).toFixed(1)}×, wall ${(m.seconds / r.command.wall).toFixed(1)}×` : '');
  const whole = (r.processCpu !== undefined ? `; whole process CPU ${r.processCpu.toFixed(2)} s` : '') + (r.command !== undefined ? `; compiled ssdsim replay ${r.command.wall.toFixed(2)} s, CPU ${r.command.cpu.toFixed(2)} s (mean latency ${r.command.meanUs.toFixed(0)} µs)` : '');
  console.log(`${r.name}: ours ${r.ours.toFixed(3)} s, CPU ${r.oursCpu.toFixed(3)} s${whole} (${r.oursDetail})${theirs}`);
}
console.log(`command: npx tsx bench/ssd-mqsim-speed.ts --blocks-per-plane ${blockList.join(',')} --fill ${fill}${process.argv.includes('--replays-only') ? ' --replays-only' : ''}`);
