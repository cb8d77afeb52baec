/**
 * Multi-plane command formation: when a die starts a transaction, the transactions of the same
 * kind (and copyback mode) waiting for its other planes join it as one command, taken from the
 * same queue first, then from the die's other queues; the grouping's rules (plane sets, same page
 * address) decide which may share a command. The command's timing (one tR or tPROG or tBERS for
 * all its planes, the transfers in turn) is in ../scheduler.ts's step. Upstream counterpart:
 * MQSim's TSU_Base::issue_command_to_chip (src/ssd/TSU_Base.cpp) and its planeVector.
 */
import type { MultiPlaneGrouping } from '@flashdiff/nand';
import { DieQueues } from './die-queues.ts';
import { PRIORITY } from './transactions.ts';
import type { Transaction } from './transactions.ts';

export class MultiPlaneDieQueues extends DieQueues {
  /**
   * Multi-plane commands: the grouping PlaneView tells each operation's plane and page (its
   * setPlanes, readPageInBlock, programPageInBlock); its rules (planeSets, samePage) decide which
   * transactions may share a command; it counts the commands formed here and carries the
   * copyback flag. Null: none.
   */
  multiPlane: MultiPlaneGrouping | null = null;

  /**
   * The transactions that join `t` (just taken from queue `first`, starting at `start`) as one
   * multi-plane command: of its kind and copyback mode, issued by `start`, each on a plane of
   * t's plane set that the command does not hold yet; taken from `first`, then from the die's
   * other queues (`base` + class, in priority order). Null when none joins.
   */
  protected gather(t: Transaction, first: number, base: number, start: number): Transaction[] | null {
    const planes = this.multiPlane!;
    const sets = planes.planeSets;
    const page = planes.samePage ? t.page : -1;
    let mask = 1 << t.plane;
    let group: Transaction[] | null = null;
    for (let k = -1; k < PRIORITY.length; k++) {
      const q = k < 0 ? first : base + PRIORITY[k]!;
      if (k >= 0 && q === first) continue;
      let previous: Transaction | null = null;
      let x: Transaction | null = this.heads[q] ?? null;
      while (x !== null) {
        const next: Transaction | null = x.next;
        if (x.kind === t.kind && x.copyback === t.copyback && x.issue <= start && x.plane >= 0 && (mask & (1 << x.plane)) === 0 && x.plane % sets === t.plane % sets && (page < 0 || x.page === page)) {
          // Unlink it from its queue.
          if (previous === null) this.heads[q] = next;
          else previous.next = next;
          if (next === null) this.tails[q] = previous;
          x.next = null;
          (group ??= []).push(x);
          mask |= 1 << x.plane;
        } else {
          previous = x;
        }
        x = next;
      }
    }
    if (group !== null) {
      planes.multiPlaneCommands++;
      planes.multiPlaneOperations += group.length + 1;
    }
    return group;
  }
}
