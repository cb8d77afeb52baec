// The FTL kernel's CRC-32 of a page's spare words (AssemblyScript, part of the FTL kernel; see
// kernel/ftl/mapping.ts): slicing-by-8 over the tables Ftl stores in crcSlice, with the sequence
// word stepped from the last one. Counterpart of src/crc32.ts (crc32Words3Int32); MQSim has none.

import { crcSlice, firstTerm } from './state';

// ------------------------------------------------------------------ CRC-32 of the spare words

/**
 * The byte offset of byte `shift / 8` of x in a slicing table. Table k starts at byte k · 1024 of
 * crcSlice; that start goes in the load's constant offset, so each lookup is one address add.
 */
@inline export function byteIndex(x: u32, shift: u32): usize {
  return <usize>((x >> shift) & 0xff) << 2;
}

/** shift8(w1): the second spare word's term (slicing-by-8's upper four tables, 7 to 4). */
@inline export function lbaTerm(table: usize, w1: u32): u32 {
  return load<u32>(table + byteIndex(w1, 0), 7 << 10) ^ load<u32>(table + byteIndex(w1, 8), 6 << 10) ^
    load<u32>(table + byteIndex(w1, 16), 5 << 10) ^ load<u32>(table + byteIndex(w1, 24), 4 << 10);
}

/** shift4(w2): the third spare word's term (the lower four tables, 3 to 0). */
@inline export function shift4(table: usize, w2: u32): u32 {
  return load<u32>(table + byteIndex(w2, 0), 3 << 10) ^ load<u32>(table + byteIndex(w2, 8), 2 << 10) ^
    load<u32>(table + byteIndex(w2, 16), 1 << 10) ^ load<u32>(table + byteIndex(w2, 24));
}

/**
 * The step from shift4(s) to shift4(s + 1) (crc32.ts SEQUENCE_STEP, stored after the slicing
 * tables): s ^ (s + 1) = 2^(j+1) − 1 with j = the trailing one bits of s, and shift4 is linear.
 * j is taken as 31 − clz(s ^ (s + 1)), not ctz(~s): at the wrap (s = 2^32 − 1) that is step 31
 * (the mask 2^32 − 1), where ctz(~s) would be 32, past the table.
 */
@inline export function sequenceStep(table: usize, s: u32): u32 {
  return load<u32>(table + (<usize>(31 - clz(s ^ (s + 1))) << 2), 8 << 10);
}

// The sequence word hashed last and its shift4: every page takes the next sequence number, so the
// next page's term is nearly always one step (one lookup) from this one instead of four lookups.
// shift4(0) = 0 (a CRC table maps byte 0 to 0), so the pair starts valid.
let lastSequenceWord: u32 = 0;
let lastSequenceTerm: u32 = 0;

/** Records (word, term) as the last sequence word hashed (a run that stepped the terms itself). */
@inline export function rememberSequence(word: u32, term: u32): void {
  lastSequenceWord = word;
  lastSequenceTerm = term;
}

/** shift4(w2), stepped from the last sequence word when w2 follows it. */
@inline export function sequenceTerm(table: usize, w2: u32): u32 {
  const previous = lastSequenceWord;
  const term = w2 == previous + 1 ? lastSequenceTerm ^ sequenceStep(table, previous) : w2 == previous ? lastSequenceTerm : shift4(table, w2);
  lastSequenceWord = w2;
  lastSequenceTerm = term;
  return term;
}

/**
 * CRC-32 of the 12 little-endian bytes of (dataWord0, w1, w2), as crc32Words3Int32 computes it:
 * by linearity ~(shift4(shift4(shift4(~w0))) ^ shift8(w1) ^ shift4(w2)).
 */
@inline export function spareCrc(w1: u32, w2: u32): i32 {
  const table = crcSlice;
  return ~(firstTerm ^ <i32>lbaTerm(table, w1) ^ <i32>sequenceTerm(table, w2));
}
