/**
 * Planes for the FTL: a {@link PlaneView} shows the FTL a device whose "dies" are the planes of
 * the real one, so that every per-die structure of the FTL (free pool, open block of each write
 * stream, GC victim buckets) becomes per plane without a change to the FTL: with P planes per
 * die, the view has diesPerChannel · P dies of blocksPerDie / P blocks. View die v is plane
 * v mod P of real die ⌊v / P⌋ (the real dies stay channel-major), and block i of that view die is
 * real block i · P + plane of its die (nand's rule: block b of a die is in plane b mod P). Pages
 * keep their offset in the block. Each operation tells the device's MultiPlaneGrouping (when
 * multi-plane commands are on) which plane it is on, so that operations on distinct planes of a
 * die become one multi-plane command.
 *
 * MQSim counterpart: the plane level of Flash_Block_Manager's PlaneBookKeepingType (a free block
 * pool and an open write frontier per plane) and the plane part of the page address.
 */
import { planesPerDie } from '@flashdiff/nand';
import type { MetadataKernelLayout, MultiPlaneGrouping, NandDevice, NandGeometry, NandStats, NandTimingModel, ReadResult } from '@flashdiff/nand';

/** The geometry the FTL sees over a device with planes: one view die per plane. */
export function planeViewGeometry(g: NandGeometry): NandGeometry {
  const planes = planesPerDie(g);
  return {
    pageSize: g.pageSize,
    spareSize: g.spareSize,
    pagesPerBlock: g.pagesPerBlock,
    blocksPerDie: g.blocksPerDie / planes,
    diesPerChannel: g.diesPerChannel * planes,
    channels: g.channels,
  };
}

export class PlaneView implements NandDevice {
  readonly geometry: NandGeometry;
  /** The real device's geometry (with its planesPerDie). */
  readonly physicalGeometry: NandGeometry;
  readonly planesPerDie: number;
  readonly metadataOnly: boolean;
  readonly metadataKernel = null;
  /**
   * The real device's table memory and kernel globals (its metadataKernel), for the FTL's tables
   * and the kernel replay (simulator/replay-kernel.ts), which maps view pages itself
   * (kernel/planes.ts); metadataKernel stays null: the FTL kernel's write() has one plane per die.
   */
  readonly tableLayout: MetadataKernelLayout | null;
  readonly programSpareWords?: (page: number, w0: number, w1: number, w2: number, w3: number) => void;
  readonly copyback?: (source: number, target: number, w0: number, w1: number, w2: number, w3: number) => void;
  readonly copybackRun?: (sources: Int32Array, from: number, count: number, target: number, words: Uint32Array) => boolean;
  /** The real device's compact spare heads, by view page (NandDevice.compactHeadWord1, peekSpare): the FTL derives P2L from them. */
  readonly compactHeadWord0?: number;
  readonly compactHeadWord1?: (page: number) => number;
  readonly peekSpare?: (page: number, out: Uint8Array) => void;
  /**
   * Planes per die whose GC the FTL runs together (src/ftl/gc-planes.ts): planesPerDie with
   * multi-plane commands, else 1 (each plane's pool collects alone).
   */
  readonly multiPlaneGc: number;
  /**
   * GC's copyback moves (FtlOptions.gcCopyback): while on, the reads and programs issued are
   * copyback halves that move no bytes on the channel (MultiPlaneGrouping.copyback). GC moves a
   * page within its plane (its pool's open GC block is on the same plane), as copyback needs.
   */
  setCopyback(on: boolean): void {
    if (this.grouping !== null) this.grouping.copyback = on;
  }
  /** Multi-plane erase commands the grouping formed, and the blocks they erased. */
  multiPlaneEraseCommands = 0;
  multiPlaneErasedBlocks = 0;
  /** The plane of each view block. */
  private readonly planeOf: Uint8Array;
  /** The view's blocks (all dies) and blocks per die, the real device's blocks per die: {@link realBlockOf}'s arithmetic. */
  private readonly viewBlocks: number;
  private readonly viewBlocksPerDie: number;
  private readonly realBlocksPerDie: number;
  private readonly pagesPerBlock: number;
  /** log2(pagesPerBlock) when a power of two, else −1: a page's block by a shift, not a division. */
  private readonly pageShift: number;
  private runSources = new Int32Array(0);

  constructor(
    private readonly inner: NandDevice,
    private readonly grouping: MultiPlaneGrouping | null,
  ) {
    this.physicalGeometry = inner.geometry;
    this.planesPerDie = planesPerDie(inner.geometry);
    this.geometry = planeViewGeometry(inner.geometry);
    this.multiPlaneGc = grouping !== null ? this.planesPerDie : 1;
    this.metadataOnly = inner.metadataOnly;
    this.tableLayout = inner.metadataKernel ?? null;
    this.pagesPerBlock = inner.geometry.pagesPerBlock;
    this.pageShift = Number.isInteger(Math.log2(this.pagesPerBlock)) ? Math.log2(this.pagesPerBlock) : -1;
    const g = this.geometry;
    const blocks = g.channels * g.diesPerChannel * g.blocksPerDie;
    this.planeOf = new Uint8Array(blocks);
    this.viewBlocks = blocks;
    this.viewBlocksPerDie = g.blocksPerDie;
    this.realBlocksPerDie = inner.geometry.blocksPerDie;
    const P = this.planesPerDie;
    // Per view die its plane, filled natively.
    for (let viewDie = 0, b = 0; b < blocks; viewDie++, b += g.blocksPerDie) this.planeOf.fill(viewDie % P, b, b + g.blocksPerDie);
    if (inner.programSpareWords !== undefined) {
      const program = inner.programSpareWords.bind(inner);
      this.programSpareWords = (page, w0, w1, w2, w3) => program(this.page(page, -1), w0, w1, w2, w3);
    }
    if (inner.compactHeadWord1 !== undefined && inner.peekSpare !== undefined) {
      const word1 = inner.compactHeadWord1.bind(inner);
      const peek = inner.peekSpare.bind(inner);
      this.compactHeadWord0 = inner.compactHeadWord0;
      this.compactHeadWord1 = (page) => word1(this.realPage(page));
      this.peekSpare = (page, out) => peek(this.realPage(page), out);
    }
    if (inner.copyback !== undefined) {
      const copy = inner.copyback.bind(inner);
      this.copyback = (source, target, w0, w1, w2, w3) => {
        const real = this.page(source, -1);
        copy(real, this.page(target, this.plane(source)), w0, w1, w2, w3);
      };
    }
    if (inner.copybackRun !== undefined) {
      const run = inner.copybackRun.bind(inner);
      this.copybackRun = (sources, from, count, target, words) => {
        if (this.runSources.length < count) this.runSources = new Int32Array(Math.max(count, 2 * this.runSources.length));
        const real = this.runSources;
        for (let i = 0; i < count; i++) real[i] = this.realPage(sources[from + i]!);
        // The sources of a GC run come from one victim block: its plane is the reads'.
        return run(real, 0, count, this.page(target, count > 0 ? this.plane(sources[from]!) : 0), words);
      };
    }
  }

  get stats(): NandStats {
    return this.inner.stats;
  }

  get timing(): NandTimingModel {
    return this.inner.timing;
  }

  /**
   * Tells the grouping the plane and page in block of a program of view page `page`, as
   * programSpareWords does before programming it (the kernel's marked fill, which programs
   * through its own plane view, leaves the hints as its last program would).
   */
  hintProgram(page: number): void {
    this.page(page, -1);
  }

  /**
   * The real block of view block `block` (−1 out of range): view block `index` of view die v is
   * real block index·P + (v mod P) of real die ⌊v / P⌋, computed as kernel/planes.ts realBlock
   * computes it. (A table of it took a loop over every block at construction — 262,144 at
   * 512 GiB, run interpreted, ~6–12 ms — and a replay in the kernel barely asks.)
   */
  private realBlockOf(block: number): number {
    if (block >>> 0 !== block || block >= this.viewBlocks) return -1;
    const viewDie = Math.floor(block / this.viewBlocksPerDie);
    const P = this.planesPerDie;
    return Math.floor(viewDie / P) * this.realBlocksPerDie + (block - viewDie * this.viewBlocksPerDie) * P + (viewDie % P);
  }

  /** The real block of view block `block`. */
  physicalBlock(block: number): number {
    return this.realBlockOf(block);
  }

  /** The real page of view page `page` (−1 out of range: the real device then throws OUT_OF_RANGE). */
  realPage(page: number): number {
    const block = this.blockOfPage(page);
    return this.realPageIn(block, page - block * this.pagesPerBlock);
  }

  /** The real page of page `inBlock` of view block `block` (−1 out of range, as realPage). */
  private realPageIn(block: number, inBlock: number): number {
    const real = this.realBlockOf(block);
    return real < 0 ? -1 : real * this.pagesPerBlock + inBlock;
  }

  readPage(page: number, data?: Uint8Array, spare?: Uint8Array): ReadResult {
    const real = this.realPage(page);
    const grouping = this.grouping;
    if (grouping !== null) {
      grouping.setPlanes(this.plane(page), 0);
      grouping.readPageInBlock = page % this.pagesPerBlock;
    }
    return this.inner.readPage(real, data, spare);
  }

  programPage(page: number, data: Uint8Array | null, spare: Uint8Array): void {
    this.inner.programPage(this.page(page, -1), data, spare);
  }

  eraseBlock(block: number): void {
    const real = this.block(block);
    const grouping = this.grouping;
    if (grouping === null) {
      this.inner.eraseBlock(real);
      return;
    }
    grouping.setPlanes(0, this.planeOf[block] ?? 0);
    const commands = grouping.multiPlaneCommands;
    const operations = grouping.multiPlaneOperations;
    try {
      this.inner.eraseBlock(real);
    } finally {
      // An erase that joined the die's last command: it became (or grew) a multi-plane erase.
      if (grouping.multiPlaneOperations !== operations) {
        this.multiPlaneEraseCommands += grouping.multiPlaneCommands - commands;
        this.multiPlaneErasedBlocks += grouping.multiPlaneOperations - operations;
      }
    }
  }

  isBad(block: number): boolean {
    return this.inner.isBad(this.block(block));
  }

  markBad(block: number): void {
    this.inner.markBad(this.block(block));
  }

  eraseCount(block: number): number {
    return this.inner.eraseCount(this.block(block));
  }

  sync(): void {
    this.inner.sync();
  }

  close(): void {
    this.inner.close();
  }

  reboot(): void {
    this.inner.reboot();
  }

  private plane(page: number): number {
    return this.planeOf[this.blockOfPage(page)] ?? 0;
  }

  /** ⌊page / pagesPerBlock⌋ (by a shift for a page number of 0 … 2³² − 1 when pagesPerBlock is a power of two). */
  private blockOfPage(page: number): number {
    return this.pageShift >= 0 && page >>> 0 === page ? page >>> this.pageShift : Math.floor(page / this.pagesPerBlock);
  }

  /** A block out of range maps to −1 (the real device then throws OUT_OF_RANGE). */
  private block(block: number): number {
    return this.realBlockOf(block);
  }

  /** The real page of a page to program, telling the grouping its plane (and the read plane, or −1: unchanged). */
  private page(page: number, readPlane: number): number {
    // One block lookup for the grouping and the real page.
    const block = this.blockOfPage(page);
    const inBlock = page - block * this.pagesPerBlock;
    const grouping = this.grouping;
    if (grouping !== null) {
      grouping.setPlanes(readPlane >= 0 ? readPlane : 0, this.planeOf[block] ?? 0);
      grouping.programPageInBlock = inBlock;
    }
    return this.realPageIn(block, inBlock);
  }
}
