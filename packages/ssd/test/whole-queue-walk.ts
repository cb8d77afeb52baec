// The multi-plane gather as it was before the die queues were chained (a walk of each whole queue,
// src/scheduler/multi-plane.ts until then), patched into TransactionScheduler on request: the
// reference the chains must match command for command (test/scheduler-gather.test.ts) and the
// before figure of bench/ssd-long-queues.ts. Upstream counterpart: MQSim's
// TSU_Base::issue_command_to_chip, which walks its chip queues the same way.
import { TransactionScheduler } from '../src/scheduler.ts';
import { PRIORITY } from '../src/scheduler/transactions.ts';
import type { Transaction } from '../src/scheduler/transactions.ts';

/** The scheduler's internals the walk uses (protected in src/scheduler/). */
interface Queues {
  readonly heads: (Transaction | null)[];
  readonly multiPlane: { planeSets: number; samePage: boolean; multiPlaneCommands: number; multiPlaneOperations: number } | null;
  unlink(q: number, t: Transaction): void;
}
type Gather = (this: Queues, t: Transaction, first: number, base: number, start: number) => Transaction[] | null;
const proto = TransactionScheduler.prototype as unknown as { gather: Gather };
const chained = proto.gather;

/** The gather before the chains: every transaction of t's queue, then of the die's others, in queue order. */
const walk: Gather = function (t, first, base, start) {
  const planes = this.multiPlane!;
  const sets = planes.planeSets;
  const page = planes.samePage ? t.page : -1;
  let mask = 1 << t.plane;
  let group: Transaction[] | null = null;
  for (let k = -1; k < PRIORITY.length; k++) {
    const q = k < 0 ? first : base + PRIORITY[k]!;
    if (k >= 0 && q === first) continue;
    let x = this.heads[q] ?? null;
    while (x !== null) {
      const next: Transaction | null = x.next;
      if (x.kind === t.kind && x.copyback === t.copyback && x.issue <= start && x.plane >= 0 && (mask & (1 << x.plane)) === 0 && x.plane % sets === t.plane % sets && (page < 0 || x.page === page)) {
        this.unlink(q, x);
        (group ??= []).push(x);
        mask |= 1 << x.plane;
      }
      x = next;
    }
  }
  if (group !== null) {
    planes.multiPlaneCommands++;
    planes.multiPlaneOperations += group.length + 1;
  }
  return group;
};

/** Makes every TransactionScheduler gather by the whole-queue walk (true) or by its chains again (false). */
export function useWholeQueueWalk(on: boolean): void {
  proto.gather = on ? walk : chained;
}
