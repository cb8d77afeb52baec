/**
 * flashdiff.json, a model folder's settings card: one reader (src/node/model-settings.ts) for the
 * CLI and the dashboard. A missing card is "no settings"; a card that exists is validated field by
 * field, with errors naming the file and the field.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readModelSettings } from '../src/node/model-settings.ts';
import { SHIPPED_T2I_MODEL_NAMES, resolveTextToImageModel, shippedTextToImageDirectories, shippedTextToImageDirectory } from '../src/node/shipped-model.ts';

const dir = mkdtempSync(join(tmpdir(), 'model-settings-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function card(text: string): string {
  const folder = mkdtempSync(join(dir, 'model-'));
  writeFileSync(join(folder, 'flashdiff.json'), text);
  return folder;
}

describe('readModelSettings', () => {
  test('a folder without a card has no settings', () => {
    assert.equal(readModelSettings(mkdtempSync(join(dir, 'bare-'))), null);
  });

  test('a full card is read as written', () => {
    const folder = card(JSON.stringify({ description: 'tiny', steps: 12, guidance: 3.5, scheduler: 'euler-a', examplePrompts: ['a red circle', 'a blue square'] }));
    assert.deepEqual(readModelSettings(folder), { description: 'tiny', steps: 12, guidance: 3.5, scheduler: 'euler-a', examplePrompts: ['a red circle', 'a blue square'] });
    assert.deepEqual(readModelSettings(card('{"guidance": 0}')), { guidance: 0 });
  });

  test('every shipped model’s card is valid and recommends its evaluated settings', () => {
    const shipped = shippedTextToImageDirectories();
    assert.equal(shipped[0], shippedTextToImageDirectory(), 'the default comes first');
    assert.ok(shipped.length >= 1);
    for (const folder of shipped) {
      const settings = readModelSettings(folder);
      assert.ok(settings !== null && Number.isInteger(settings.steps) && typeof settings.guidance === 'number', folder);
      assert.ok((settings.examplePrompts ?? []).length > 0, folder);
    }
  });

  test('--model: a path that exists, else a shipped model’s name, else the path as given', () => {
    assert.equal(resolveTextToImageModel(undefined), shippedTextToImageDirectory());
    for (const name of SHIPPED_T2I_MODEL_NAMES) {
      const folder = shippedTextToImageDirectory(name);
      if (folder !== null) assert.equal(resolveTextToImageModel(name), folder);
    }
    const local = card('{}');
    assert.equal(resolveTextToImageModel(local), local);
    assert.equal(resolveTextToImageModel(join(dir, 'missing-model')), join(dir, 'missing-model'));
  });

  test('bad cards name the file and the field', () => {
    const cases: [string, RegExp][] = [
      ['{"steps": 0}', /flashdiff\.json: "steps" must be an integer in \[1, 1000\], got 0/],
      ['{"steps": 2.5}', /"steps" must be an integer/],
      ['{"guidance": "high"}', /"guidance" must be a number in \[0, 100\], got "high"/],
      ['{"scheduler": "lms"}', /"scheduler" must be one of default, pndm, ddim, euler, euler-a, dpm\+\+2m, got "lms"/],
      ['{"examplePrompts": ["a", 3]}', /"examplePrompts" must be a list of strings/],
      ['{"stepz": 20}', /unknown key "stepz" \(known: description, steps, guidance, scheduler, examplePrompts\)/],
      ['[1, 2]', /flashdiff\.json: not a JSON object/],
      ['{"steps": 20,\n "guidance": }', /flashdiff\.json: malformed JSON at line 2, column/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => readModelSettings(card(text)), (err: Error & { code?: string }) => message.test(err.message) && err.code === 'CHECKPOINT_CORRUPT', text);
    }
  });
});
