// The FTL kernel's marked fill (AssemblyScript, part of the FTL's WebAssembly module; see
// kernel/ftl/mapping.ts): the writes of src/ftl/marked-fill.ts's markedFill (its pass 2), after
// its checks (pass 1, in TypeScript) proved they need no GC, keep every die's room and find every
// LBA unmapped and distinct — untimed (the fill's clock drops its operations, so none is handed
// to a scheduler here), each page programmed through the plane view (kernel/planes.ts).
// Counterpart of src/ftl/marked-fill.ts (MQSim: FTL::Perform_precondition).
import { programHeadSink } from '../../../nand/kernel/metadata-device';
import { SCALAR_NEXT_SEQUENCE } from '../../src/ftl/abi';
import { realPage } from '../planes';
import { blockMinSeq, blockValid, dataPages, dieOrder, dies, hostSlot, i32At, l2p, pagesPerBlock, poolValid, scalarCells, setI32, validBits, writePointer } from './state';
import { closeBlock, openUnit, setValid } from './block-manager';

/**
 * Host-writes LBAs order[0 … count) (i32 at `order`; or first … first + count − 1 when `order`
 * is 0) as markedFill's pass 2 does: each to its die — dieOfResidue[lba mod period] for a static
 * scheme (i32 at `residues`), else round robin from `cursor` over dieOrder — at the next page of
 * its open block (a free block opened first), sequence numbers from the cell on. Returns the last
 * page written (view page; −1 for none).
 */
// Mirrors: packages/ssd/src/ftl/marked-fill.ts#markedFill kernel:37b2622f source:9f91080e
export function markedFillPages(order: usize, first: i32, count: i32, residues: usize, period: i32, cursor: i32): i32 {
  let seq = load<f64>(scalarCells, SCALAR_NEXT_SEQUENCE << 3);
  let last = -1;
  for (let i = 0; i < count; i++) {
    const lba = order != 0 ? load<i32>(order + (<usize>i << 2)) : first + i;
    let die: i32;
    if (residues != 0) die = load<i32>(residues + (<usize>(lba % period) << 2));
    else {
      die = i32At(dieOrder, cursor);
      if (++cursor == dies) cursor = 0;
    }
    let b = i32At(hostSlot, die);
    if (b < 0) {
      store<f64>(scalarCells, seq, SCALAR_NEXT_SEQUENCE << 3);
      b = openUnit(hostSlot, die);
    }
    const wp = i32At(writePointer, b);
    const ppa = b * pagesPerBlock + wp;
    setI32(writePointer, b, wp + 1);
    if (programHeadSink(realPage(ppa), lba, <i32>(<i64>seq)) != 0) unreachable(); // pass 1 and the device's readiness rule it out
    const minAt = blockMinSeq + (<usize>b << 3);
    if (seq < load<f64>(minAt)) store<f64>(minAt, seq);
    seq += 1;
    setI32(l2p, lba, ~ppa);
    if (wp + 1 >= dataPages) {
      // The block's last data page: closed (stamped with the next sequence number) before the
      // page is counted valid, as placeHost and writeAfterKernel do.
      store<f64>(scalarCells, seq, SCALAR_NEXT_SEQUENCE << 3);
      closeBlock(hostSlot, b);
      setValid(ppa);
    } else {
      const w = validBits + (<usize>(ppa >>> 5) << 2);
      store<u32>(w, load<u32>(w) | (1 << (ppa & 31)));
      setI32(blockValid, b, i32At(blockValid, b) + 1);
      setI32(poolValid, die, i32At(poolValid, die) + 1);
    }
    last = ppa;
  }
  store<f64>(scalarCells, seq, SCALAR_NEXT_SEQUENCE << 3);
  return last;
}
