import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { CaptionDatasetWriter, crc32, openCaptionDataset, splitPath, writeCaptionDataset } from '../src/data/caption-dataset.ts';
import {
  COLOUR_NAMES,
  HELD_OUT_PAIRS,
  PALETTE,
  RELATIONS,
  RELATION_MIN_DISTANCE,
  SIZE_RANGES,
  boxesSeparated,
  isHeldOutPair,
  pairCaptionWithSizes,
  parsePrompt,
  promptText,
  relationMargin,
  renderPromptScene,
  shapeMask,
  shapesEvaluationPrompts,
  shapesSample,
  shapesSizedPairPrompts,
} from '../src/data/shapes.ts';
import { registerDataCommands, shapesRecord } from '../src/node/data-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'diffusion-shapes-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CAPTION_ONE = new RegExp(`^a (?:(small|large) )?(${COLOUR_NAMES.join('|')}) (circle|square|triangle)$`);
const CAPTION_TWO = new RegExp(`^a (${COLOUR_NAMES.join('|')}) (circle|square|triangle) (${RELATIONS.join('|')}) a (${COLOUR_NAMES.join('|')}) (circle|square|triangle)$`);

describe('Shapes grammar', () => {
  test('scenes follow the grammar: exact colours, inside, no overlap, sizes, relations, captions', () => {
    let single = 0;
    let two = 0;
    let sizeOmitted = 0;
    for (const split of ['train', 'test', 'held-out'] as const) {
      for (let i = 0; i < 250; i++) {
        const { scene, image } = shapesSample(3, i, split);
        assert.ok(scene.objects.length === 1 || scene.objects.length === 2);
        // Every pixel is black or exactly the colour of the one object whose mask covers it.
        const owner = new Int8Array(32 * 32).fill(-1);
        scene.objects.forEach((o, k) => {
          const [x0, y0, x1, y1] = o.bbox;
          assert.ok(x0 >= 0 && y0 >= 0 && x1 <= 32 && y1 <= 32, `inside: ${o.bbox}`);
          assert.equal(x1 - x0, o.side);
          assert.equal(y1 - y0, o.side);
          const [lo, hi] = SIZE_RANGES[o.size];
          assert.ok(o.side >= lo && o.side <= hi, `${o.size} side ${o.side}`);
          const mask = shapeMask(o.shape, o.side);
          let sx = 0;
          let sy = 0;
          let n = 0;
          for (let dy = 0; dy < o.side; dy++) {
            for (let dx = 0; dx < o.side; dx++) {
              if (!mask[dy * o.side + dx]) continue;
              const p = (y0 + dy) * 32 + x0 + dx;
              assert.equal(owner[p], -1, 'objects overlap');
              owner[p] = k;
              sx += x0 + dx;
              sy += y0 + dy;
              n += 1;
            }
          }
          assert.ok(Math.abs(sx / n - o.centroid[0]) < 1e-9 && Math.abs(sy / n - o.centroid[1]) < 1e-9, 'centroid is the mean pixel');
        });
        for (let p = 0; p < 32 * 32; p++) {
          const rgb = Array.from(image.subarray(p * 3, p * 3 + 3));
          assert.deepEqual(rgb, owner[p] < 0 ? [0, 0, 0] : [...PALETTE[scene.objects[owner[p]].colour]]);
        }
        const parsed = parsePrompt(scene.caption);
        assert.ok(parsed, scene.caption);
        if (scene.objects.length === 1) {
          single += 1;
          assert.match(scene.caption, CAPTION_ONE);
          const [o] = scene.objects;
          assert.equal(parsed.objects[0].colour, o.colour);
          assert.equal(parsed.objects[0].shape, o.shape);
          if (parsed.objects[0].size === null) sizeOmitted += 1;
          else assert.equal(parsed.objects[0].size, o.size);
        } else {
          two += 1;
          assert.match(scene.caption, CAPTION_TWO);
          const [a, b] = scene.objects;
          assert.ok(boxesSeparated(a.bbox, b.bbox), 'bounding boxes apart');
          assert.equal(parsed.relation, scene.relation);
          assert.ok(relationMargin(scene.relation!, a.centroid, b.centroid) >= RELATION_MIN_DISTANCE, `${scene.caption}: ${a.centroid} vs ${b.centroid}`);
          assert.deepEqual(parsed.objects.map((o) => [o.colour, o.shape]), [[a.colour, a.shape], [b.colour, b.shape]]);
        }
      }
    }
    assert.ok(single > 250 && two > 250 && sizeOmitted > 30, `${single} single, ${two} two-object, ${sizeOmitted} without a size word`);
  });

  test('held-out colour–shape pairs never appear in train or test, and every held-out scene has one', () => {
    for (const seed of [0, 1]) {
      for (let i = 0; i < 1000; i++) {
        for (const split of ['train', 'test'] as const) {
          const { scene } = shapesSample(seed, i, split);
          for (const o of scene.objects) assert.ok(!isHeldOutPair(o.colour, o.shape), `${split} ${seed}/${i}: ${scene.caption}`);
          for (const [c, s] of HELD_OUT_PAIRS) assert.ok(!scene.caption.includes(`${c} ${s}`) && !new RegExp(`${c} (small |large )?${s}`).test(scene.caption));
        }
      }
      for (let i = 0; i < 300; i++) {
        const { scene } = shapesSample(seed, i, 'held-out');
        assert.ok(scene.objects.some((o) => isHeldOutPair(o.colour, o.shape)), scene.caption);
      }
    }
  });

  test('deterministic per (seed, split, index); seeds and splits differ', () => {
    const a = shapesSample(5, 17);
    assert.deepEqual(shapesSample(5, 17), a);
    assert.notDeepEqual(shapesSample(6, 17).image, a.image);
    assert.notDeepEqual(shapesSample(5, 17, 'test').image, a.image);
    assert.notDeepEqual(shapesSample(5, 18).image, a.image);
  });

  test('evaluation prompts: 45 single-object, held-out variants, two-object prompts parse and are classified', () => {
    const prompts = shapesEvaluationPrompts(0, 10);
    const kinds = (k: string) => prompts.filter((p) => p.kind === k);
    assert.equal(kinds('single-object').length, 45);
    assert.equal(kinds('two-object').length, 10);
    assert.equal(kinds('held-out').length, 9 + 10);
    for (const { prompt, kind } of prompts) {
      const parsed = parsePrompt(prompt);
      assert.ok(parsed, prompt);
      assert.equal(parsed.objects.some((o) => isHeldOutPair(o.colour, o.shape)), kind === 'held-out', prompt);
    }
    assert.deepEqual(shapesEvaluationPrompts(0, 10), prompts);
    assert.equal(parsePrompt('a purple circle'), null);
    assert.equal(parsePrompt('a red circle near a blue square'), null);
    assert.deepEqual(parsePrompt('  A  Small RED circle. '), { objects: [{ colour: 'red', shape: 'circle', size: 'small' }], relation: null });
  });

  test('two-object prompts may size either object: parsed, printed back, drawn at those sizes; pairCaptionWithSizes states the drawn sizes', () => {
    const prompt = 'a small red circle above a blue square';
    const parsed = parsePrompt(prompt);
    assert.deepEqual(parsed, {
      objects: [
        { colour: 'red', shape: 'circle', size: 'small' },
        { colour: 'blue', shape: 'square', size: null },
      ],
      relation: 'above',
    });
    assert.equal(promptText(parsed!), prompt);
    assert.deepEqual(parsePrompt('a red circle to the left of a large green triangle')?.objects.map((o) => o.size), [null, 'large']);
    assert.equal(parsePrompt('a small red circle above a tiny blue square'), null);
    for (let seed = 0; seed < 20; seed++) {
      const { scene } = renderPromptScene('a large red circle to the left of a small blue square', seed);
      assert.deepEqual(scene.objects.map((o) => o.size), ['large', 'small']);
    }
    // The data set's own two-object captions stay size-free; the sized caption names the drawn sizes.
    let checked = 0;
    for (let i = 0; checked < 40; i++) {
      const { scene } = shapesSample(4, i);
      if (scene.objects.length !== 2) continue;
      checked += 1;
      assert.match(scene.caption, CAPTION_TWO);
      assert.equal(pairCaptionWithSizes(scene, [false, false]), scene.caption);
      const both = parsePrompt(pairCaptionWithSizes(scene, [true, true]))!;
      assert.deepEqual(both.objects.map((o) => o.size), scene.objects.map((o) => o.size));
      assert.deepEqual(both.objects.map((o) => [o.colour, o.shape]), scene.objects.map((o) => [o.colour, o.shape]));
      assert.equal(both.relation, scene.relation);
      assert.deepEqual(parsePrompt(pairCaptionWithSizes(scene, [false, true]))!.objects.map((o) => o.size), [null, scene.objects[1].size]);
    }
    assert.throws(() => pairCaptionWithSizes(renderPromptScene('a red circle', 0).scene, [true, true]), /two-object scene/);
  });

  test('sized-pair evaluation prompts: held-in two-object prompts giving the first, the second or both objects a size; seeded', () => {
    const prompts = shapesSizedPairPrompts(0, 60);
    assert.equal(prompts.length, 60);
    const patterns = new Set<string>();
    for (const prompt of prompts) {
      const parsed = parsePrompt(prompt)!;
      assert.equal(parsed.objects.length, 2, prompt);
      assert.ok(!parsed.objects.some((o) => isHeldOutPair(o.colour, o.shape)), prompt);
      const pattern = parsed.objects.map((o) => (o.size === null ? '-' : 's')).join('');
      assert.notEqual(pattern, '--', prompt);
      patterns.add(pattern);
    }
    assert.deepEqual([...patterns].sort(), ['-s', 's-', 'ss']);
    assert.deepEqual(shapesSizedPairPrompts(0, 60), prompts);
    assert.notDeepEqual(shapesSizedPairPrompts(1, 60), prompts);
  });
});

describe('caption-dataset cache', () => {
  const n = 300;
  const path = join(dir, 'c', 'train.bin');
  const samples = function* () {
    for (let i = 0; i < n; i++) {
      const { scene, image } = shapesSample(1, i);
      yield { image, record: shapesRecord(scene) };
    }
  };
  writeCaptionDataset(path, { name: 'shapes', split: 'train', count: n, height: 32, width: 32, channels: 3, source: 'test', chunkImages: 64 }, samples());

  test('round trip: images, captions and attributes; no temporary files left', () => {
    assert.deepEqual(readdirSync(join(dir, 'c')).sort(), ['train.bin', 'train.jsonl']);
    const d = openCaptionDataset(join(dir, 'c'));
    try {
      assert.equal(d.count, n);
      assert.equal(statSync(path).size % 4096, 0, 'image block is 4096-aligned and 32·32·3 = 3 × 1024');
      for (const k of [0, 63, 64, 299]) {
        const { scene, image } = shapesSample(1, k);
        assert.deepEqual(d.readImagesUint8([k]), image);
        assert.equal(d.records[k].caption, scene.caption);
        assert.deepEqual((d.records[k].attributes as { objects: unknown[] }).objects.length, scene.objects.length);
      }
      const f = d.readImages([5]);
      assert.ok(f.every((v) => v >= -1 && v <= 1));
    } finally {
      d.close();
    }
  });

  test('batches: every image once per epoch, seeded, epochs differ, resume by startBatch', () => {
    const d = openCaptionDataset(path);
    try {
      const epoch0 = [...d.batches({ batchSize: 32, seed: 4, windowChunks: 2 })];
      assert.equal(epoch0.length, Math.ceil(n / 32));
      const seen = epoch0.flatMap((b) => Array.from(b.indices)).sort((a, b) => a - b);
      assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i));
      assert.notDeepEqual(seen, epoch0.flatMap((b) => Array.from(b.indices)), 'shuffled');
      const again = [...d.batches({ batchSize: 32, seed: 4, windowChunks: 2 })];
      assert.deepEqual(again.map((b) => Array.from(b.indices)), epoch0.map((b) => Array.from(b.indices)));
      const epoch1 = [...d.batches({ batchSize: 32, seed: 4, epoch: 1, windowChunks: 2 })];
      assert.notDeepEqual(epoch1.map((b) => Array.from(b.indices)), epoch0.map((b) => Array.from(b.indices)));
      const resumed = [...d.batches({ batchSize: 32, seed: 4, startBatch: 3, windowChunks: 2 })];
      assert.deepEqual(resumed.map((b) => Array.from(b.indices)), epoch0.slice(3).map((b) => Array.from(b.indices)));
      const b = epoch0[2];
      assert.equal(b.images.length, 32 * 32 * 32 * 3);
      assert.deepEqual(b.images.subarray(0, 3072), d.readImages([b.indices[0]]));
      assert.equal(b.captions[0], d.records[b.indices[0]].caption);
      assert.equal([...d.batches({ batchSize: 32, seed: 4, dropLast: true })].length, Math.floor(n / 32));
    } finally {
      d.close();
    }
  });

  test('CRC-32 matches the standard check value', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
    assert.equal(crc32(new TextEncoder().encode('56789'), crc32(new TextEncoder().encode('1234'))), 0xcbf43926);
  });

  test('missing, truncated and corrupt files: DATA_INVALID naming the file', () => {
    const copy = (name: string): string => {
      const target = join(dir, name);
      writeFileSync(`${target}.bin`, readFileSync(path));
      writeFileSync(`${target}.jsonl`, readFileSync(join(dir, 'c', 'train.jsonl')));
      return target;
    };
    const expectInvalid = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (err: Error & { code?: string }) => err.code === 'DATA_INVALID' && pattern.test(err.message), pattern.source);

    expectInvalid(() => openCaptionDataset(join(dir, 'nowhere')), /nowhere\/train\.bin: no such file/);
    // A flipped image byte: detected when its chunk is read, naming the chunk.
    const flipped = copy('flipped');
    const fd = openSync(`${flipped}.bin`, 'r+');
    writeSync(fd, Buffer.from([0x55]), 0, 1, 4096 + 100 * 3072 + 5);
    closeSync(fd);
    const d = openCaptionDataset(`${flipped}.bin`);
    assert.doesNotThrow(() => d.readImagesUint8([0]));
    expectInvalid(() => d.readImagesUint8([100]), /flipped\.bin: chunk 1 .*CRC-32/);
    d.close();
    // Truncated images.
    const truncated = copy('truncated');
    writeFileSync(`${truncated}.bin`, readFileSync(`${truncated}.bin`).subarray(0, 4096 + 3072 * 10));
    expectInvalid(() => openCaptionDataset(`${truncated}.bin`), /truncated\.bin: .*truncated/);
    // Edited captions.
    const edited = copy('edited');
    const text = readFileSync(`${edited}.jsonl`, 'utf8');
    writeFileSync(`${edited}.jsonl`, text.replace('"caption":"a', '"caption":"A'));
    expectInvalid(() => openCaptionDataset(`${edited}.bin`), /edited\.jsonl: fails its CRC-32/);
    // Missing captions, bad magic.
    const lonely = copy('lonely');
    rmSync(`${lonely}.jsonl`);
    expectInvalid(() => openCaptionDataset(`${lonely}.bin`), /lonely\.jsonl: no such file/);
    writeFileSync(join(dir, 'junk.bin'), 'not a data set at all');
    expectInvalid(() => openCaptionDataset(join(dir, 'junk.bin')), /junk\.bin: not a caption data set/);
  });

  test('the writer refuses a wrong count and leaves nothing behind', () => {
    const target = join(dir, 'short', 'train.bin');
    const writer = new CaptionDatasetWriter(target, { name: 'x', split: 'train', count: 3, height: 2, width: 2, channels: 3, source: 'test' });
    writer.add(new Uint8Array(12), { caption: 'one' });
    assert.throws(() => writer.finish(), /1 images written, 3 announced/);
    assert.deepEqual(readdirSync(join(dir, 'short')), []);
    assert.throws(() => writeCaptionDataset(join(dir, 'short', 'bad.bin'), { name: 'x', split: 'train', count: 1, height: 2, width: 2, channels: 3, source: 't' }, [{ image: new Uint8Array(5), record: { caption: 'x' } }]), /5 bytes, expected 12/);
    assert.deepEqual(readdirSync(join(dir, 'short')), []);
  });
});

describe('diffusion data CLI', () => {
  /** Run the data commands in this process (commander throws instead of exiting); stdout captured. */
  async function runInProcess(args: string[]): Promise<string> {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerDataCommands(program);
    let out = '';
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      out += chunk;
      return true;
    }) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'diffusion', ...args]);
    } finally {
      process.stdout.write = write;
    }
    return out;
  }

  test('shapes then preview: files, PNG, one caption line per tile', async () => {
    const out = join(dir, 'cli');
    const made = await runInProcess(['data', 'shapes', '--n', '40', '--seed', '2', '--out', out]);
    assert.deepEqual(JSON.parse(made).train.count, 40);
    for (const split of ['train', 'test', 'held-out']) assert.ok(existsSync(splitPath(out, split)), split);
    const preview = await runInProcess(['data', 'preview', out, '--n', '9', '--out', join(out, 'grid.png')]);
    const lines = preview.trim().split('\n');
    assert.equal(lines.length, 9);
    for (const line of lines) assert.ok(parsePrompt(line.split('\t')[2]), line);
    assert.equal(readFileSync(join(out, 'grid.png')).subarray(1, 4).toString('latin1'), 'PNG');
  });

  test('bad flags and missing data are errors naming what is wrong', async () => {
    await assert.rejects(runInProcess(['data', 'shapes', '--n', '0', '--out', join(dir, 'x')]), /--n <n>' argument '0' is invalid/);
    await assert.rejects(runInProcess(['data', 'preview', join(dir, 'missing'), '--out', join(dir, 'g.png')]), /missing\/train\.bin: no such file/);
    assert.ok(!existsSync(join(dir, 'x')) && !existsSync(join(dir, 'g.png')), 'no partial output');
  });

  test('the binary: a missing Fashion-MNIST folder is one line naming the package, exit 2', () => {
    const bin = fileURLToPath(new URL('../bin/diffusion.js', import.meta.url));
    const r = spawnSync(process.execPath, [bin, 'data', 'fashion-mnist', '--source', join(dir, 'no-fashion'), '--out', join(dir, 'fm')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /no-fashion: Fashion-MNIST not found; install it with `apt-get install dataset-fashion-mnist`/);
    assert.ok(!existsSync(join(dir, 'fm')), 'no partial output');
  });
});
