/**
 * Multi-plane command formation: when a die starts a transaction, the transactions of the same
 * kind (and copyback mode) waiting for its other planes join it as one command, taken from the
 * same queue first, then from the die's other queues; the grouping's rules (plane sets, same page
 * address) decide which may share a command. A queue's candidates are found through its
 * per-plane chains (die-queues.ts): on each plane the command may still take, the first
 * transaction there that may join — the one a walk of the whole queue would take, as a plane once
 * taken takes no other — then taken in queue order, so the command is the same as the walk's but
 * costs what it collects (plus any that may not join ahead of it on its plane). The command's
 * timing (one tR or tPROG or tBERS for all its planes, the transfers in turn) is in
 * ../scheduler.ts's step. Upstream counterpart: MQSim's TSU_Base::issue_command_to_chip
 * (src/ssd/TSU_Base.cpp) and its planeVector.
 */
import type { MultiPlaneGrouping } from '@flashdiff/nand';
import { DieQueues } from './die-queues.ts';
import { PRIORITY } from './transactions.ts';
import type { Transaction } from './transactions.ts';

export class MultiPlaneDieQueues extends DieQueues {
  private grouping: MultiPlaneGrouping | null = null;
  // Gather's scratch: one queue's candidates, in queue order.
  private readonly candidates: Transaction[] = [];

  /**
   * Multi-plane commands: the grouping PlaneView tells each operation's plane and page (its
   * setPlanes, readPageInBlock, programPageInBlock); its rules (planeSets, samePage) decide which
   * transactions may share a command; it counts the commands formed here and carries the
   * copyback flag. Null: none. Set before anything is queued (it starts the per-plane chains).
   */
  get multiPlane(): MultiPlaneGrouping | null {
    return this.grouping;
  }
  set multiPlane(grouping: MultiPlaneGrouping | null) {
    this.grouping = grouping;
    this.chainPlanes(grouping === null ? 0 : grouping.planesPerDie);
  }

  /**
   * The transactions that join `t` (just taken from queue `first`, starting at `start`) as one
   * multi-plane command: of its kind and copyback mode, issued by `start`, each on a plane of
   * t's plane set that the command does not hold yet; taken from `first`, then from the die's
   * other queues (`base` + class, in priority order), each queue's in its order. Null when none joins.
   */
  protected gather(t: Transaction, first: number, base: number, start: number): Transaction[] | null {
    const planes = this.grouping!;
    const sets = planes.planeSets;
    const page = planes.samePage ? t.page : -1;
    const count = this.planes;
    const found = this.candidates;
    let mask = 1 << t.plane;
    let group: Transaction[] | null = null;
    for (let k = -1; k < PRIORITY.length; k++) {
      const q = k < 0 ? first : base + PRIORITY[k]!;
      if ((k >= 0 && q === first) || this.heads[q] === null) continue;
      // Per plane of t's set not in the command yet: the first on it that may join.
      let n = 0;
      for (let p = t.plane % sets; p < count; p += sets) {
        if ((mask & (1 << p)) !== 0) continue;
        let x: Transaction | null = this.planeHeads[q * count + p]!;
        while (x !== null && !(x.kind === t.kind && x.copyback === t.copyback && x.issue <= start && (page < 0 || x.page === page))) x = x.planeNext;
        if (x === null) continue;
        // In queue order (a queue's sequence numbers rise from head to tail).
        let i = n++;
        while (i > 0 && found[i - 1]!.sequence > x.sequence) {
          found[i] = found[i - 1]!;
          i--;
        }
        found[i] = x;
      }
      for (let i = 0; i < n; i++) {
        const x = found[i]!;
        this.unlink(q, x);
        (group ??= []).push(x);
        mask |= 1 << x.plane;
      }
    }
    if (group !== null) {
      planes.multiPlaneCommands++;
      planes.multiPlaneOperations += group.length + 1;
    }
    return group;
  }
}
