/**
 * Stable Diffusion's UNet on onnxruntime-node: the graph traced from the one model definition
 * (weights in an external data file, as SD-1.5's 3.4 GB needs) must give the UNet's output, and the
 * whole tiny pipeline through it must reproduce diffusers' image from the saved latent within 2/255
 * on 99 % of pixels, like the tfjs route.
 *
 * onnxruntime-node is optional: without it these tests report `skip` with the reason, unless
 * FLASHDIFF_REQUIRE_ONNX=1 (CI), where they run and fail loudly.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initBackend } from '../src/backend-node.ts';
import { openSafetensorsFile } from '../src/checkpoint/safetensors-file.ts';
import { UNet2DConditionModel, readUNetConfig, timestepEmbedding } from '../src/models/sd/unet-2d-condition.ts';
import { loadModelWeights } from '../src/models/sd/weights.ts';
import { exportUNetOnnx } from '../src/onnx/export-sd.ts';
import { loadOnnxRuntime, onnxRuntimeVersion } from '../src/onnx/ort-node.ts';
import { useOnnxTextEncoder, useOnnxUNet, useOnnxVaeDecoder } from '../src/onnx/sd-unet-ort.ts';
import { loadStableDiffusion } from '../src/pipelines/load-node.ts';
import { Random } from '../src/rng.ts';
import type { TensorEngine } from '../src/tensor/engine.ts';

const ortVersion = await onnxRuntimeVersion();
const required = process.env.FLASHDIFF_REQUIRE_ONNX === '1';
const skip = ortVersion === null && !required ? 'onnxruntime-node is not installed (ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node); set FLASHDIFF_REQUIRE_ONNX=1 to fail instead' : false;

const FIXTURES = join(import.meta.dirname, 'fixtures', 'sd');
const TOKENIZER = join(import.meta.dirname, '..', 'assets', 'clip-tokenizer');
let e: TensorEngine;
let dir: string;
before(async () => {
  e = await initBackend('auto');
  dir = mkdtempSync(join(tmpdir(), 'sd-onnx-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the SD UNet on onnxruntime', { skip }, () => {
  test('the exported graph (external weights) gives the tfjs UNet’s output', async () => {
    const ort = (await loadOnnxRuntime()) as unknown as {
      InferenceSession: { create(path: string): Promise<{ run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array }>>; release(): Promise<void> }> };
      Tensor: new (type: string, data: Float32Array, dims: number[]) => unknown;
    };
    const config = readUNetConfig(JSON.parse(readFileSync(join(FIXTURES, 'unet-tiny-linear', 'config.json'), 'utf8')));
    const unet = new UNet2DConditionModel(e, new Random(0), config);
    const weights = openSafetensorsFile(join(FIXTURES, 'unet-tiny-linear', 'diffusion_pytorch_model.safetensors'));
    loadModelWeights(unet, weights);
    weights.close();
    const exported = exportUNetOnnx(unet, { height: 8, width: 8, tokens: 7, path: join(dir, 'unet.onnx') });
    assert.ok(existsSync(exported.dataPath) && statSync(exported.dataPath).size === exported.dataBytes);
    assert.ok(statSync(exported.modelPath).size < exported.dataBytes, 'the weights live in the data file');
    const random = new Random(3);
    const rows = 3;
    const x = random.normalArray(rows * 8 * 8 * 4);
    const context = random.normalArray(rows * 7 * config.cross_attention_dim);
    const timesteps = [999, 500, 3.5];
    const expected = e.tidy(() => unet.forward(e, e.tensor(x, [rows, 8, 8, 4]), timesteps, e.tensor(context, [rows, 7, config.cross_attention_dim])));
    const want = e.readSync(expected);
    expected.dispose();
    const session = await ort.InferenceSession.create(exported.modelPath);
    const out = await session.run({
      x: new ort.Tensor('float32', x, [rows, 8, 8, 4]),
      temb: new ort.Tensor('float32', timestepEmbedding(timesteps, config.block_out_channels[0], config.flip_sin_to_cos, config.freq_shift), [rows, config.block_out_channels[0]]),
      context: new ort.Tensor('float32', context, [rows, 7, config.cross_attention_dim]),
    });
    await session.release();
    const got = Object.values(out)[0]!.data;
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < want.length; i++) {
      diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
      scale = Math.max(scale, Math.abs(want[i]!));
    }
    assert.ok(diff / scale < 1e-4, `relative error ${diff / scale}`);
    unet.params.dispose();
  });

  test('the tiny pipeline through the ORT UNet, VAE decoder and text encoder reproduces diffusers’ image; other sizes are refused once the tfjs UNet is gone', async () => {
    const model = join(dir, 'tiny-sd');
    cpSync(join(FIXTURES, 'pipeline-tiny'), model, { recursive: true });
    cpSync(TOKENIZER, join(model, 'tokenizer'), { recursive: true });
    const pipe = loadStableDiffusion(e, model);
    try {
      await useOnnxUNet(pipe, { height: 8, width: 8 });
      await useOnnxVaeDecoder(pipe, { height: 8, width: 8 });
      await useOnnxTextEncoder(pipe);
      const g = openSafetensorsFile(join(FIXTURES, 'pipeline-tiny', 'golden.safetensors'));
      const golden = JSON.parse(readFileSync(join(FIXTURES, 'pipeline-tiny', 'golden.json'), 'utf8')) as { prompt: string; negative_prompt: string };
      const result = await pipe.textToImage({ prompt: golden.prompt, negativePrompt: golden.negative_prompt, guidance: 7.5, steps: 5, width: 64, height: 64, latents: g.read('latents') });
      const expected = g.read('image_pndm');
      g.close();
      let within = 0;
      for (let i = 0; i < expected.length; i++) if (Math.abs(result.images[i]! - expected[i]!) <= 2 / 255) within++;
      assert.ok(within / expected.length >= 0.99, `${within} of ${expected.length} within 2/255`);
      await assert.rejects(pipe.textToImage({ prompt: 'x', steps: 2, width: 32, height: 32 }), /UNet runs for 64×64 images only, not 32×32/);
    } finally {
      pipe.dispose();
    }
  });
});
