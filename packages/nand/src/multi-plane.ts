/**
 * Multi-plane command grouping for a {@link NandClock}: installed as the clock's sink, it times
 * each page operation itself, and an operation issued no later than the moment the command its
 * die ran last was dispatched (that command waited for the die, or started at this very issue
 * time: the two would have sat in the die's queue together), of the same kind, on a plane that
 * command does not hold yet, joins it as one more plane (NandClock.extendMultiPlane) instead of
 * waiting for the die: k programs on
 * k planes of a die cost k transfers and one tPROG, k reads one tR and k transfers, k erases one
 * tBERS. Whoever issues the operations says which plane each is on (setPlanes) before handing it
 * over, since the clock's operations carry only the die.
 *
 * MQSim counterpart: TSU_Base::issue_command_to_chip, which gathers the ready transactions of one
 * die's queue that target distinct planes (its planeVector) into one command. MQSim also asks
 * for the same page number in every plane; this grouping does not (see docs/DESIGN.md).
 */
import type { NandClock, NandOperationSink } from './timing.ts';

const NONE = 0;
const READ = 1;
const PROGRAM = 2;
const ERASE = 3;
// Copyback halves are commands of their own (00h–35h, 85h–10h): they join only each other.
const COPYBACK_READ = 4;
const COPYBACK_PROGRAM = 5;

export class MultiPlaneGrouping implements NandOperationSink {
  /**
   * While set, reads and programs are copyback halves: the page goes from the array to the die's
   * page register and back without crossing the channel (ONFI 00h–35h, 85h–10h; MQSim's
   * Use_Copyback_for_GC), so they move no bytes. Set by whoever issues them (an FTL's GC).
   */
  copyback = false;
  /** Reads and programs issued as copyback halves. */
  copybackOperations = 0;
  /** Commands that held more than one plane, and the page operations they held in all. */
  multiPlaneCommands = 0;
  multiPlaneOperations = 0;
  private readPlane = 0;
  private programPlane = 0;
  /** Per die: the kind of the command it ran last, its planes (bits), when it was dispatched, when it ends. */
  private readonly kind: Uint8Array;
  private readonly planeMask: Uint32Array;
  private readonly planeCount: Uint8Array;
  private readonly commandPage: Int32Array;
  private readonly dispatched: Float64Array;
  private readonly done: Float64Array;

  constructor(
    private readonly clock: NandClock,
    readonly planesPerDie: number,
    dies: number,
  ) {
    if (!Number.isInteger(planesPerDie) || planesPerDie < 1 || planesPerDie > 32) {
      throw new RangeError(`planesPerDie must be an integer in 1…32 (got ${planesPerDie})`);
    }
    this.kind = new Uint8Array(dies);
    this.planeMask = new Uint32Array(dies);
    this.planeCount = new Uint8Array(dies);
    this.commandPage = new Int32Array(dies);
    this.dispatched = new Float64Array(dies);
    this.done = new Float64Array(dies);
  }

  /** The plane of the next read, and of the next program or erase (for a scheduler that forms the commands itself). */
  get nextReadPlane(): number {
    return this.readPlane;
  }
  get nextProgramPlane(): number {
    return this.programPlane;
  }
  /**
   * The page within its block of the next read and of the next program (−1: not told), for the
   * same-page rule ({@link samePage}).
   */
  readPageInBlock = -1;
  programPageInBlock = -1;
  /**
   * Which planes may share a command: planes p and q only when p ≡ q modulo planeSets (default 1:
   * any two). A die of P planes that stands for a chip of d dies of P / d planes each, its planes
   * numbered die + d · plane (the order cwdp-like allocations count them in), takes d: a
   * multi-plane command then holds planes of one of those dies, as in MQSim
   * (TSU_Base::issue_command_to_chip gathers one die's transactions).
   */
  planeSets = 1;
  /**
   * Reads and programs join a command only at the page address (page within the block) its first
   * one has, as MQSim asks (its PageID check); default false: any pages.
   */
  samePage = false;

  /** The planes of the next operations: reads (and a copyback's read) on `read`, programs and erases on `program`. */
  setPlanes(read: number, program: number): void {
    this.readPlane = read;
    this.programPlane = program;
  }

  read(die: number, channel: number, bytes: number): void {
    this.operate(READ, die, channel, bytes, this.readPlane);
  }

  program(die: number, channel: number, bytes: number): void {
    this.operate(PROGRAM, die, channel, bytes, this.programPlane);
  }

  erase(die: number): void {
    this.operate(ERASE, die, 0, 0, this.programPlane);
  }

  /** Forgets every open command (after the clock was reset). */
  reset(): void {
    this.kind.fill(NONE);
    this.multiPlaneCommands = 0;
    this.multiPlaneOperations = 0;
  }

  private operate(kind: number, die: number, channel: number, bytes: number, plane: number): void {
    const clock = this.clock;
    if (this.copyback && kind !== ERASE) {
      kind = kind === READ ? COPYBACK_READ : COPYBACK_PROGRAM;
      bytes = 0;
      this.copybackOperations++;
    }
    const reads = kind === READ || kind === COPYBACK_READ;
    const bit = 1 << plane;
    const page = kind === ERASE || !this.samePage ? -1 : reads ? this.readPageInBlock : this.programPageInBlock;
    const joins =
      this.kind[die] === kind && clock.now <= this.dispatched[die]! && clock.dieFreeAt(die) === this.done[die] &&
      (this.planeMask[die]! & bit) === 0 && (this.planeSets === 1 || plane % this.planeSets === (31 - Math.clz32(this.planeMask[die]!)) % this.planeSets) &&
      page === this.commandPage[die];
    let done: number;
    if (joins) {
      done = clock.extendMultiPlane(reads ? 'read' : kind === ERASE ? 'erase' : 'program', die, channel, bytes);
      this.planeMask[die]! |= bit;
      const count = ++this.planeCount[die]!;
      if (count === 2) {
        this.multiPlaneCommands++;
        this.multiPlaneOperations += 2;
      } else {
        this.multiPlaneOperations++;
      }
    } else {
      const free = clock.dieFreeAt(die);
      this.dispatched[die] = clock.now > free ? clock.now : free;
      done = reads ? clock.readMultiPlane(die, channel, bytes, 1) : kind === ERASE ? clock.eraseMultiPlane(die, 1) : clock.programMultiPlane(die, channel, bytes, 1);
      this.kind[die] = kind;
      this.planeMask[die] = bit;
      this.planeCount[die] = 1;
      this.commandPage[die] = page;
    }
    this.done[die] = done;
  }
}
