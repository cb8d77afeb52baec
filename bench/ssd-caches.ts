// The SSD simulator's two caches on synthetic workloads, side by side with the cache-less run in
// one process: the DRAM write-back data cache (sizes in pages) and the DFTL cached mapping table
// (sizes in entries), each alone, on uniform and hot/cold (20 % of the LBAs take 80 % of the
// writes) random writes with 30 % reads, after a sequential fill. Prints WAF, the cache's hit
// ratio, mean and p99 host write latency (closed loop, queue depth 32), and the wall time with
// its ratio to the cache-less run (which runs in the WebAssembly kernel; a cache keeps the run loop
// in TypeScript, and the cached mapping table keeps the whole FTL there).
//
// Run: npx tsx bench/ssd-caches.ts [--blocks 64] [--writes-x 2]
import { loadavg } from 'node:os';
import { geometryPreset } from '@flashdiff/nand';
import { SsdSimulator } from '@flashdiff/ssd';
import type { SimulatorConfig } from '@flashdiff/ssd';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const blocks = arg('--blocks', 64);
const writesX = arg('--writes-x', 2);
const geometry = { ...geometryPreset('ssd-small'), blocksPerDie: blocks };

interface Variant {
  name: string;
  config: Partial<SimulatorConfig>;
}
const VARIANTS: Variant[] = [
  { name: 'no cache', config: {} },
  { name: 'data cache 256 pages', config: { dataCache: { capacityPages: 256 } } },
  { name: 'data cache 4096 pages', config: { dataCache: { capacityPages: 4096 } } },
  { name: 'mapping cache 1024', config: { ftl: { mappingCacheEntries: 1024 } } },
  { name: 'mapping cache 16384', config: { ftl: { mappingCacheEntries: 16384 } } },
];

console.log(`ssd-small with ${blocks} blocks per die, ${writesX}× user capacity of host writes, 30 % reads; load average ${loadavg()[0]!.toFixed(1)}`);
console.log('workload | configuration          |   WAF | hit ratio | write mean µs | write p99 µs | wall s (× no cache)');
for (const kind of ['uniform', 'hotcold'] as const) {
  let baseWall = 0;
  for (const v of VARIANTS) {
    const sim = new SsdSimulator({
      geometry,
      ...v.config,
      ftl: { overProvisioning: 0.2, ...v.config.ftl },
      workload: { kind, readRatio: 0.3, hotFraction: 0.2, hotAccessFraction: 0.8, seed: 1 },
    });
    sim.precondition();
    const t0 = performance.now();
    const r = sim.run(writesX * sim.userPages);
    const wall = (performance.now() - t0) / 1000;
    if (v.name === 'no cache') baseWall = wall;
    const hit = r.dataCache ? r.dataCache.readHitRatio : r.mappingCache ? r.mappingCache.hitRatio : NaN;
    console.log(
      `${kind.padEnd(8)} | ${v.name.padEnd(22)} | ${r.waf.toFixed(3)} | ${Number.isNaN(hit) ? '        -' : `${(hit * 100).toFixed(1).padStart(7)} %`} | ` +
        `${r.writeLatencyUs.mean.toFixed(0).padStart(13)} | ${r.writeLatencyUs.p99.toFixed(0).padStart(12)} | ${wall.toFixed(2)} (${(wall / baseWall).toFixed(1)}×)`,
    );
  }
}
console.log(`command: npx tsx bench/ssd-caches.ts --blocks ${blocks} --writes-x ${writesX}`);
