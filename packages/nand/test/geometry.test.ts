import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PRESETS, PRESET_NAMES, blockOfPage, capacityBytes, channelOfDie, createNandDevice, dieOfBlock, geometryPreset,
  totalBlocks, totalDies, totalPages, validateGeometry,
} from '../src/index.ts';
import { throwsNand } from './helpers.ts';

describe('geometry', () => {
  test('presets named by the issue have the documented shapes', () => {
    assert.deepEqual({ ...PRESETS['yaffs2-2k'] }, { pageSize: 2048, spareSize: 64, pagesPerBlock: 64, blocksPerDie: 1024, diesPerChannel: 1, channels: 1 });
    assert.equal(capacityBytes(PRESETS['yaffs2-2k']), 128 * 2 ** 20);
    assert.deepEqual({ ...PRESETS['small-page'] }, { pageSize: 512, spareSize: 16, pagesPerBlock: 32, blocksPerDie: 1024, diesPerChannel: 1, channels: 1 });
    const mini = PRESETS['seed-mini'];
    assert.deepEqual([mini.channels, mini.diesPerChannel, mini.blocksPerDie, mini.pagesPerBlock], [4, 1, 6, 9]);
    assert.equal(totalPages(mini), 216);
    assert.equal(totalBlocks(PRESETS['ssd-4k']), 4096);
    assert.equal(totalPages(PRESETS['ssd-4k']), 4096 * 64);
    assert.equal(totalDies(PRESETS['ssd-small']), 8);
    for (const name of PRESET_NAMES) {
      assert.equal(geometryPreset(name), PRESETS[name]);
      assert.equal(validateGeometry(PRESETS[name]), PRESETS[name]);
    }
  });

  test('an unknown preset throws UNKNOWN_PRESET listing the valid names', () => {
    throwsNand(() => geometryPreset('yaffs2-4k'), 'UNKNOWN_PRESET');
    assert.throws(() => geometryPreset('nope'), (e: Error) => PRESET_NAMES.every((n) => e.message.includes(n)));
  });

  test('validateGeometry rejects non-positive, fractional and missing counts', () => {
    const good = PRESETS['small-page'];
    for (const bad of [
      { ...good, pageSize: 0 }, { ...good, spareSize: -1 }, { ...good, pagesPerBlock: 1.5 },
      { ...good, channels: Number.NaN }, { ...good, blocksPerDie: undefined as unknown as number },
      { ...good, blocksPerDie: 2 ** 40 },
    ]) {
      throwsNand(() => validateGeometry(bad), 'INVALID_GEOMETRY');
      throwsNand(() => createNandDevice({ geometry: bad }), 'INVALID_GEOMETRY');
    }
  });

  test('addressing: blocks die-major, dies channel-major, pages global', () => {
    const g = { ...PRESETS['ssd-small'] }; // 4 ch × 2 dies × 256 blocks × 64 pages
    assert.equal(dieOfBlock(g, 0), 0);
    assert.equal(dieOfBlock(g, 255), 0);
    assert.equal(dieOfBlock(g, 256), 1);
    assert.equal(dieOfBlock(g, 2047), 7);
    assert.equal(channelOfDie(g, 1), 0);
    assert.equal(channelOfDie(g, 2), 1);
    assert.equal(channelOfDie(g, 7), 3);
    assert.equal(blockOfPage(g, 63), 0);
    assert.equal(blockOfPage(g, 64), 1);
    const mini = PRESETS['seed-mini'];
    assert.equal(dieOfBlock(mini, 6), 1);
    assert.equal(channelOfDie(mini, 3), 3);
    assert.equal(blockOfPage(mini, 215), 23);
  });
});
