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
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initBackend } from '../src/backend-node.ts';
import { openSafetensorsFile } from '../src/checkpoint/safetensors-file.ts';
import { UNet2DConditionModel, readUNetConfig, timestepEmbedding } from '../src/models/sd/unet-2d-condition.ts';
import { loadModelWeights } from '../src/models/sd/weights.ts';
import { scaledDotProductAttention } from '../src/models/sd/attention.ts';
import { ONNX_IR_VERSION, ONNX_OPSET } from '../src/onnx/export.ts';
import { exportUNetOnnx } from '../src/onnx/export-sd.ts';
import { OnnxGraphEngine, TRACE_BATCH } from '../src/onnx/graph-engine.ts';
import { encodeModel } from '../src/onnx/onnx-proto.ts';
import { loadOnnxRuntime, onnxRuntimeVersion } from '../src/onnx/ort-node.ts';
import { checkpointIdentity, useOnnxTextEncoder, useOnnxUNet, useOnnxVaeDecoder } from '../src/onnx/sd-unet-ort.ts';
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

  test('long attention is traced in query-row slices (masked too) and gives the unsliced result', async () => {
    const ort = (await loadOnnxRuntime()) as unknown as {
      InferenceSession: { create(model: Uint8Array): Promise<{ run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array }>>; release(): Promise<void> }> };
      Tensor: new (type: string, data: Float32Array, dims: number[]) => unknown;
    };
    // 2048 queries × 2048 keys is past the traced graph's 2^21 scores per head: two slices of 1024 rows.
    const n = 2048;
    const d = 4;
    const rows = 3;
    const g = new OnnxGraphEngine();
    const [q, k, v] = ['q', 'k', 'v'].map((name) => g.input(name, [TRACE_BATCH, n, d]));
    const mask = g.input('mask', [n, n]);
    g.output('out', scaledDotProductAttention(g, q, k, v, 0.5, mask));
    const graph = g.graph('attention');
    assert.equal(graph.nodes.filter((node) => node.opType === 'Slice').length, 4, 'q and the mask, two slices each');
    assert.equal(graph.nodes.filter((node) => node.opType === 'Softmax').length, 2);
    const random = new Random(5);
    const [qv, kv, vv] = [0, 1, 2].map(() => random.normalArray(rows * n * d));
    // A causal mask, so that a slice taking the wrong mask rows would show.
    const maskValues = new Float32Array(n * n).map((_, i) => (i % n > Math.floor(i / n) ? -1e9 : 0));
    const session = await ort.InferenceSession.create(encodeModel({ irVersion: ONNX_IR_VERSION, opsetVersion: ONNX_OPSET, producerName: 'test', producerVersion: '0', graph }));
    const out = await session.run({
      q: new ort.Tensor('float32', qv, [rows, n, d]),
      k: new ort.Tensor('float32', kv, [rows, n, d]),
      v: new ort.Tensor('float32', vv, [rows, n, d]),
      mask: new ort.Tensor('float32', maskValues, [n, n]),
    });
    await session.release();
    const got = Object.values(out)[0]!.data;
    const expected = e.tidy(() => scaledDotProductAttention(e, e.tensor(qv, [rows, n, d]), e.tensor(kv, [rows, n, d]), e.tensor(vv, [rows, n, d]), 0.5, e.tensor(maskValues, [n, n])));
    const want = e.readSync(expected).slice();
    expected.dispose();
    assert.equal(got.length, want.length);
    let diff = 0;
    for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    assert.ok(diff < 1e-4, `max difference ${diff}`);
  });

  test('exports are cached by component, size and weights: a second pipeline opens them without exporting and gives the same image', async () => {
    const model = join(dir, 'tiny-sd-cached');
    cpSync(join(FIXTURES, 'pipeline-tiny'), model, { recursive: true });
    cpSync(TOKENIZER, join(model, 'tokenizer'), { recursive: true });
    const cacheDirectory = join(dir, 'onnx-cache');
    const generate = async (weights: string) => {
      const pipe = loadStableDiffusion(e, model);
      try {
        const cache = { directory: cacheDirectory, weights };
        const timings = [await useOnnxUNet(pipe, { height: 8, width: 8, cache }), await useOnnxVaeDecoder(pipe, { height: 8, width: 8, cache }), await useOnnxTextEncoder(pipe, { cache })];
        const { images } = await pipe.textToImage({ prompt: 'a red circle', guidance: 7.5, steps: 3, width: 64, height: 64, seed: 1 });
        return { cached: timings.map((t) => t.cached), images };
      } finally {
        pipe.dispose();
      }
    };
    const identity = checkpointIdentity(model);
    // A half-written export of another process (or a killed one) is never taken for an entry.
    mkdirSync(join(cacheDirectory, 'unet-0123.partial-1'), { recursive: true });
    const first = await generate(identity);
    assert.deepEqual(first.cached, [false, false, false]);
    const entries = readdirSync(cacheDirectory).filter((name) => !name.includes('.partial-')).sort();
    assert.deepEqual(entries.map((name) => name.replace(/-[0-9a-f]{32}$/, '')), ['text-encoder', 'unet', 'vae-decoder']);
    const second = await generate(identity);
    assert.deepEqual(second.cached, [true, true, true]);
    assert.deepEqual(second.images, first.images);
    // Rewriting a weight file changes the identity: the cache misses.
    const unetWeights = join(model, 'unet', 'diffusion_pytorch_model.safetensors');
    const later = new Date(Date.now() + 5000);
    utimesSync(unetWeights, later, later);
    assert.notEqual(checkpointIdentity(model), identity);
    const third = await generate(checkpointIdentity(model));
    assert.deepEqual(third.cached, [false, false, false]);
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
      // The tfjs text encoder and VAE decoder were freed too (but the token table and the VAE encoder).
      const textParams = pipe.components.textEncoder.params.names();
      assert.deepEqual(textParams, ['text_model.embeddings.token_embedding.weight']);
      const vaeParams = pipe.components.vae.params.names();
      assert.ok(vaeParams.length > 0 && vaeParams.every((name) => name.startsWith('encoder.') || name.startsWith('quant_conv.')), vaeParams.join(', '));
      await assert.rejects(pipe.encodeText(['x'], 1), /text encoder runs with clip skip 0 only, not 1/);
      await assert.rejects(pipe.decodeLatents(new Float32Array(4 * 4 * 4), 1, [4, 4, 4]), /VAE decoder runs for 64×64 images only, not 32×32/);
      // img2img still encodes on tfjs and decodes through the runner.
      const again = await pipe.imageToImage({ prompt: 'x', steps: 4, strength: 0.5, image: { data: result.images, height: 64, width: 64 } });
      assert.equal(again.images.length, 64 * 64 * 3);
    } finally {
      pipe.dispose();
    }
  });
});
