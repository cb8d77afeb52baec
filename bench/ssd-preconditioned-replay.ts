// A preconditioned trace replay through the scenario runner (what `ssdsim replay` does) with the
// default time-series interval against --snapshot-every 0 (no time series), side by side. Issue 18:
// the interval used to be the trace's requests / 100 and applied to the preconditioning fill too,
// so a preconditioned replay grew quadratically with the device (600 s and counting at 512 GiB,
// 4 s without the time series). Now the fill takes no points and the interval is 1 % of the
// measured host page writes, so the two cases should take about the same time. Measured on the
// 2-core machine at --blocks 512: 5.81 s vs 5.60 s (ratio 1.04); the code before the fix (9b64e47)
// did not finish the default case in 300 s, against 3.37 s with no time series.
// Run: npx tsx bench/ssd-preconditioned-replay.ts [--blocks N]
//   --blocks: blocks per die of MQSim's default device (8 channels × 8 dies × N × 256 pages of
//   8 KiB; default 512 = 64 GiB; the scenario's 4096 is 512 GiB and needs ~3 GB of memory).
import { fileURLToPath } from 'node:url';
import { applyOverrides, loadScenario, runScenario } from '@flashdiff/ssd';

const at = process.argv.indexOf('--blocks');
const blocks = at >= 0 ? Number(process.argv[at + 1]) : 512;
if (!Number.isInteger(blocks) || blocks < 1) {
  console.error(`ssd-preconditioned-replay: --blocks must be a positive integer, got ${process.argv[at + 1]}`);
  process.exit(2);
}
const trace = fileURLToPath(new URL('../packages/ssd/test/fixtures/traces/mqsim-tpcc-small.trace', import.meta.url));
const base = applyOverrides(loadScenario('mqsim-default'), [{ device: { geometry: { blocksPerDie: blocks } }, workload: { kind: 'trace', path: trace } }]);

const cases: [string, number | null][] = [['default interval (1 % of the page writes)', null], ['--snapshot-every 0 (no time series)', 0]];
const seconds: number[] = [];
for (const [name, every] of cases) {
  const scenario = applyOverrides(base, [{ outputs: { snapshotEvery: every } }]);
  const started = performance.now();
  const report = runScenario(scenario);
  const s = (performance.now() - started) / 1000;
  seconds.push(s);
  const c = report.config as { userPages: number; snapshotEvery: number };
  console.log(`${name}: ${s.toFixed(2)} s wall (fill ${report.precondition!.hostPageWrites} pages, replay ${report.hostPageWrites} page writes, ${report.timeSeries.length} points every ${c.snapshotEvery}, user pages ${c.userPages})`);
}
console.log(`ratio default / none: ${(seconds[0]! / seconds[1]!).toFixed(2)} (1.00 = the time series costs nothing; before the fix it grew with the device)`);
console.log(`command: npx tsx bench/ssd-preconditioned-replay.ts --blocks ${blocks}`);
