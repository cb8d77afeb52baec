// The kernel's multi-plane commands (AssemblyScript, part of the FTL's WebAssembly module; see
// kernel/simulator/replay.ts): which waiting transactions join one a die starts (gather), and the
// device's MultiPlaneGrouping as the scheduler reads it — the plane and page in block of the next
// read and program (set by the plane view, kernel/planes.ts) and the commands formed.
// Counterpart of src/scheduler/multi-plane.ts (and the fields of nand's MultiPlaneGrouping it
// uses; MQSim: TSU_Base::issue_command_to_chip and its planeVector).
import { chainOf, chainPlanes, chainSlots, headOf, planeHeadOf, unlink } from './die-queues';
import { CLASS_GC, CLASS_READ, CLASS_WRITE, T_ISSUE, T_KIND, T_PAGE, T_PLANE, T_PLANE_NEXT, T_SEQUENCE, tf, ti } from './transactions';

/** 1 with multi-plane commands (the scheduler's multiPlane grouping set), else 0. */
export let grouping: i32 = 0;
/** MultiPlaneGrouping.planeSets and samePage. */
export let planeSets: i32 = 1;
export let samePage: i32 = 0;
/** MultiPlaneGrouping's next read and program plane, and page in block (−1: none). */
export let readPlane: i32 = 0;
export let programPlane: i32 = 0;
export let readPageInBlock: i32 = -1;
export let programPageInBlock: i32 = -1;
/** MultiPlaneGrouping.multiPlaneCommands and multiPlaneOperations (f64: they are numbers there). */
export let multiPlaneCommands: f64 = 0;
export let multiPlaneOperations: f64 = 0;
/** The transactions gathered by the last gather() (i32 each), and how many. */
export let group: usize = 0;
export let groupSize: i32 = 0;

export function bindGrouping(on: i32, sets: i32, same: i32, read: i32, program: i32, readPage: i32, programPage: i32, commands: f64, operations: f64, groupAt: usize): void {
  grouping = on;
  planeSets = sets;
  samePage = same;
  readPlane = read;
  programPlane = program;
  readPageInBlock = readPage;
  programPageInBlock = programPage;
  multiPlaneCommands = commands;
  multiPlaneOperations = operations;
  group = groupAt;
  groupSize = 0;
}

/** MultiPlaneGrouping.setPlanes. */
@inline export function setPlanes(read: i32, program: i32): void {
  readPlane = read;
  programPlane = program;
}
@inline export function setReadPageInBlock(page: i32): void {
  readPageInBlock = page;
}
@inline export function setProgramPageInBlock(page: i32): void {
  programPageInBlock = page;
}
@inline export function groupAt(k: i32): i32 {
  return load<i32>(group + (<usize>k << 2));
}

/**
 * The transactions that join `t`, which die `base / CLASSES` starts at `start` from queue `first`:
 * of the same kind, issued by `start`, each on a plane of t's plane set not yet in the command
 * (and at t's page in block with samePage) — t's queue first, then the die's others in priority
 * order, each queue's in its order. Per queue, through its chains by plane, kind and page
 * (die-queues.ts): on each plane the command may still take, the first record there that may join
 * (the one a walk of the whole queue would take: a plane once taken takes no other), then in
 * queue order (by sequence). Unlinks them from their queues into `group` (groupSize of them; 0: none).
 */
// Mirrors: packages/ssd/src/scheduler/multi-plane.ts#MultiPlaneDieQueues.gather kernel:c6d02f5f source:17606fb0
export function gather(t: i32, first: i32, base: i32, start: f64): i32 {
  const sets = planeSets;
  const page = samePage != 0 ? ti(t, T_PAGE) : -1;
  const kind = ti(t, T_KIND);
  const count = chainPlanes;
  let mask = 1 << ti(t, T_PLANE);
  let size = 0;
  for (let k = -1; k < 3; k++) {
    // PRIORITY: GC, host reads, host writes.
    const q = k < 0 ? first : base + (k == 0 ? CLASS_GC : k == 1 ? CLASS_READ : CLASS_WRITE);
    if ((k >= 0 && q == first) || headOf(q) < 0) continue;
    // This queue's candidates go to group[size …], in queue order.
    let n = 0;
    for (let p = ti(t, T_PLANE) % sets; p < count; p += sets) {
      if ((mask & (1 << p)) != 0) continue;
      const x = firstJoining(q, p, kind, page, start);
      if (x < 0) continue;
      const sequence = tf(x, T_SEQUENCE);
      let i = size + n++;
      while (i > size && tf(groupAt(i - 1), T_SEQUENCE) > sequence) {
        store<i32>(group + (<usize>i << 2), groupAt(i - 1));
        i--;
      }
      store<i32>(group + (<usize>i << 2), x);
    }
    for (let i = size; i < size + n; i++) {
      const x = groupAt(i);
      unlink(q, x);
      mask |= 1 << ti(x, T_PLANE);
    }
    size += n;
  }
  if (size > 0) {
    multiPlaneCommands += 1;
    multiPlaneOperations += <f64>(size + 1);
  }
  groupSize = size;
  return size;
}

/**
 * The first record of queue `q` on plane `p` that may join a command of `kind` starting at
 * `start`: issued by then, at `page` (−1: any page, the first in queue order over the page slots).
 * No copyback here (copyback GC keeps a replay in TypeScript): every transaction's copyback flag is false.
 */
// Mirrors: packages/ssd/src/scheduler/multi-plane.ts#MultiPlaneDieQueues.firstJoining kernel:1e16df04 source:36523821
function firstJoining(q: i32, p: i32, kind: i32, page: i32, start: f64): i32 {
  const first = chainOf(q, p, kind, page);
  if (page >= 0) {
    let x = planeHeadOf(first);
    while (x >= 0 && !(tf(x, T_ISSUE) <= start && ti(x, T_PAGE) == page)) x = ti(x, T_PLANE_NEXT);
    return x;
  }
  let best = -1;
  for (let c = first - chainSlots + 1; c <= first; c++) {
    let x = planeHeadOf(c);
    while (x >= 0 && !(tf(x, T_ISSUE) <= start)) x = ti(x, T_PLANE_NEXT);
    if (x >= 0 && (best < 0 || tf(x, T_SEQUENCE) < tf(best, T_SEQUENCE))) best = x;
  }
  return best;
}
