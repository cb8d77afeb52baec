// A power cut at every NAND program and erase of a seeded workload on a tiny device (as yaffs2's
// every-cut-point test does): after each cut, recovery from the spares must give every LBA its last
// completed write (or, for the operation in flight, the old or the new contents), the FTL's tables
// must be consistent, and the device must go on working to the end of the workload.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNandDevice } from '@flashdiff/nand';
import { Ftl, Xoshiro128, isSsdError } from '../src/index.ts';
import type { FtlOptions } from '../src/index.ts';

// 2 channels × 1 die × 8 blocks × 4 pages of 512 + 32 bytes: 64 pages, 42 user pages at OP 0.5.
const geometry = { pageSize: 512, spareSize: 32, pagesPerBlock: 4, blocksPerDie: 8, diesPerChannel: 1, channels: 2 };

function payload(lba: number, version: number): Uint8Array {
  const data = new Uint8Array(geometry.pageSize);
  const view = new DataView(data.buffer);
  for (let i = 0; i < data.length; i += 8) {
    view.setUint32(i, lba, true);
    view.setUint32(i + 4, (version * 2654435761 + i) >>> 0, true);
  }
  return data;
}

/** Which of `candidates` (0: zeros) `data` is, or −1. */
function versionOf(lba: number, data: Uint8Array, candidates: readonly number[]): number {
  for (const v of candidates) {
    if (v === 0 ? data.every((b) => b === 0) : Buffer.compare(data, payload(lba, v)) === 0) return v;
  }
  return -1;
}

interface Operation {
  readonly trim: boolean;
  readonly lba: number;
  readonly count: number;
}

function workload(seed: number, user: number, length: number): Operation[] {
  const random = new Xoshiro128(seed);
  const ops: Operation[] = [];
  for (let i = 0; i < length; i++) {
    const trim = random.nextInt(10) === 0;
    const lba = random.nextInt(user);
    ops.push({ trim, lba, count: trim ? Math.min(user - lba, 1 + random.nextInt(3)) : 1 });
  }
  return ops;
}

/**
 * Runs `ops` with a power cut after `cutAfter` NAND programs and erases (0: none). Returns the
 * NAND operations a clean run takes and whether the cut struck.
 */
function runWithCut(options: Partial<FtlOptions>, ops: readonly Operation[], cutAfter: number): { operations: number; cut: boolean } {
  const device = createNandDevice({ geometry });
  const ftl = new Ftl(device, { overProvisioning: 0.5, gcThreshold: 3, ...options });
  const user = ftl.userPages;
  const shadow = new Int32Array(user);
  const out = new Uint8Array(geometry.pageSize);
  const checkAll = (label: string): void => {
    for (let lba = 0; lba < user; lba++) {
      ftl.read(lba, out);
      assert.equal(versionOf(lba, out, [shadow[lba]!]), shadow[lba], `${label}: LBA ${lba} should hold version ${shadow[lba]}`);
    }
    ftl.checkConsistency();
  };
  if (cutAfter > 0) device.faults.cutPowerAfter(cutAfter);
  let cut = false;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const version = i + 1;
    const before = op.trim ? Array.from({ length: op.count }, (_, k) => shadow[op.lba + k]!) : [shadow[op.lba]!];
    try {
      if (op.trim) ftl.trim(op.lba, op.count);
      else ftl.write(op.lba, payload(op.lba, version));
    } catch (e) {
      if (!isSsdError(e, 'POWER_LOSS')) throw e;
      cut = true;
      ftl.recover();
      // The operation in flight: each of its LBAs holds its old or its new contents.
      for (let k = 0; k < before.length; k++) {
        const lba = op.lba + k;
        ftl.read(lba, out);
        const got = versionOf(lba, out, [before[k]!, op.trim ? 0 : version]);
        assert.notEqual(got, -1, `cut after ${cutAfter}: LBA ${lba} (in flight) holds neither its old nor its new contents`);
        shadow[lba] = got;
      }
      checkAll(`cut after ${cutAfter}, recovered`);
      continue;
    }
    for (let k = 0; k < op.count; k++) shadow[op.lba + k] = op.trim ? 0 : version;
  }
  checkAll(`cut after ${cutAfter}, end of the workload`);
  ftl.recover();
  checkAll(`cut after ${cutAfter}, clean remount`);
  assert.equal(ftl.counters.inPlaceGcRuns, 0, 'the power-safe GC path was used throughout');
  return { operations: device.stats.pagePrograms + device.stats.blockErases, cut };
}

describe('FTL power cut at every program and erase (tiny device)', () => {
  for (const options of [{ gcUnit: 'block' }, { gcUnit: 'superblock' }, { validityMethod: 'p2l', overProvisioning: 1 }] as Partial<FtlOptions>[]) {
    const name = Object.entries(options).map(([k, v]) => `${k} ${String(v)}`).join(', ');
    test(`${name}: every cut point recovers to the last completed writes`, () => {
      const user = new Ftl(createNandDevice({ geometry }), { overProvisioning: 0.5, gcThreshold: 3, ...options }).userPages;
      const ops = workload(7, user, 160);
      const clean = runWithCut(options, ops, 0);
      assert.ok(clean.operations > 150, `${clean.operations} NAND operations`);
      let struck = 0;
      for (let cutAfter = 1; cutAfter <= clean.operations; cutAfter++) {
        if (runWithCut(options, ops, cutAfter).cut) struck++;
      }
      // Every cut point before the last operation strikes (recoveries write no pages of their own
      // before the workload goes on, so the count is that of the clean run).
      assert.ok(struck >= clean.operations - 1, `${struck} of ${clean.operations} cut points struck`);
    });
  }
});
