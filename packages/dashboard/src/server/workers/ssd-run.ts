/**
 * Worker thread of an SSD run: builds the simulator, preconditions, then either runs the
 * workload (or replays the trace) freely, sending a frame ~8 times a second, or waits for
 * "step" controls and sends a frame after each (stepping mode, for the seed's mini SSD).
 */
import { readFileSync } from 'node:fs';
import { parseTrace, SsdSimulator } from '@flashdiff/ssd';
import type { SimulationReport } from '@flashdiff/ssd';
import type { SsdControl } from '../../shared/protocol.ts';
import { BoundedSeries } from '../../shared/series.ts';
import { ssdFrame, ssdSample } from '../adapters/ssd.ts';
import type { SsdRunPlan } from '../adapters/ssd.ts';
import { JobCancelled, runWorkerJob } from '../worker-protocol.ts';

const FRAME_INTERVAL_MS = 120;
/** Host operations between clock checks in the free-running loop. */
const CHUNK = 512;

runWorkerJob<SsdRunPlan>(async (job) => {
  const plan = job.params;
  const sim = new SsdSimulator(plan.config);
  const g = plan.config.geometry;
  const dies = g.channels * g.diesPerChannel;
  let paused = false;
  let pendingSteps = 0;
  let wake: (() => void) | undefined;
  job.onControl((raw) => {
    const control = raw as SsdControl;
    if (control.action === 'step') pendingSteps += Math.max(1, Math.min(100_000, Math.floor(control.count)));
    else if (control.action === 'pause') paused = true;
    else if (control.action === 'resume') paused = false;
    wake?.();
  });
  const waitForControl = (): Promise<void> =>
    new Promise((resolve) => {
      wake = () => {
        wake = undefined;
        resolve();
      };
      // Wake now and then to notice a cancel (the flag is shared memory, not a message).
      setTimeout(() => wake?.(), 250);
    });

  const checkCancel = (): void => {
    if (job.cancelled()) throw new JobCancelled();
  };

  if (plan.request.precondition) {
    job.progress(0, sim.userPages, 'preconditioning: filling every LBA once');
    sim.precondition((done, total) => {
      checkCancel();
      job.progress(done, total, `preconditioning: ${done} / ${total} pages`);
    });
  } else sim.startMeasurement();
  const baseline = { host: sim.ftl.counters.hostPageWrites, nand: sim.device.stats.pagePrograms };
  // The time series (about 300 samples per free run; thinned past 600), sent whole with each frame.
  const series = new BoundedSeries(['host', 'nand', 'free'] as const);
  const sample = (): void => {
    const s = ssdSample(sim, baseline);
    if (series.length === 0 || s.host > series.last('host')!) series.push(s);
  };
  sample();
  const frame = (lastEvent?: string): void => {
    job.frame(ssdFrame(sim, baseline, { paused, series: series.columns, ...(lastEvent !== undefined ? { lastEvent } : {}) }));
  };
  frame(plan.request.precondition ? 'preconditioned: every LBA written once' : 'empty drive');

  let report: SimulationReport;
  if (plan.trace) {
    const requests = parseTrace(readFileSync(plan.trace.path, 'utf8'), plan.trace.name);
    let lastFrame = Date.now();
    // Replayed in slices so frames can be drawn between them; each slice keeps its own arrival gaps.
    const slice = 256;
    for (let i = 0; i < requests.length; i += slice) {
      checkCancel();
      while (paused) {
        await waitForControl();
        checkCancel();
      }
      sim.replay(requests.slice(i, i + slice));
      sample();
      const done = Math.min(requests.length, i + slice);
      if (Date.now() - lastFrame >= FRAME_INTERVAL_MS || done === requests.length) {
        lastFrame = Date.now();
        frame();
        job.progress(done, requests.length, `replayed ${done} / ${requests.length} requests of ${plan.trace.name}`);
        await job.yieldToEvents();
      }
    }
    report = sim.report();
    report.config = { ...report.config, command: 'replay', trace: plan.trace.name, requests: requests.length, precondition: plan.request.precondition };
  } else if (plan.request.stepped) {
    const target = plan.writes;
    job.progress(0, target, 'stepping: waiting for "step"');
    let done = 0;
    while (done < target) {
      checkCancel();
      if (pendingSteps === 0) {
        await waitForControl();
        continue;
      }
      const gcBefore = sim.ftl.counters.gcRuns;
      const movedBefore = sim.ftl.counters.gcMovedPages;
      const erasesBefore = sim.device.stats.blockErases;
      sim.step(1);
      pendingSteps--;
      done++;
      const lba = sim.workload.lba;
      const ppa = sim.ftl.physicalPage(lba);
      const block = Math.floor(ppa / g.pagesPerBlock);
      let event = `host write of LBA ${lba} → page ${ppa % g.pagesPerBlock} of block ${block % g.blocksPerDie} on die ${Math.floor(block / g.blocksPerDie)}`;
      const gcRuns = sim.ftl.counters.gcRuns - gcBefore;
      if (gcRuns > 0) {
        const moved = sim.ftl.counters.gcMovedPages - movedBefore;
        const erased = sim.device.stats.blockErases - erasesBefore;
        event = `garbage collection (${gcRuns} run${gcRuns > 1 ? 's' : ''}): moved ${moved} valid page${moved === 1 ? '' : 's'}, erased ${erased} block${erased === 1 ? '' : 's'}; then ${event}`;
      }
      sample();
      if (pendingSteps === 0 || done === target) {
        frame(event);
        job.progress(done, target, `stepped ${done} / ${target} host writes`);
        await job.yieldToEvents();
      }
    }
    report = sim.report();
    report.config = { ...report.config, command: 'step', writes: target };
  } else {
    const target = plan.writes;
    let done = 0;
    let lastFrame = Date.now();
    // About 300 samples, each interval at least a block of writes (an interval WAF over a few
    // writes says only whether GC happened to run in it).
    const pointEvery = Math.max(1, Math.floor(target / 300), g.pagesPerBlock);
    let nextPoint = pointEvery;
    // Pacing (writesPerSecond > 0): the write budget grows with wall time; paused time is not counted.
    const pace = plan.request.writesPerSecond;
    let pacedMs = 0;
    let pacedSince = Date.now();
    while (done < target) {
      checkCancel();
      if (paused) {
        pacedMs += Date.now() - pacedSince;
        while (paused) {
          frame('paused');
          await waitForControl();
          checkCancel();
        }
        pacedSince = Date.now();
      }
      const budget = pace > 0 ? Math.floor(((pacedMs + Date.now() - pacedSince) / 1000) * pace) - done : Infinity;
      if (budget <= 0) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(100, Math.max(5, 1000 / pace))));
        if (Date.now() - lastFrame >= FRAME_INTERVAL_MS) {
          lastFrame = Date.now();
          frame();
        }
        continue;
      }
      const doneAtSlice = done;
      const started = Date.now();
      // Run for a slice of wall time, then let controls in and maybe draw.
      while (done < target && Date.now() - started < 40 && done - doneAtSlice < budget) {
        const n = Math.max(1, Math.min(CHUNK, target - done, nextPoint - done, budget - (done - doneAtSlice)));
        const before = sim.ftl.counters.hostPageWrites;
        sim.step(n);
        done += sim.ftl.counters.hostPageWrites - before;
        if (done >= nextPoint) {
          sample();
          nextPoint += pointEvery;
        }
      }
      if (Date.now() - lastFrame >= FRAME_INTERVAL_MS || done >= target) {
        lastFrame = Date.now();
        frame();
        job.progress(done, target, `${done.toLocaleString('en-US')} / ${target.toLocaleString('en-US')} host page writes`);
      }
      await job.yieldToEvents();
    }
    report = sim.report();
    report.config = { ...report.config, command: 'run', writes: target, precondition: plan.request.precondition };
  }
  // The last sample: the run's end (a partial interval, which the page's interval WAF merges).
  sample();
  frame('finished');
  // The time series is drawn from frames; drop it from the report to keep the message small.
  const { timeSeries: _timeSeries, ...summary } = report;
  job.result({ ...summary, dies });
});
