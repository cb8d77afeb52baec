/**
 * Per-block facts of a mounted YAFFS2 file system for the block view: state, sequence number,
 * erase count and live chunks, from `Yaffs2.blockInfo`.
 */
import type { Yaffs2 } from '@flashdiff/yaffs2';
import type { YaffsBlockInfo } from '../../shared/protocol.ts';

/**
 * The view's five states: empty, allocating, full, dirty (full, but some chunks are stale and
 * GC can reclaim them), bad (retired or factory bad); plus checkpoint blocks.
 */
export function yaffsBlocks(fs: Yaffs2): YaffsBlockInfo[] {
  const out: YaffsBlockInfo[] = [];
  for (let b = 0; b < fs.blockCount; b++) {
    const info = fs.blockInfo(b);
    let state = info.state;
    if (state === 'dead' || info.bad) state = 'bad';
    else if (state === 'full' && info.pagesLive < info.pagesWritten) state = 'dirty';
    out.push({
      block: b,
      state,
      sequence: info.sequence,
      eraseCount: info.eraseCount,
      pagesInUse: info.pagesLive,
    });
  }
  return out;
}
