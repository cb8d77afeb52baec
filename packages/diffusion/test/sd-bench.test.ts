/**
 * `diffusion bench --sd15` times SD-1.5's models at full size (4 GB, minutes: run by hand, figures
 * in the README). Here the same code runs on the tiny pipeline's configs through both routes, so a
 * change that breaks the benchmark fails CI: every figure is measured, each timing logged per run.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { initBackend } from '../src/backend-node.ts';
import { onnxRuntimeVersion } from '../src/onnx/ort-node.ts';
import { type SdBenchModels, runSd15Bench, runSd15Reference, sd15Ratios } from '../src/node/sd-bench.ts';
import type { TensorEngine } from '../src/tensor/engine.ts';

const TINY = join(import.meta.dirname, 'fixtures', 'sd', 'pipeline-tiny');
const config = (component: string) => JSON.parse(readFileSync(join(TINY, component, 'config.json'), 'utf8')) as Record<string, unknown>;
const models: SdBenchModels = { textEncoder: config('text_encoder'), unet: config('unet'), vae: config('vae'), latentSize: 8 };
const skipOrt = (await onnxRuntimeVersion()) === null && process.env.FLASHDIFF_REQUIRE_ONNX !== '1' ? 'onnxruntime-node is not installed' : false;

let e: TensorEngine;
before(async () => {
  e = await initBackend('auto');
});

describe('the SD benchmark', () => {
  for (const route of ['tfjs', 'onnx'] as const) {
    test(`times the text encoder, a UNet step and a VAE decode (${route})`, { skip: route === 'onnx' ? skipOrt : false }, async () => {
      const lines: string[] = [];
      const report = await runSd15Bench(e, 2, (line) => lines.push(line), route, models);
      assert.equal(report.unetRoute, route);
      assert.equal(report.iters, 2);
      for (const figure of [report.unetStepMs, report.vaeDecodeMs, report.textEncoderMs, report.peakRssMb]) assert.ok(Number.isInteger(figure) && figure >= 0, String(figure));
      const timings = lines.filter((line) => /: \d+\.\d\d s$/.test(line));
      assert.equal(timings.length, 6, lines.join('\n'));
      assert.ok(timings.some((line) => line.startsWith('UNet step') && line.includes('2×4×8×8')));
      assert.ok(timings.some((line) => line.startsWith('VAE decode') && line.includes('to 64×64')), 'the tiny VAE has 4 levels, as SD’s: 8 → 64');
      if (route === 'onnx') assert.ok(report.unetExportSeconds !== undefined && report.unetExportSeconds > 0);
    });
  }

  test('without an importable reference it says why; ratios are ours ÷ theirs', () => {
    const { reference, why } = runSd15Reference(1, '/bin/false');
    assert.equal(reference, null);
    assert.match(why, /cannot import diffusers and transformers/);
    assert.deepEqual(sd15Ratios({ unetStepMs: 900, vaeDecodeMs: 1300, textEncoderMs: 50, peakRssMb: 3000 }, { unetStepMs: 1200, vaeDecodeMs: 1000, textEncoderMs: 100, peakRssMb: 6000 }), { unetStepMs: 0.75, vaeDecodeMs: 1.3, textEncoderMs: 0.5, peakRssMb: 0.5 });
  });
});
