/**
 * Consistency check (upstream: yaffs_verify.c): in-memory structures against the flash.
 */
import { emptyTags, ObjectType } from './tags.ts';
import { blockOf } from './block-info.ts';
import type { Yaffs2Dev } from './block-info.ts';
import { readChunk } from './nand-io.ts';
import { assertMounted } from './objects.ts';

/**
 * Checks the in-memory structures against the flash: every live chunk's tags name its owner,
 * block live counts add up, no file keeps a chunk past its size, the tree is connected. Returns a list of problems (empty: clean).
 */
export function verifyFileSystem(dev: Yaffs2Dev): string[] {
  assertMounted(dev);
  const problems: string[] = [];
  const counted = new Uint32Array(dev.blockCount);
  const tags = emptyTags();
  const verifyPage = (page: number, id: number, chunkId: number, what: string): void => {
    counted[blockOf(dev, page)]!++;
    if (!dev.chunkLive[page]) problems.push(`${what}: page ${page} is not marked live`);
    const data = new Uint8Array(dev.chunkSize);
    if (!readChunk(dev, page, data, tags)) {
      problems.push(`${what}: page ${page} is unreadable (ECC)`);
      return;
    }
    if (tags.objectId !== id || tags.chunkId !== chunkId) {
      problems.push(`${what}: page ${page} holds object ${tags.objectId} chunk ${tags.chunkId}`);
    }
  };
  for (const o of dev.objects.values()) {
    if (o.fake) {
      // Root and lost+found have a header on flash only once written (upstream: after a chmod).
      if (o.headerPage >= 0) verifyPage(o.headerPage, o.id, 0, `object ${o.id} header`);
      continue;
    }
    if (o.headerPage >= 0) verifyPage(o.headerPage, o.id, 0, `object ${o.id} header`);
    else problems.push(`object ${o.id} has no header`);
    if (!dev.objects.has(o.parentId)) problems.push(`object ${o.id}: parent ${o.parentId} missing`);
    for (let k = 1; k <= o.chunks.length; k++) {
      const p = o.chunks[k - 1]!;
      if (p < 0) continue;
      verifyPage(p, o.id, k, `object ${o.id} chunk ${k}`);
      // A chunk past the end is one a truncation (or O_TRUNC) should have dropped.
      if ((k - 1) * dev.chunkSize >= o.size) problems.push(`object ${o.id}: chunk ${k} (page ${p}) lies past the file size ${o.size}`);
    }
    if (o.type === ObjectType.hardlink && !dev.objects.has(o.equivId)) problems.push(`hard link ${o.id}: target ${o.equivId} missing`);
  }
  for (let b = 0; b < dev.blockCount; b++) {
    if (counted[b] !== dev.blockLive[b]) problems.push(`block ${b}: ${dev.blockLive[b]} live chunks counted, ${counted[b]} found`);
  }
  return problems;
}
