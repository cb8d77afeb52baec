/**
 * Power-loss harness in littlefs's "reentrant" style: each scenario is re-run with power cut
 * during the 1st, 2nd, 3rd … NAND program/erase (every point for the small scenario, seeded
 * random points for the large one). After each cut the device reboots and must mount; every
 * file synced before the cut reads back exactly; a synced rename is all-or-nothing.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isNandError } from '@flashdiff/nand';
import type { SimulatedNand } from '@flashdiff/nand';
import { isYaffs2Error, Yaffs2 } from '../src/index.ts';
import { bytes, prng, smallDevice } from './helpers.ts';

type Snapshot = Map<string, Uint8Array>;
interface Step {
  /** Paths this step changes. */
  touches: string[];
  /** Atomic steps (rename, unlink) must leave their paths wholly before or wholly after; a write in flight may leave its file partly written. */
  atomic?: boolean;
  run(fs: Yaffs2): void;
}

function snapshot(fs: Yaffs2): Snapshot {
  const out: Snapshot = new Map();
  const walk = (dir: string): void => {
    for (const e of fs.readdir(dir)) {
      const p = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
      if (e.type === 'directory') walk(p);
      else if (e.type === 'file') out.set(p, fs.readFile(p));
    }
  };
  walk('/');
  return out;
}

const BLOCKS = 10;
/** Seeded random cut points of the large scenario: 40 in `npm test`, more under `npm run test:torture`. */
const RANDOM_CUTS = Number(process.env.YAFFS2_TORTURE_CUTS ?? 40);

/** Runs the steps (each followed by sync) on a fresh device; returns snapshots after each step. */
function runScenario(steps: Step[], device: SimulatedNand, cutAt: number): { completed: number; fs: Yaffs2 | null; cut: boolean } {
  const fs = Yaffs2.format(device, { reservedBlocks: 2, now: () => 1_700_000_000 });
  fs.sync();
  if (cutAt > 0) device.faults.cutPowerAfter(cutAt);
  let completed = 0;
  try {
    for (const step of steps) {
      step.run(fs);
      fs.sync();
      completed++;
    }
  } catch (e) {
    if (isNandError(e, 'POWER_LOSS')) return { completed, fs: null, cut: true };
    throw e;
  }
  device.faults.cutPowerAfter(0);
  return { completed, fs, cut: false };
}

function checkAfterCut(fs: Yaffs2, before: Snapshot, after: Snapshot, inFlight: Step | undefined, label: string): void {
  const now = snapshot(fs);
  // The step's declared paths, and any other path it changed in the reference run (a write
  // through one name of a hard-linked file changes the others).
  const touched = new Set(inFlight?.touches ?? []);
  for (const p of new Set([...before.keys(), ...after.keys()])) {
    const x = before.get(p);
    const y = after.get(p);
    if (x === undefined || y === undefined || x.length !== y.length || !x.every((v, i) => v === y[i])) touched.add(p);
  }
  for (const [path, data] of before) {
    if (touched.has(path)) continue;
    assert.deepEqual(now.get(path), data, `${label}: synced file ${path} changed`);
  }
  for (const path of inFlight?.atomic ? inFlight.touches : []) {
    const got = now.get(path);
    const a = before.get(path);
    const b = after.get(path);
    const same = (x: Uint8Array | undefined, y: Uint8Array | undefined): boolean =>
      x === undefined ? y === undefined : y !== undefined && x.length === y.length && x.every((v, i) => v === y[i]);
    assert.ok(same(got, a) || same(got, b), `${label}: ${path} is neither its old nor its new content`);
  }
  // A rename is all-or-nothing: the touched set is either wholly before or wholly after.
  if (inFlight?.atomic) {
    const allBefore = inFlight.touches.every((p) => (now.get(p) === undefined) === (before.get(p) === undefined));
    const allAfter = inFlight.touches.every((p) => (now.get(p) === undefined) === (after.get(p) === undefined));
    assert.ok(allBefore || allAfter, `${label}: rename half done`);
  }
  assert.deepEqual(fs.check(), [], `${label}: check`);
}

/** Cut points: all of them, or a function of the total and of each step's [first, last] operation. */
type CutPoints = (total: number, stepOps: [number, number][]) => number[];

function harness(steps: Step[], cutPoints: CutPoints): number {
  // Reference run: snapshots after each step and the number of operations.
  const refDevice = smallDevice(BLOCKS);
  const ref = Yaffs2.format(refDevice, { reservedBlocks: 2, now: () => 1_700_000_000 });
  ref.sync();
  const startOps = refDevice.faults.operations;
  const snapshots: Snapshot[] = [snapshot(ref)];
  const stepOps: [number, number][] = [];
  for (const step of steps) {
    const first = refDevice.faults.operations - startOps + 1;
    step.run(ref);
    ref.sync();
    stepOps.push([first, refDevice.faults.operations - startOps]);
    snapshots.push(snapshot(ref));
  }
  const total = refDevice.faults.operations - startOps;
  let cuts = 0;
  for (const cutAt of cutPoints(total, stepOps)) {
    const device = smallDevice(BLOCKS);
    const result = runScenario(steps, device, cutAt);
    assert.ok(result.cut, `cut ${cutAt} of ${total} did not happen`);
    cuts++;
    device.reboot();
    const mounted = Yaffs2.mount(device, { reservedBlocks: 2 });
    const label = `cut at op ${cutAt}/${total} during step ${result.completed}`;
    checkAfterCut(mounted, snapshots[result.completed]!, snapshots[result.completed + 1] ?? snapshots[result.completed]!, steps[result.completed], label);
    // The file system stays usable: write, sync, remount by scan.
    mounted.writeFile('/after-cut', bytes(3000, cutAt));
    mounted.sync();
    const again = Yaffs2.mount(device, { reservedBlocks: 2, checkpoint: false });
    assert.deepEqual(again.readFile('/after-cut'), bytes(3000, cutAt), `${label}: write after recovery`);
  }
  return cuts;
}

describe('power loss', () => {
  test('small scenario: power cut at every program and erase', () => {
    const steps: Step[] = [
      { touches: ['/a'], run: (fs) => fs.writeFile('/a', bytes(5000, 1)) },
      { touches: ['/d/b'], run: (fs) => { fs.mkdir('/d'); fs.writeFile('/d/b', bytes(2049, 2)); } },
      { touches: ['/a'], run: (fs) => { const fd = fs.open('/a', { write: true }); fs.write(fd, bytes(100, 3), 4000); fs.close(fd); } },
      { atomic: true, touches: ['/d/b', '/c'], run: (fs) => fs.rename('/d/b', '/c') },
      // A rename over a hard-linked target: /l keeps the old /c, /c becomes /s, all or nothing.
      { touches: ['/l'], run: (fs) => fs.link('/c', '/l') },
      { touches: ['/s'], run: (fs) => fs.writeFile('/s', bytes(700, 9)) },
      { atomic: true, touches: ['/s', '/c'], run: (fs) => fs.rename('/s', '/c') },
      { touches: ['/a'], run: (fs) => fs.truncate('/a', 1000) },
      { atomic: true, touches: ['/c', '/a'], run: (fs) => fs.rename('/c', '/a') },
      { atomic: true, touches: ['/a'], run: (fs) => fs.unlink('/a') },
    ];
    const cuts = harness(steps, (total) => Array.from({ length: total }, (_, i) => i + 1));
    assert.ok(cuts > 20, `only ${cuts} cut points`);
  });

  test('large scenario with GC: power cut at seeded random points and inside every rename', () => {
    const r = prng(7);
    const steps: Step[] = [];
    for (let i = 0; i < 40; i++) {
      const name = `/f${i % 5}`;
      const seed = i;
      const size = 2000 + Math.floor(r() * 60_000);
      if (i % 7 === 6) {
        steps.push({
          atomic: true,
          touches: [name, `/g${i}`],
          run: (fs) => {
            try {
              fs.rename(name, `/g${i}`);
            } catch (e) {
              // Only a missing source is expected (the name may have been renamed away before);
              // a power cut, or any other failure, must reach the harness.
              if (!isYaffs2Error(e, 'ENOENT')) throw e;
            }
          },
        });
      } else if (i % 7 === 3) {
        // A hard link to the file, then (at i % 7 === 4) a rename over the linked name.
        steps.push({ touches: [`/l${i}`], run: (fs) => { if (fs.readdir('/').some((e) => e.name === name.slice(1))) fs.link(name, `/l${i}`); } });
      } else if (i % 7 === 4) {
        const other = `/f${(i + 1) % 5}`;
        steps.push({
          atomic: true,
          touches: [other, name],
          run: (fs) => {
            try {
              fs.rename(other, name);
            } catch (e) {
              if (!isYaffs2Error(e, 'ENOENT')) throw e;
            }
          },
        });
      } else steps.push({ touches: [name], run: (fs) => fs.writeFile(name, bytes(size, seed)) });
    }
    const pick = prng(99);
    let renameCuts = 0;
    const cuts = harness(steps, (total, stepOps) => {
      const points = Array.from({ length: RANDOM_CUTS }, () => 1 + Math.floor(pick() * (total - 1)));
      // Every operation inside every rename as well (a rename is a handful of programs).
      steps.forEach((step, i) => {
        if (!step.atomic) return;
        for (let op = stepOps[i]![0]; op <= stepOps[i]![1]; op++) points.push(op);
        renameCuts += stepOps[i]![1] - stepOps[i]![0] + 1;
      });
      return points;
    });
    assert.equal(cuts, RANDOM_CUTS + renameCuts);
    assert.ok(renameCuts >= 10, `only ${renameCuts} cut points inside renames`);
  });
});
