/** The trace formats (DiskSim ASCII, MSR/SNIA CSV, blkparse text, flashdiff) and their loader. */
export { parseDiskSim } from './disksim.ts';
export { parseMsrCsv, MSR_HEADER } from './msr.ts';
export { parseBlkparse, BLKPARSE_EVENTS } from './blkparse.ts';
export type { BlkparseEvent, BlkparseResult } from './blkparse.ts';
export { parseFlashdiffTrace, formatFlashdiffTrace, FLASHDIFF_HEADER } from './flashdiff.ts';
export { detectTraceFormat, parseTraceText, loadTrace, readLines, fitToDevice, tracePageWrites, TRACE_FORMATS } from './load.ts';
export type { TraceFormat, TraceLoadOptions, LoadedTrace } from './load.ts';
