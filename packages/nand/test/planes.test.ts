// Planes in the geometry: the plane of a block, validation naming the field, descriptions.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NandError, PRESETS, describeGeometry, planeOfBlock, planesPerDie, sameGeometry, validateGeometry } from '../src/index.ts';

describe('planes', () => {
  test('planesPerDie defaults to 1 and presets have none', () => {
    for (const g of Object.values(PRESETS)) {
      assert.equal(planesPerDie(g), 1);
      assert.equal('planesPerDie' in g, false);
    }
    assert.equal(describeGeometry(PRESETS['ssd-small']), '4 ch × 2 die × 256 blocks × 64 pages × (4096+128) bytes');
  });

  test('block b of a die is in plane b mod planesPerDie', () => {
    const g = { ...PRESETS['ssd-small'], planesPerDie: 4 }; // 256 blocks per die
    assert.deepEqual([0, 1, 2, 3, 4, 5, 255, 256, 257, 258, 259, 260, 2047].map((b) => planeOfBlock(g, b)), [0, 1, 2, 3, 0, 1, 3, 0, 1, 2, 3, 0, 3]);
    // blocks per die not a multiple of 4 times dies: the plane restarts at each die's first block
    const odd = { ...PRESETS['seed-mini'], planesPerDie: 2, blocksPerDie: 6 };
    assert.deepEqual([0, 1, 5, 6, 7, 11, 12].map((b) => planeOfBlock(odd, b)), [0, 1, 1, 0, 1, 1, 0]);
    assert.equal(describeGeometry(g), '4 ch × 2 die × 256 blocks (4 planes) × 64 pages × (4096+128) bytes');
    assert.equal(sameGeometry(g, PRESETS['ssd-small']), false);
    assert.equal(sameGeometry({ ...PRESETS['ssd-small'], planesPerDie: 1 }, PRESETS['ssd-small']), true);
  });

  test('validation names planesPerDie', () => {
    const base = PRESETS['ssd-small'];
    for (const [planes, words] of [[0, 'positive integer'], [1.5, 'positive integer'], ['2', 'positive integer'], [3, 'must divide geometry.blocksPerDie 256']] as const) {
      assert.throws(
        () => validateGeometry({ ...base, planesPerDie: planes as number }),
        (e: unknown) => e instanceof NandError && e.code === 'INVALID_GEOMETRY' && e.message.includes('geometry.planesPerDie') && e.message.includes(words),
      );
    }
    assert.equal(validateGeometry({ ...base, planesPerDie: 2 }).planesPerDie, 2);
  });
});
