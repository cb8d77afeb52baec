/**
 * The NAND device boundary. Everything above this file (the SSD FTL, YAFFS2, the dashboard)
 * talks to flash only through {@link NandDevice}; everything below it (stores, ECC, fault
 * injection, timing) is an implementation detail of one device.
 *
 * Addressing, used at every layer:
 * - Blocks are numbered 0 … totalBlocks − 1, die-major: block b lies on die ⌊b / blocksPerDie⌋.
 * - Dies are numbered channel-major: die d sits on channel ⌊d / diesPerChannel⌋.
 * - Pages are numbered globally: page p = block · pagesPerBlock + pageInBlock.
 *   (A YAFFS "chunk" is one page.)
 * - Planes: block b of a die lies in plane b mod planesPerDie (the plane is the low bits of the
 *   block address, as on real parts); a die runs one command at a time, and its planes work in
 *   parallel only through multi-plane commands (NandClock.programMultiPlane and friends).
 */

/** Shape of a NAND array. All counts are positive integers. */
export interface NandGeometry {
  /** Data bytes per page (2048 on a "2k" part; YAFFS calls this the chunk size). */
  readonly pageSize: number;
  /** Spare / out-of-band bytes per page (64 for 2048-byte pages, 16 for 512-byte pages). */
  readonly spareSize: number;
  /** Pages per erase block (64 on yaffs2-2k parts). */
  readonly pagesPerBlock: number;
  /** Erase blocks on one die (one LUN), over all its planes. */
  readonly blocksPerDie: number;
  /**
   * Planes per die (default 1): block b of a die is in plane b mod planesPerDie, and blocksPerDie
   * must be a multiple of it (every plane has the same number of blocks).
   */
  readonly planesPerDie?: number;
  /** Dies sharing one channel (bus). Operations on different dies overlap in time. */
  readonly diesPerChannel: number;
  /** Independent channels. Data transfers on different channels overlap in time. */
  readonly channels: number;
}

/**
 * Outcome of the error-correcting code for one page read.
 * - `ok`: every sector decoded without error.
 * - `corrected`: at least one bit error was found and fixed; the returned data is right.
 * - `uncorrectable`: at least one sector had more errors than the code can fix; the data is wrong.
 * - `unchecked`: the device runs without on-device ECC (or in metadata-only mode); the caller
 *   gets the raw bits, errors included, and may run its own ECC (YAFFS2 does).
 */
export type EccStatus = 'ok' | 'corrected' | 'uncorrectable' | 'unchecked';

/** What {@link NandDevice.readPage} reports beside the bytes it copied out. */
export interface ReadResult {
  readonly ecc: EccStatus;
  /** Bits the ECC corrected in this read (0 unless `ecc === 'corrected'`). */
  readonly correctedBits: number;
  /** Sectors that could not be corrected (0 unless `ecc === 'uncorrectable'`). */
  readonly uncorrectableSectors: number;
  /** True when the page has not been programmed since its block's last complete erase. */
  readonly erased: boolean;
}

/**
 * A NAND flash device. The rules (the "contract") are those of real raw NAND parts:
 *
 * 1. A page is programmed at most once between two erases of its block.
 * 2. Within a block, pages are programmed in ascending order: a page may only be programmed
 *    when its index is above every page already programmed in that block since the erase
 *    (skipping pages is allowed; going back is not).
 * 3. Erase works on whole blocks and sets every data and spare byte to 0xFF.
 * 4. A block marked bad is never programmed or erased again.
 *
 * Breaking a rule throws a {@link NandError} whose `code` is a contract code
 * (`PROGRAM_TWICE`, `PROGRAM_OUT_OF_ORDER`, `BAD_BLOCK`, `OUT_OF_RANGE`, `BUFFER_SIZE`);
 * such an error is a bug in the caller and the device state is unchanged.
 *
 * Device failures are reported as thrown {@link NandError}s with codes `PROGRAM_FAILED` and
 * `ERASE_FAILED` (the status register's FAIL bit on a real part): the caller should retire the
 * block. A power cut throws {@link NandError} with code `POWER_LOSS`; after it every operation
 * throws `POWER_OFF` until {@link NandDevice.reboot}.
 */
export interface NandDevice {
  readonly geometry: NandGeometry;
  /** True when pages keep only their spare bytes (see {@link NandDeviceOptions.metadataOnly}). */
  readonly metadataOnly: boolean;

  /**
   * Reads one page. Copies `min(data.length, pageSize)` data bytes into `data` and
   * `min(spare.length, spareSize)` spare bytes into `spare` (either may be omitted).
   * An erased page reads as all 0xFF. In metadata-only mode the data bytes read as 0xFF.
   * Raw bit errors (fault injection) appear in the copy only, never in the stored page.
   * Throws OUT_OF_RANGE, POWER_OFF.
   */
  readPage(page: number, data?: Uint8Array, spare?: Uint8Array): ReadResult;

  /**
   * Programs one page. `data` must be exactly `pageSize` bytes, or null to leave the data
   * area erased (always allowed; required nowhere). `spare` may be shorter than `spareSize`;
   * the bytes after it stay 0xFF. With on-device ECC the parity bytes are computed from
   * `data` and written into the spare at the ECC layout's offset, over what the caller gave.
   * Throws PROGRAM_TWICE, PROGRAM_OUT_OF_ORDER, BAD_BLOCK, OUT_OF_RANGE, BUFFER_SIZE (contract);
   * PROGRAM_FAILED (the page content is then undefined but the page counts as programmed);
   * POWER_LOSS, POWER_OFF.
   */
  programPage(page: number, data: Uint8Array | null, spare: Uint8Array): void;

  /**
   * Erases one block: every page reads 0xFF afterwards and may be programmed again; the
   * block's erase count goes up by one.
   * Throws BAD_BLOCK, OUT_OF_RANGE (contract); ERASE_FAILED (block contents undefined);
   * POWER_LOSS, POWER_OFF.
   */
  eraseBlock(block: number): void;

  /** True when the block is factory-bad or was marked bad. Throws OUT_OF_RANGE. */
  isBad(block: number): boolean;

  /**
   * Marks a block bad, for ever: the marker is written into the spare of its first page(s) as
   * real parts carry it (when the device has a marker position) and into the device's bad-block
   * table. Marking an already bad block is a no-op. Throws OUT_OF_RANGE, POWER_OFF.
   */
  markBad(block: number): void;

  /** Times this block has been erased (its P/E cycle count). Throws OUT_OF_RANGE. */
  eraseCount(block: number): number;

  /** Makes everything programmed or erased so far durable in the backing store. */
  sync(): void;

  /** Syncs and releases the backing store. Any later call throws POWER_OFF. */
  close(): void;

  /**
   * After a power cut: brings the device back from its persisted state, exactly as a board
   * would find the chip after power returns (half-done operations stay half done).
   */
  reboot(): void;

  /**
   * Optional metadata fast path, offered by the metadata-only device ({@link NandDevice.metadataOnly}
   * with a spare of at least 16 bytes); feature-detect it once (`device.programSpareWords !== undefined`).
   *
   * Programs one page with no data and a 16-byte spare given as four 32-bit words: spare bytes
   * 4k…4k+3 are the little-endian bytes of word k (taken modulo 2³², so signed and unsigned
   * forms are the same word; pass them signed, `x | 0`, to keep large ones unboxed). Exactly `programPage(page, null, thoseBytes)`:
   * the same contract checks and errors, counters, clock, fault injection and power cuts
   * (the device takes the general path whenever a fault or cut is armed).
   */
  programSpareWords?(page: number, w0: number, w1: number, w2: number, w3: number): void;

  /**
   * Optional, with {@link programSpareWords}: an internal page move (ONFI "copyback": the page is
   * read into the die's page register and programmed elsewhere; dhara's NAND interface calls it
   * `copy`) whose destination gets the spare words given (the controller rewrites the metadata, as
   * copyback with data change allows). Charged and checked exactly as `readPage(source)` followed
   * by `programSpareWords(target, …)` — both channel transfers included, so a simulation gives the
   * same clock as with the two calls (the destination may be on another die). Throws what those
   * two would throw, in that order.
   */
  copyback?(source: number, target: number, w0: number, w1: number, w2: number, w3: number): void;

  /**
   * Optional, with {@link copyback}: `count` copybacks in one call, for a garbage collector
   * emptying a block. Pair i reads page `sources[from + i]` and programs page `target + i` with
   * spare words `words[4i … 4i + 3]`; the targets are consecutive pages of one block. Exactly the
   * pairs one after the other (same clock, counters, contract errors), with the per-page checks
   * and counter updates done once for the run. Returns false having done nothing while a fault or
   * power cut is armed, power is off, or a source page is out of range: the caller then moves the
   * pages one at a time (and gets those errors at the page they concern). A run of no pages does
   * nothing and returns whether a run would go now: a caller may ask before it prepares one. Throws BUFFER_SIZE
   * when `words` holds fewer than 4·count words, and the first program's contract errors
   * (OUT_OF_RANGE also when the run would pass the end of the target's block).
   */
  copybackRun?(sources: Int32Array, from: number, count: number, target: number, words: Uint32Array): boolean;
  /**
   * Optional (the metadata fast device): word 1 of the page's 16-byte spare head when the store
   * keeps it compact (spare-head.ts: word 0 the store's common first word, word 3 the CRC-32 of
   * bytes 0–11), else −1 (erased, or any other head). Nothing charged or counted.
   */
  compactHeadWord1?(page: number): number;
  /** Optional, with {@link compactHeadWord1}: the common word 0 of the compact heads. */
  readonly compactHeadWord0?: number;
  /** Optional, with {@link compactHeadWord1}: the page's stored spare bytes, nothing charged or counted. */
  peekSpare?(page: number, out: Uint8Array): void;
  /**
   * Optional (the metadata fast device, where shared WebAssembly memory is available): where its
   * WebAssembly kernel's tables live, for a consumer that runs the same kernel code in its own
   * module over that memory (see {@link MetadataKernelLayout}); null or absent otherwise.
   */
  readonly metadataKernel?: MetadataKernelLayout | null;
  /**
   * Optional (the metadata fast device with its kernel): while true the WebAssembly kernel takes
   * no operation (its ready flags say no, for this device's calls and for a consumer's module
   * alike), so every operation runs in TypeScript through {@link timing}. For a controller that
   * takes the clock's operations (NandClock.sink): the kernel times its operations itself.
   */
  kernelPaused?: boolean;

  /** Counters since creation (or since {@link NandStats.reset}). */
  readonly stats: NandStats;
  /** The simulated clock (see {@link NandTimingModel}). */
  readonly timing: NandTimingModel;
}

/** I/O counters kept by a device. Arrays are indexed by block number. */
export interface NandStats {
  pageReads: number;
  pagePrograms: number;
  blockErases: number;
  /** Data + spare bytes moved off the chip by reads. */
  bytesRead: number;
  /** Data + spare bytes moved onto the chip by programs. */
  bytesWritten: number;
  /** Bits corrected by on-device ECC. */
  eccCorrectedBits: number;
  /** Page reads that came back uncorrectable. */
  eccUncorrectableReads: number;
  programFailures: number;
  eraseFailures: number;
  readonly readsPerBlock: Uint32Array;
  readonly programsPerBlock: Uint32Array;
  readonly erasesPerBlock: Uint32Array;
  /** Zeroes every counter (erase counts of the blocks themselves are not counters and stay). */
  reset(): void;
}

/** Operation latencies, in nanoseconds (ONFI names). */
export interface NandTimingParams {
  /** Array read: cell array → page register (typ. 25 µs on SLC, 50–90 µs on MLC/TLC). */
  readonly tR: number;
  /** Page program: page register → cell array (typ. 200–900 µs). */
  readonly tPROG: number;
  /** Block erase (typ. 1.5–5 ms). */
  readonly tBERS: number;
  /** Channel transfer time per byte (e.g. 2.5 ns per byte at 400 MT/s on an 8-bit bus). */
  readonly transferPerByte: number;
}

/**
 * A discrete-event clock. Each die and each channel is a resource that is busy until some
 * time; an operation starts when the host issues it and its die (and channel, for transfers)
 * are free. Operations on different dies overlap; on one die they serialise.
 *   read:    die busy tR, then the channel moves pageSize + spareSize bytes
 *   program: the channel moves the bytes, then the die is busy tPROG
 *   erase:   the die is busy tBERS
 */
export interface NandTimingModel {
  readonly params: NandTimingParams;
  /** Time at which the next operation is issued by the host (ns). Never goes backwards. */
  issueAt(timeNs: number): void;
  /** Current issue time (ns). */
  readonly now: number;
  /** Completion time of the most recent operation (ns). */
  readonly lastCompletion: number;
  /** Completion time of the latest-finishing operation so far: total simulated time (ns). */
  readonly elapsed: number;
  /** Time at which the given die becomes idle (ns). */
  dieFreeAt(die: number): number;
  /** Busy time accumulated per die (ns), for utilisation. */
  readonly dieBusy: Float64Array;
  /**
   * Charges a page read of `bytes` on `die` (whose channel is `channel`) with no page behind it —
   * what a host model does for a read it serves from the flash without the device's bookkeeping
   * (an SSD reading a never-written LBA). Returns its completion time.
   */
  read(die: number, channel: number, bytes: number): number;
  reset(): void;
}

/** An error-correcting code over fixed-size data sectors (Hamming now; BCH can follow). */
export interface EccCode {
  readonly name: string;
  /** Data bytes per codeword (256 for the SmartMedia Hamming code). */
  readonly sectorSize: number;
  /** Parity bytes per codeword (3 for the SmartMedia Hamming code). */
  readonly parityBytes: number;
  /** Computes the parity of `data[offset … offset + sectorSize)` into `parity[parityOffset …]`. */
  encode(data: Uint8Array, offset: number, parity: Uint8Array, parityOffset: number): void;
  /**
   * Checks one sector against its stored parity and repairs `data` in place when it can.
   * Returns the number of bits corrected (0 when clean; an error in the parity bytes
   * themselves counts as 1 and leaves data alone), or −1 when uncorrectable.
   */
  correct(data: Uint8Array, offset: number, parity: Uint8Array, parityOffset: number): number;
}

/** The closed set of error codes thrown by this package. */
export const NAND_ERROR_CODES = [
  // Contract violations: a bug in the caller; the device is unchanged.
  'PROGRAM_TWICE',
  'PROGRAM_OUT_OF_ORDER',
  'BAD_BLOCK',
  'OUT_OF_RANGE',
  'BUFFER_SIZE',
  // Device outcomes a correct caller must handle.
  'PROGRAM_FAILED',
  'ERASE_FAILED',
  'POWER_LOSS',
  'POWER_OFF',
  // Configuration and backing-store problems.
  'INVALID_GEOMETRY',
  'UNKNOWN_PRESET',
  'IMAGE_IO',
  'IMAGE_CORRUPT',
  // FLASHDIFF_REQUIRE_KERNEL=1 and a WebAssembly kernel failed to compile, link or get its memory.
  'KERNEL_UNAVAILABLE',
] as const;
export type NandErrorCode = (typeof NAND_ERROR_CODES)[number];

/** The contract codes: thrown only when the caller breaks a device rule. */
export const NAND_CONTRACT_CODES: ReadonlySet<NandErrorCode> = new Set<NandErrorCode>([
  'PROGRAM_TWICE',
  'PROGRAM_OUT_OF_ORDER',
  'BAD_BLOCK',
  'OUT_OF_RANGE',
  'BUFFER_SIZE',
]);

/** The one error class of this package; `code` says what happened. */
/**
 * Where a metadata-only fast device's WebAssembly kernel finds its tables: the shared memory they
 * live in and the values of the kernel's imported "device" globals (table addresses, geometry,
 * timing). A consumer that compiles kernel/metadata-device.ts into its own WebAssembly module (the
 * SSD FTL's kernel) instantiates it over this memory with these globals, appends its own tables
 * with memory.allocate(), and then programs, copies back and erases exactly as the device does.
 */
export interface MetadataKernelLayout {
  readonly memory: import('./tables.ts').TableMemory;
  readonly globals: Readonly<Record<string, number>>;
}

export class NandError extends Error {
  readonly code: NandErrorCode;
  constructor(code: NandErrorCode, message: string) {
    super(message);
    this.name = 'NandError';
    this.code = code;
  }
  /** True for errors that mean the caller broke the device contract. */
  get isContractViolation(): boolean {
    return NAND_CONTRACT_CODES.has(this.code);
  }
}

/** True when `e` is a NandError, optionally with the given code. */
export function isNandError(e: unknown, code?: NandErrorCode): e is NandError {
  return e instanceof NandError && (code === undefined || e.code === code);
}
