// AssemblyScript source of the metadata-only fast device's WebAssembly kernel (compiled by
// scripts/build-kernels.ts into src/metadata-kernel-wasm.ts; not part of the TypeScript program).
//
// It runs the fast methods of src/device/metadata-device.ts's MetadataNandDevice — a program from
// four spare words, a copyback run, and an erase — on the device's tables, which createNandDevice
// lays out in a TableMemory (src/tables.ts) that this module imports. The TypeScript device reads and writes the
// same tables as typed arrays. The SSD FTL's kernel compiles this file into its own module (an
// import at build time) and calls these functions directly over the same memory.
//
// Scalars the TypeScript device keeps as plain fields (its counters and operation count) are
// counted here in cells and folded into those fields when the device's stats are read.
// Every function checks what src/device/ checks and returns a status instead of throwing:
// 0 done, 1 page or block out of range, 2 bad block, 3 program order (already programmed),
// 4 not now (power off, a power cut or a fault armed, a read-only store: the caller takes the
// TypeScript path, which raises the same errors as before).

/**
 * The store's compact spare heads (src/spare-head.ts): words 1 and 2 of page p at heads + 8p, for
 * a page whose state byte is compactHeadState (word 0 is headWord0, word 3 the CRC of 0 … 2).
 */
@external("device", "heads") declare const heads: usize;
@external("device", "headWord0") declare const headWord0: i32;
@external("device", "compactHeadState") declare const compactHeadState: i32;
/** CRC-32's byte table (256 words, src/spare-head.ts). */
@external("device", "crcTable") declare const crcTable: usize;
@external("device", "pageState") declare const pageState: usize;
@external("device", "eraseCounts") declare const eraseCounts: usize;
@external("device", "badBlocks") declare const badBlocks: usize;
@external("device", "programmed") declare const programmed: usize;
@external("device", "nextPage") declare const nextPage: usize;
@external("device", "dieOfBlock") declare const dieOfBlock: usize;
@external("device", "channelOfDie") declare const channelOfDie: usize;
@external("device", "readsPerBlock") declare const readsPerBlock: usize;
@external("device", "programsPerBlock") declare const programsPerBlock: usize;
@external("device", "erasesPerBlock") declare const erasesPerBlock: usize;
@external("device", "dieBusy") declare const dieBusy: usize;
@external("device", "dieFree") declare const dieFree: usize;
@external("device", "channelFree") declare const channelFree: usize;
/** NandClock's cells: issue time, last completion, latest completion (f64). */
@external("device", "clockCells") declare const clockCells: usize;
/** The channel calendars (timing.ts NandClockTables): slot starts and ends (f64), head and count per channel (i32). */
@external("device", "calendarStart") declare const calendarStart: usize;
@external("device", "calendarEnd") declare const calendarEnd: usize;
@external("device", "calendarSpan") declare const calendarSpan: usize;
/** 1 when a channel has more than one die (the calendars are used), else 0 (channelFree alone). */
@external("device", "sharedChannels") declare const sharedChannels: i32;
/** timing.ts CHANNEL_CALENDAR_SLOTS. */
@external("device", "calendarSlots") declare const calendarSlots: i32;
/** Counter cells (f64): page reads, page programs, block erases, operations. */
@external("device", "counterCells") declare const counterCells: usize;
/**
 * Flag cells (i32): [0] fast programs allowed (src/device/simulated-device.ts generalOnly false),
 * [1] fast erases allowed, [2] plain reads allowed (power on, no bit errors to inject).
 */
@external("device", "flagCells") declare const flagCells: usize;
@external("device", "pageCount") declare const pageCount: i32;
@external("device", "blockCount") declare const blockCount: i32;
@external("device", "pagesPerBlock") declare const pagesPerBlock: i32;
@external("device", "pageShift") declare const pageShift: i32;
/** log2(blocksPerDie) when it is a power of two, else −1 (then dieOfBlock is looked up). */
@external("device", "dieShift") declare const dieShift: i32;
@external("device", "tR") declare const tR: f64;
@external("device", "tPROG") declare const tPROG: f64;
@external("device", "tBERS") declare const tBERS: f64;
/** recordBytes × transferPerByte: one page's transfer time. */
@external("device", "transfer") declare const transfer: f64;

@inline function u32At(table: usize, index: i32): u32 {
  return load<u32>(table + (<usize>index << 2));
}
@inline function addU32(table: usize, index: i32, by: u32): void {
  const at = table + (<usize>index << 2);
  store<u32>(at, load<u32>(at) + by);
}
@inline function bump(cell: i32, by: f64): void {
  const at = counterCells + (<usize>cell << 3);
  store<f64>(at, load<f64>(at) + by);
}
@inline function blockOf(page: i32): i32 {
  return pageShift >= 0 ? page >>> pageShift : page / pagesPerBlock;
}
/** The die of a block: a shift where blocksPerDie is a power of two, saving a table access (often a cache miss). */
@inline function dieOf(block: i32): i32 {
  return dieShift >= 0 ? block >>> dieShift : load<i32>(dieOfBlock + (<usize>block << 2));
}
@inline function dieFreeAt(die: i32): usize {
  return dieFree + (<usize>die << 3);
}

/** One little-endian word into a CRC-32 register (src/spare-head.ts crcWord). */
@inline function crcWord(c: u32, w: u32): u32 {
  c = load<u32>(crcTable + (<usize>((c ^ w) & 0xff) << 2)) ^ (c >>> 8);
  c = load<u32>(crcTable + (<usize>((c ^ (w >>> 8)) & 0xff) << 2)) ^ (c >>> 8);
  c = load<u32>(crcTable + (<usize>((c ^ (w >>> 16)) & 0xff) << 2)) ^ (c >>> 8);
  return load<u32>(crcTable + (<usize>((c ^ (w >>> 24)) & 0xff) << 2)) ^ (c >>> 8);
}

/** CRC-32 of the 12 little-endian bytes of w0, w1, w2 (src/spare-head.ts headCrc). */
// Mirrors: packages/nand/src/spare-head.ts#headCrc packages/nand/src/spare-head.ts#crcWord kernel:1f22c19b source:c767554a
function crcHead(w0: u32, w1: u32, w2: u32): u32 {
  return ~crcWord(crcWord(crcWord(0xffffffff, w0), w1), w2);
}

/**
 * Word 1 of page's spare head when the store keeps it compact (the SSD FTL's LBA of a data page),
 * else −1: MetadataNandDevice.compactHeadWord1, for the FTL's kernel (which derives its P2L from it).
 */
// Mirrors: packages/nand/src/device/metadata-device.ts#MetadataNandDevice.compactHeadWord1 kernel:f1e67ac4 source:786d05aa
@inline export function headWord1(page: i32): i32 {
  return load<u8>(pageState + <usize>page) == <u8>compactHeadState ? load<i32>(heads + (<usize>page << 3)) : -1;
}

/** Whether fast programs may run now (1) or the caller must take the TypeScript path (0). */
export function programsReady(): i32 {
  return load<i32>(flagCells);
}

/** Whether fast erases may run now (nothing armed that an erase could trip). */
export function erasesReady(): i32 {
  return load<i32>(flagCells, 4);
}

/** Whether a read can be charged here (readPage would return the stored bytes and nothing else). */
export function readsReady(): i32 {
  return load<i32>(flagCells, 8);
}

/** The erase count of a block (no range check: the caller's block). */
export function eraseCount(block: i32): u32 {
  return u32At(eraseCounts, block);
}

// ------------------------------------------------------------------ the clock (timing.ts NandClock)

/** NandClock.finish: the die is busy from `start` to `done`. */
// Mirrors: packages/nand/src/timing.ts#NandClock.finish kernel:ba00b147 source:ce61f3d4
@inline function finish(die: i32, start: f64, done: f64): void {
  store<f64>(dieFreeAt(die), done);
  const busy = dieBusy + (<usize>die << 3);
  store<f64>(busy, load<f64>(busy) + (done - start));
  store<f64>(clockCells, done, 8);
  if (done > load<f64>(clockCells, 16)) store<f64>(clockCells, done, 16);
}

@inline function slotStart(base: i32, i: i32): usize {
  return calendarStart + (<usize>(base + i) << 3);
}
@inline function slotEnd(base: i32, i: i32): usize {
  return calendarEnd + (<usize>(base + i) << 3);
}
/** Moves slots [from, from + n) of a calendar to `to` (memmove of both arrays). */
@inline function moveSlots(base: i32, to: i32, from: i32, n: i32): void {
  if (n <= 0) return;
  memory.copy(slotStart(base, to), slotStart(base, from), <usize>n << 3);
  memory.copy(slotEnd(base, to), slotEnd(base, from), <usize>n << 3);
}

/**
 * NandClock.book: `duration` ns of the channel at the earliest free time ≥ ready; returns that
 * time. Inlined: a channel with one die (sharedChannels 0) is one "free at" time, the hot path of
 * the FTL's kernel; the calendar walk is bookShared, out of line.
 */
// Mirrors: packages/nand/src/timing.ts#NandClock.book kernel:982a7475 source:d7878591
@inline function book(channel: i32, ready: f64, duration: f64): f64 {
  if (sharedChannels != 0) return bookShared(channel, ready, duration);
  const freeAt = channelFree + (<usize>channel << 3);
  const free = load<f64>(freeAt);
  const start = ready > free ? ready : free;
  store<f64>(freeAt, start + duration);
  return start;
}

/** book for a channel several dies share: the calendar (NandClock.book after its one-die case). */
// Mirrors: packages/nand/src/timing.ts#NandClock.book kernel:1030583b source:d7878591
function bookShared(channel: i32, ready: f64, duration: f64): f64 {
  const freeAt = channelFree + (<usize>channel << 3);
  const base = channel * calendarSlots;
  const spanAt = calendarSpan + (<usize>channel << 3);
  const issue = load<f64>(clockCells);
  let head = load<i32>(spanAt);
  let count = load<i32>(spanAt, 4);
  while (count > 0 && load<f64>(slotEnd(base, head)) <= issue) {
    head++;
    count--;
  }
  if (count == 0) head = 0;
  let start = ready;
  let at = head + count;
  if (count > 0 && ready < load<f64>(freeAt)) {
    for (let i = head; i < head + count; i++) {
      const end = load<f64>(slotEnd(base, i));
      if (end <= start) continue;
      if (load<f64>(slotStart(base, i)) >= start + duration) {
        at = i;
        break;
      }
      start = end;
    }
  }
  const end = start + duration;
  if (at > head && load<f64>(slotEnd(base, at - 1)) == start) {
    store<f64>(slotEnd(base, at - 1), end);
  } else {
    if (head + count == calendarSlots) {
      if (count == calendarSlots) {
        let merge = -1;
        let shortest = Infinity;
        for (let i = 0; i + 1 < count; i++) {
          if (i + 1 == at) continue;
          const gap = load<f64>(slotStart(base, i + 1)) - load<f64>(slotEnd(base, i));
          if (gap < shortest) {
            shortest = gap;
            merge = i;
          }
        }
        store<f64>(slotEnd(base, merge), load<f64>(slotEnd(base, merge + 1)));
        moveSlots(base, merge + 1, merge + 2, count - merge - 2);
        count--;
        if (at > merge + 1) at--;
      } else {
        moveSlots(base, 0, head, count);
        at -= head;
        head = 0;
      }
    }
    moveSlots(base, at + 1, at, head + count - at);
    store<f64>(slotStart(base, at), start);
    store<f64>(slotEnd(base, at), end);
    count++;
  }
  store<i32>(spanAt, head);
  store<i32>(spanAt, count, 4);
  if (end > load<f64>(freeAt)) store<f64>(freeAt, end);
  return start;
}

/** NandClock.program: the channel moves the page in, then the die programs it. */
// Mirrors: packages/nand/src/timing.ts#NandClock.program kernel:c86e6d14 source:8958edad
@inline function clockProgram(die: i32): void {
  const channel = load<i32>(channelOfDie + (<usize>die << 2));
  const free = load<f64>(dieFreeAt(die));
  const issue = load<f64>(clockCells);
  const start = book(channel, issue > free ? issue : free, transfer);
  finish(die, start, start + transfer + tPROG);
}

/** NandClock.read: the die senses the page, then the channel moves it out. */
// Mirrors: packages/nand/src/timing.ts#NandClock.read kernel:be79804f source:4533532d
@inline function clockRead(die: i32): void {
  const channel = load<i32>(channelOfDie + (<usize>die << 2));
  const free = load<f64>(dieFreeAt(die));
  const issue = load<f64>(clockCells);
  const start = issue > free ? issue : free;
  finish(die, start, book(channel, start + tR, transfer) + transfer);
}

/** SimulatedNandDevice.readPage with no buffers (readsReady): the read is charged and counted. */
// Mirrors: packages/nand/src/device/simulated-device.ts#SimulatedNandDevice.readPage kernel:6f500d6b source:31a555fd
export function read(page: i32): i32 {
  if (load<i32>(flagCells, 8) == 0) return 4;
  if (<u32>page >= <u32>pageCount) return 1;
  const block = blockOf(page);
  clockRead(dieOf(block));
  bump(0, 1);
  addU32(readsPerBlock, block, 1);
  return 0;
}

// ------------------------------------------------------------------ a sink's owner (the SSD's transaction scheduler)
// With NandClock.sink set the device hands each operation's timing to the sink's owner, which
// books the channel and notes completions itself; the device still checks, counts and stores. The
// SSD kernel's transaction scheduler (packages/ssd/kernel/scheduler.ts) is such an owner.

/** NandClock.bookChannel: `duration` ns of `channel` at the earliest free time ≥ ready; returns the start. */
// Mirrors: packages/nand/src/timing.ts#NandClock.bookChannel kernel:1fc882c0 source:d310dfd0
export function bookChannel(channel: i32, ready: f64, duration: f64): f64 {
  return book(channel, ready, duration);
}

/** NandClock.noteCompletion: an operation the sink's owner timed completes at `done`. */
// Mirrors: packages/nand/src/timing.ts#NandClock.noteCompletion kernel:7274ad1b source:8bc7e5f0
export function noteCompletion(done: f64): void {
  store<f64>(clockCells, done, 8);
  if (done > load<f64>(clockCells, 16)) store<f64>(clockCells, done, 16);
}

/** NandClock.issueAt: operations are issued no earlier than `time`. */
// Mirrors: packages/nand/src/timing.ts#NandClock.issueAt kernel:5b280d68 source:cbd64080
export function issueAt(time: f64): void {
  if (time > load<f64>(clockCells)) store<f64>(clockCells, time);
}

/** NandClock.dieBusy[die] += ns (the sink's owner's command time). */
export function addDieBusy(die: i32, ns: f64): void {
  const busy = dieBusy + (<usize>die << 3);
  store<f64>(busy, load<f64>(busy) + ns);
}

/** The die of a page (SimulatedNandDevice: dieOfBlock of its block), no range check. */
export function dieOfPage(page: i32): i32 {
  return dieOf(blockOf(page));
}

/** The channel of a die (SimulatedNandDevice.channelOfDie). */
export function channelOfDieAt(die: i32): i32 {
  return load<i32>(channelOfDie + (<usize>die << 2));
}

/** The transfer of one page and its spare (recordBytes) on the channel, ns: NandClock's transfer for a whole record. */
export function recordTransfer(): f64 {
  return transfer;
}

/**
 * SimulatedNandDevice.readPage with no buffers, a sink taking the timing: the range check and the
 * counts (the caller handed the sink the read first, as readPage does). Returns 1 out of range.
 */
// Mirrors: packages/nand/src/device/simulated-device.ts#SimulatedNandDevice.readPage kernel:67eee5b7 source:31a555fd
export function countSinkRead(page: i32): i32 {
  if (<u32>page >= <u32>pageCount) return 1;
  bump(0, 1);
  addU32(readsPerBlock, blockOf(page), 1);
  return 0;
}

// ------------------------------------------------------------------ program

/** The program half of programSpareWords (the checks passed, the flags say go): writes the page's compact head. */
@inline function programChecked(page: i32, block: i32, inBlock: i32, w1: i32, w2: i32): void {
  bump(3, 1);
  clockProgram(dieOf(block));
  bump(1, 1);
  addU32(programsPerBlock, block, 1);
  const at = heads + (<usize>page << 3);
  store<i32>(at, w1);
  store<i32>(at, w2, 4);
  store<u8>(pageState + <usize>page, <u8>compactHeadState);
  store<u8>(programmed + <usize>page, 1);
  store<u32>(nextPage + (<usize>block << 2), inBlock + 1);
}

/** programSpareWords' checks: 0 when `page` may be programmed now, else the status. */
@inline function programStatus(page: i32): i32 {
  if (load<i32>(flagCells) == 0) return 4;
  if (<u32>page >= <u32>pageCount) return 1;
  const block = blockOf(page);
  if (load<u8>(badBlocks + <usize>block) != 0) return 2;
  if (<u32>(page - block * pagesPerBlock) < u32At(nextPage, block)) return 3;
  return 0;
}

/**
 * MetadataNandDevice.programSpareWords: programs `page` with spare head words w0…w3. A head that
 * is not compact (another word 0, a wrong CRC) returns 4: the TypeScript device keeps it whole.
 */
// Mirrors: packages/nand/src/device/metadata-device.ts#MetadataNandDevice.programSpareWords packages/nand/src/store.ts#RamStore.writeHeadWords kernel:c9003a54 source:b3f23bf3
export function program(page: i32, w0: i32, w1: i32, w2: i32, w3: i32): i32 {
  const status = programStatus(page);
  if (status != 0) return status;
  if (w0 != headWord0 || <u32>w3 != crcHead(w0, w1, w2)) return 4;
  const block = blockOf(page);
  programChecked(page, block, page - block * pagesPerBlock, w1, w2);
  return 0;
}

/**
 * program(page, headWord0, w1, w2, CRC of the three) without computing the CRC: the SSD FTL's
 * kernel programs its data pages so (their heads are compact by construction).
 */
// Mirrors: packages/nand/src/device/metadata-device.ts#MetadataNandDevice.programSpareWords packages/nand/src/store.ts#RamStore.writeHeadWords kernel:bfc59066 source:b3f23bf3
export function programHead(page: i32, w1: i32, w2: i32): i32 {
  const status = programStatus(page);
  if (status != 0) return status;
  const block = blockOf(page);
  programChecked(page, block, page - block * pagesPerBlock, w1, w2);
  return 0;
}

/**
 * programHead with a sink taking the timing (NandClock.sink): the checks, the counts and the
 * compact head of MetadataNandDevice.programSpareWords, no clock (the caller handed the sink the
 * program). The readiness flags are not looked at: the caller checked them before pausing nothing.
 */
// Mirrors: packages/nand/src/device/metadata-device.ts#MetadataNandDevice.programSpareWords packages/nand/src/store.ts#RamStore.writeHeadWords kernel:97d7b464 source:b3f23bf3
export function programHeadSink(page: i32, w1: i32, w2: i32): i32 {
  if (<u32>page >= <u32>pageCount) return 1;
  const block = blockOf(page);
  if (load<u8>(badBlocks + <usize>block) != 0) return 2;
  const inBlock = page - block * pagesPerBlock;
  if (<u32>inBlock < u32At(nextPage, block)) return 3;
  bump(3, 1);
  bump(1, 1);
  addU32(programsPerBlock, block, 1);
  const at = heads + (<usize>page << 3);
  store<i32>(at, w1);
  store<i32>(at, w2, 4);
  store<u8>(pageState + <usize>page, <u8>compactHeadState);
  store<u8>(programmed + <usize>page, 1);
  store<u32>(nextPage + (<usize>block << 2), inBlock + 1);
  return 0;
}

/**
 * programHeadSink's checks for `count` consecutive pages of one block from `page` (0: every one
 * would pass; else the status the first failing page would have), before the caller stores their
 * compact heads itself and counts them with programHeadRunSink. 5: the run leaves the block.
 */
// Mirrors: packages/nand/src/device/metadata-device.ts#MetadataNandDevice.programSpareWords kernel:d9104835 source:f1ce3e3c
export function programHeadRunStatus(page: i32, count: i32): i32 {
  if (<u32>page >= <u32>pageCount) return 1;
  const block = blockOf(page);
  if (load<u8>(badBlocks + <usize>block) != 0) return 2;
  const inBlock = page - block * pagesPerBlock;
  if (<u32>inBlock < u32At(nextPage, block)) return 3;
  if (inBlock + count > pagesPerBlock) return 5;
  return 0;
}

/**
 * programHeadSink's counts and page states for `count` consecutive pages of one block from `page`
 * (programHeadRunStatus passed), whose words 1 and 2 the caller stored at heads + 8·page: the
 * state count programHeadSink calls would leave (the marked fill, kernel/ftl/marked-fill.ts in ssd).
 */
// Mirrors: packages/nand/src/device/metadata-device.ts#MetadataNandDevice.programSpareWords packages/nand/src/store.ts#RamStore.writeHeadWords kernel:6d55b73a source:b3f23bf3
export function programHeadRunSink(page: i32, count: i32): void {
  if (count <= 0) return;
  programHeadRunCounts(page, count);
  memory.fill(pageState + <usize>page, <u8>compactHeadState, <usize>count);
  memory.fill(programmed + <usize>page, 1, <usize>count);
}

/**
 * The counts and next page of programHeadRunSink (which calls it): the caller stores each page's
 * compact head, page state and programmed byte itself when it first needs them (the SSD FTL's lazily
 * materialised fill, kernel/ftl/lazy-fill.ts in ssd, which writes all of them before anything
 * outside its module reads the store).
 */
// Mirrors: packages/nand/src/device/metadata-device.ts#MetadataNandDevice.programSpareWords packages/nand/src/store.ts#RamStore.writeHeadWords kernel:47f94df6 source:b3f23bf3
export function programHeadRunCounts(page: i32, count: i32): void {
  if (count <= 0) return;
  const block = blockOf(page);
  bump(3, <f64>count);
  bump(1, <f64>count);
  addU32(programsPerBlock, block, <u32>count);
  store<u32>(nextPage + (<usize>block << 2), page - block * pagesPerBlock + count);
}

/**
 * MetadataNandDevice.copybackRun for a run whose sources all lie in one block on the target's die
 * (a block-mode GC run): `count` copybacks from `sourceBlock` to target … target + count − 1 with
 * compact heads (the SSD FTL's data pages), words 1 and 2 of page k at words + 8k. The clock takes
 * the closed form of NandClock.copybackRun. Returns 5 when the run would leave the target's block
 * (nothing done).
 */
// Mirrors: packages/nand/src/device/metadata-device.ts#MetadataNandDevice.copybackRun packages/nand/src/store.ts#RamStore.writeHeadWords kernel:e3a2d13d source:d7fe47a1
export function copybackRun(sourceBlock: i32, target: i32, count: i32, words: usize): i32 {
  if (load<i32>(flagCells) == 0) return 4;
  if (<u32>target >= <u32>pageCount || <u32>sourceBlock >= <u32>blockCount) return 1;
  const block = blockOf(target);
  if (load<u8>(badBlocks + <usize>block) != 0) return 2;
  const first = target - block * pagesPerBlock;
  if (<u32>first < u32At(nextPage, block)) return 3;
  if (first + count > pagesPerBlock) return 5;
  const die = dieOf(block);
  if (dieOf(sourceBlock) != die) return 1;
  clockCopybackRun(die, count);
  addU32(readsPerBlock, sourceBlock, count);
  memory.copy(heads + (<usize>target << 3), words, <usize>count << 3);
  memory.fill(pageState + <usize>target, <u8>compactHeadState, <usize>count);
  memory.fill(programmed + <usize>target, 1, <usize>count);
  const n = <f64>count;
  bump(0, n);
  bump(1, n);
  bump(3, n);
  addU32(programsPerBlock, block, count);
  store<u32>(nextPage + (<usize>block << 2), first + count);
  return 0;
}

/** NandClock.copybackRun: `count` reads then programs on one die, closed form from the second. */
// Mirrors: packages/nand/src/timing.ts#NandClock.copybackRun kernel:353eca25 source:ed70a402
function clockCopybackRun(die: i32, count: i32): void {
  if (sharedChannels != 0) {
    for (let i = 0; i < count; i++) {
      clockRead(die);
      clockProgram(die);
    }
    return;
  }
  const channel = channelFree + (<usize>load<i32>(channelOfDie + (<usize>die << 2)) << 3);
  const busyAt = dieBusy + (<usize>die << 3);
  const issue = load<f64>(clockCells);
  let free = load<f64>(dieFreeAt(die));
  let channelAt = load<f64>(channel);
  let busy = load<f64>(busyAt);
  let latest = load<f64>(clockCells, 16);
  let done = load<f64>(clockCells, 8);
  for (let i = 0; i < count; i++) {
    if (i == 1 && count > 2) {
      // As in timing.ts: with whole numbers of ns below 2^53 the closed form is exact.
      const step = tR + 2 * transfer + tPROG;
      const remaining = <f64>(count - 1);
      const finalDie = free + remaining * step;
      const finalBusy = busy + remaining * step;
      if (isWhole(tR) && isWhole(transfer) && isWhole(tPROG) && isWhole(free) && isWhole(busy) && free >= issue && channelAt <= free && isSafe(finalDie) && isSafe(finalBusy)) {
        free = finalDie;
        channelAt = finalDie - tPROG;
        busy = finalBusy;
        done = finalDie;
        if (done > latest) latest = done;
        break;
      }
    }
    let start = issue > free ? issue : free;
    const sensed = start + tR;
    done = (sensed > channelAt ? sensed : channelAt) + transfer;
    channelAt = done;
    free = done;
    busy += done - start;
    if (done > latest) latest = done;
    start = issue > free ? issue : free;
    if (channelAt > start) start = channelAt;
    const moved = start + transfer;
    channelAt = moved;
    done = moved + tPROG;
    free = done;
    busy += done - start;
    if (done > latest) latest = done;
  }
  store<f64>(dieFreeAt(die), free);
  store<f64>(channel, channelAt);
  store<f64>(busyAt, busy);
  store<f64>(clockCells, done, 8);
  store<f64>(clockCells, latest, 16);
}

@inline function isWhole(x: f64): bool {
  return Math.floor(x) == x && Math.abs(x) < Infinity;
}
@inline function isSafe(x: f64): bool {
  return isWhole(x) && Math.abs(x) <= 9007199254740991;
}

// ------------------------------------------------------------------ erase

/**
 * SimulatedNandDevice.eraseBlock with nothing armed (erasesReady): the clock, the counters, the
 * store's page states, the device's programmed bytes and next page, the erase count.
 */
// Mirrors: packages/nand/src/device/simulated-device.ts#SimulatedNandDevice.eraseBlock packages/nand/src/device/metadata-device.ts#MetadataNandDevice.eraseBlock kernel:7d8cdec0 source:f12dd6bd
export function erase(block: i32): i32 {
  if (load<i32>(flagCells, 4) == 0) return 4;
  if (<u32>block >= <u32>blockCount) return 1;
  if (load<u8>(badBlocks + <usize>block) != 0) return 2;
  bump(3, 1);
  const die = dieOf(block);
  const free = load<f64>(dieFreeAt(die));
  const issue = load<f64>(clockCells);
  const start = issue > free ? issue : free;
  finish(die, start, start + tBERS);
  bump(2, 1);
  addU32(erasesPerBlock, block, 1);
  const first = <usize>(block * pagesPerBlock);
  memory.fill(pageState + first, 0, <usize>pagesPerBlock);
  memory.fill(programmed + first, 0, <usize>pagesPerBlock);
  store<u32>(nextPage + (<usize>block << 2), 0);
  addU32(eraseCounts, block, 1);
  return 0;
}
