/**
 * Multi-plane command formation: when a die starts a transaction, the transactions of the same
 * kind (and copyback mode) waiting for its other planes join it as one command, taken from the
 * same queue first, then from the die's other queues; the grouping's rules (plane sets, same page
 * address) decide which may share a command. A queue's candidates are found through its chains
 * by plane, kind and page (die-queues.ts): on each plane the command may still take, the first
 * transaction there that may join — the one a walk of the whole queue would take, as a plane once
 * taken takes no other — then taken in queue order, so the command is the same as the walk's but
 * costs what it collects (plus any of its kind and page not issued yet ahead of it). The command's
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
   * Pages in a block (the page numbers `multiPlaneSamePage` compares): with it, the chains hold
   * one page each. Set before {@link multiPlane}; 0: chains by plane and kind only (the same
   * commands, found by a longer walk).
   */
  pagesPerBlock = 0;

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
    this.chainPlanes(grouping === null ? 0 : grouping.planesPerDie, grouping !== null && grouping.samePage && this.pagesPerBlock > 0 ? this.pagesPerBlock + 1 : 1);
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
        const x = this.firstJoining(q, p, t, page, start);
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

  /**
   * The first transaction of queue `q` on plane `p` that may join `t` (starting at `start`): of
   * t's kind and copyback mode, issued by `start`, at `page` (−1: any page). At a page its one
   * chain holds every candidate; for any page, the first in queue order over the page slots.
   */
  private firstJoining(q: number, p: number, t: Transaction, page: number, start: number): Transaction | null {
    if (this.planeHeads.length === 0) return null;
    const first = this.chainOf(q, p, t.kind, page);
    if (page >= 0) {
      let x: Transaction | null = this.planeHeads[first]!;
      while (x !== null && !(x.copyback === t.copyback && x.issue <= start && x.page === page)) x = x.planeNext;
      return x;
    }
    // Any page: `first` is the last slot (page −1); the kind's chains on this plane start s − 1 before it.
    let best: Transaction | null = null;
    for (let c = first - this.slots + 1; c <= first; c++) {
      let x: Transaction | null = this.planeHeads[c]!;
      while (x !== null && !(x.copyback === t.copyback && x.issue <= start)) x = x.planeNext;
      if (x !== null && (best === null || x.sequence < best.sequence)) best = x;
    }
    return best;
  }
}
