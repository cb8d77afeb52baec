import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { initBackend } from '../src/backend-node.ts';
import { encodeNpy } from '../src/data/npy.ts';
import { DiffusionError } from '../src/errors.ts';
import { type DiffusionModel, type ModelConfig, contextSizeOf, createModel, imageShapeOf } from '../src/models/index.ts';
import { exportOnnx } from '../src/onnx/export.ts';
import { OnnxGraphEngine, TRACE_BATCH } from '../src/onnx/graph-engine.ts';
import { encodeModel } from '../src/onnx/onnx-proto.ts';
import { OnnxNoisePredictor, loadOnnxRuntime, onnxRuntimeVersion } from '../src/onnx/ort-node.ts';
import { ProtoWriter } from '../src/onnx/protobuf.ts';
import { Random } from '../src/rng.ts';
import { enginePredictor, sampleImages } from '../src/sample.ts';
import { createScheduler } from '../src/schedulers/index.ts';
import type { TensorEngine } from '../src/tensor/engine.ts';
import { barsDataset, maxAbsDiff } from './helpers.ts';

/**
 * The ONNX route: the protobuf writer against bytes derived by hand from onnx.proto, the tracer's
 * graph run by onnxruntime-node against the tfjs cpu backend's forward pass (same weights), and the
 * sampling loop through ORT against the tfjs one.
 *
 * onnxruntime-node is an optional dependency. Without it the ORT tests report `skip` with the reason —
 * unless FLASHDIFF_REQUIRE_ONNX=1 (CI), where they run and fail loudly.
 */
const ortVersion = await onnxRuntimeVersion();
const required = process.env.FLASHDIFF_REQUIRE_ONNX === '1';
const skipOrt = ortVersion === null && !required ? 'onnxruntime-node is not installed (ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node); set FLASHDIFF_REQUIRE_ONNX=1 to fail instead' : false;

/** Agreement of ORT's float32 kernels with tfjs's over a few dozen layers (observed ≈ 1e-6). */
const FORWARD_TOLERANCE = 1e-4;

const CONTEXT_UNET: ModelConfig = { kind: 'context-unet', inChannels: 1, nFeat: 8, nCfeat: 3, height: 8, numTrainTimesteps: 50 };
const UNET: ModelConfig = { kind: 'unet', inChannels: 2, height: 8, width: 8, channels: [8, 16], layersPerBlock: 1, attentionLevels: [1], numClasses: 3, normGroups: 4 };

let e: TensorEngine;
before(async () => {
  e = await initBackend('cpu');
});

/** A seeded model whose BatchNorm running statistics and norm affine parameters are far from their initial 0/1. */
function seededModel(config: ModelConfig, seed: number): DiffusionModel {
  const model = createModel(e, config, seed);
  const random = new Random(seed + 100);
  const values = model.params.exportValues();
  for (const [name, v] of values) {
    if (name.endsWith('running_mean')) v.data = v.data.map(() => 0.3 * random.normal());
    else if (name.endsWith('running_var')) v.data = v.data.map(() => 0.5 + 1.5 * random.uniform());
    else if (/(bn\d|norm[^.]*)\.(weight|bias)$/.test(name)) v.data = v.data.map((x) => x + 0.2 * random.normal());
  }
  model.params.importValues(values);
  return model;
}

function inputs(config: ModelConfig, rows: number, seed: number, withContext: boolean): { x: Float32Array; t: Float32Array; context: Float32Array } {
  const { height, width, channels } = imageShapeOf(config);
  const size = contextSizeOf(config);
  const random = new Random(seed);
  const x = random.normalArray(rows * height * width * channels);
  const t = Float32Array.from({ length: rows }, (_, i) => 1 + ((7 * i + seed) % 45));
  const context = new Float32Array(rows * size);
  if (withContext) for (let i = 0; i < rows; i++) context[i * size + (i % size)] = i % 2 ? 0.6 : 1;
  return { x, t, context };
}

describe('protobuf writer', () => {
  test('varints, negative int64, floats and strings encode as the protobuf wire format says', () => {
    // 300 = 0b10_0101100 → low 7 bits 0x2c with the continuation bit (0xac), then 0x02; key (1 << 3 | 0) = 0x08.
    assert.deepEqual([...new ProtoWriter().varint(1, 300).finish()], [0x08, 0xac, 0x02]);
    // −1 as int64 is 2⁶⁴ − 1: nine 0xff groups and a final 0x01; key (3 << 3 | 0) = 0x18.
    assert.deepEqual([...new ProtoWriter().varint(3, -1).finish()], [0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    // 1.0f = 0x3f800000 little-endian, key (2 << 3 | 5) = 0x15.
    assert.deepEqual([...new ProtoWriter().float32(2, 1).finish()], [0x15, 0x00, 0x00, 0x80, 0x3f]);
    // "é" is two UTF-8 bytes; key (4 << 3 | 2) = 0x22, length 2.
    assert.deepEqual([...new ProtoWriter().string(4, 'é').finish()], [0x22, 0x02, 0xc3, 0xa9]);
  });

  test('a one-node model (y = Relu(x), x and y float [1]) encodes to the bytes derived from onnx.proto', () => {
    const model = {
      irVersion: 8,
      opsetVersion: 17,
      producerName: 't',
      producerVersion: '1',
      graph: {
        name: 'g',
        nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }],
        initializers: [],
        inputs: [{ name: 'x', elemType: 1, dims: [1] }],
        outputs: [{ name: 'y', elemType: 1, dims: [1] }],
      },
    };
    // NodeProto: input=1 "x" (0a 01 78), output=2 "y" (12 01 79), op_type=4 "Relu" (22 04 52 65 6c 75) → 12 bytes.
    const node = [0x0a, 0x01, 0x78, 0x12, 0x01, 0x79, 0x22, 0x04, 0x52, 0x65, 0x6c, 0x75];
    // TensorShapeProto { dim=1 { dim_value=1: 1 } } = 0a 02 08 01; TypeProto.Tensor { elem_type=1: FLOAT (08 01), shape=2 (12 04 …) };
    // TypeProto { tensor_type=1 (0a 08 …) }; ValueInfoProto { name=1 (0a 01 'x'), type=2 (12 0a …) } → 15 bytes.
    const valueInfo = (name: number): number[] => [0x0a, 0x01, name, 0x12, 0x0a, 0x0a, 0x08, 0x08, 0x01, 0x12, 0x04, 0x0a, 0x02, 0x08, 0x01];
    // GraphProto: node=1 (0a 0c …), name=2 "g" (12 01 67), input=11 (key 0x5a, 0f …), output=12 (key 0x62, 0f …) → 14 + 3 + 17 + 17 = 51 bytes.
    const graph = [0x0a, 0x0c, ...node, 0x12, 0x01, 0x67, 0x5a, 0x0f, ...valueInfo(0x78), 0x62, 0x0f, ...valueInfo(0x79)];
    assert.equal(graph.length, 51);
    // ModelProto: ir_version=1: 8 (08 08), producer_name=2 "t" (12 01 74), producer_version=3 "1" (1a 01 31),
    // graph=7 (key 0x3a, length 0x33), opset_import=8 (key 0x42) { version=2: 17 (10 11) }.
    const expected = [0x08, 0x08, 0x12, 0x01, 0x74, 0x1a, 0x01, 0x31, 0x3a, 0x33, ...graph, 0x42, 0x02, 0x10, 0x11];
    assert.deepEqual([...encodeModel(model)], expected);
  });

  test('onnxruntime-node loads (its CPU binary ships inside the npm package)', { skip: skipOrt }, async () => {
    const ort = await loadOnnxRuntime();
    assert.ok(ortVersion, 'onnxruntime-node is required here (FLASHDIFF_REQUIRE_ONNX=1) but did not load');
    assert.equal(typeof ort.InferenceSession.create, 'function');
  });

  test('ORT runs the hand-derived one-node model', { skip: skipOrt }, async () => {
    const ort = await loadOnnxRuntime();
    const bytes = encodeModel({
      irVersion: 8,
      opsetVersion: 17,
      producerName: 't',
      producerVersion: '1',
      graph: { name: 'g', nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }], initializers: [], inputs: [{ name: 'x', elemType: 1, dims: [1] }], outputs: [{ name: 'y', elemType: 1, dims: [1] }] },
    });
    const session = await ort.InferenceSession.create(bytes);
    for (const v of [-2.5, 3.25]) {
      const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(v), [1]) });
      assert.deepEqual([...(out.y.data as Float32Array)], [Math.max(0, v)]);
    }
    await session.release();
  });
});

describe('ONNX tracer', () => {
  test('ops that need values or training throw a typed DiffusionError', async () => {
    const g = new OnnxGraphEngine();
    const x = g.input('x', [TRACE_BATCH, 4, 4, 2]);
    const isTyped = (err: unknown): boolean => err instanceof DiffusionError && err.code === 'INVALID_ARGUMENT' && /onnx export/.test(err.message);
    assert.throws(() => g.readSync(x), isTyped);
    assert.throws(() => g.valueAndGrads(() => x, []), isTyped);
    assert.throws(() => g.batchNormTraining(x, g.scalar(1), g.scalar(0), 1e-5), isTyped);
    await assert.rejects(async () => g.read(x), isTyped);
  });

  test('carrying NCHW through the trace leaves far fewer Transposes than wrapping each convolution', () => {
    for (const config of [CONTEXT_UNET, UNET]) {
      const count = (carryLayout: boolean): number => {
        const g = new OnnxGraphEngine({ carryLayout });
        const model = createModel(g, config, 1);
        const { height, width, channels } = imageShapeOf(config);
        const y = model.forward(g, g.input('x', [TRACE_BATCH, height, width, channels]), g.input('t', [TRACE_BATCH]), g.input('context', [TRACE_BATCH, contextSizeOf(config)]), { training: false });
        g.output('eps', y);
        assert.ok(!g.nodes.some((n) => n.opType === 'BatchNormalization'), 'eval BatchNorm is folded, not exported');
        return g.nodes.filter((n) => n.opType === 'Transpose').length;
      };
      const carried = count(true);
      const wrapped = count(false);
      assert.ok(carried < wrapped / 2, `${config.kind}: ${carried} transposes carried vs ${wrapped} wrapped`);
    }
    // The ContextUnet: one at the input, one at the output (its [N,1,1,C] embeddings become [N,C,1,1] by Reshapes).
    const g = new OnnxGraphEngine();
    const m = createModel(g, CONTEXT_UNET, 1);
    g.output('eps', m.forward(g, g.input('x', [TRACE_BATCH, 8, 8, 1]), g.input('t', [TRACE_BATCH]), g.input('context', [TRACE_BATCH, 3]), { training: false }));
    const transposes = g.nodes.filter((n) => n.opType === 'Transpose');
    assert.equal(transposes.length, 2);
    assert.deepEqual(transposes[0].inputs, ['x']);
    assert.equal(g.nodes[g.nodes.length - 1].inputs[0], transposes[1].outputs[0]);
  });
});

describe('ONNX export run by onnxruntime-node', { skip: skipOrt }, () => {
  for (const config of [CONTEXT_UNET, UNET]) {
    for (const carryLayout of [true, false]) {
      test(`${config.kind} (${carryLayout ? 'NCHW carried' : 'transposes around convs'}): ORT matches the tfjs forward, batch 3, with and without context`, async () => {
        const model = seededModel(config, 3);
        const predictor = await OnnxNoisePredictor.create(model, { carryLayout });
        const reference = enginePredictor(e, model);
        for (const withContext of [true, false]) {
          const { x, t, context } = inputs(config, 3, 5, withContext);
          const want = reference.predict(x, t, context, 3) as Float32Array;
          const got = await predictor.predict(x, t, context, 3);
          assert.equal(got.length, want.length);
          const diff = maxAbsDiff(got, want);
          assert.ok(diff < FORWARD_TOLERANCE, `max |ORT − tfjs| = ${diff}`);
        }
        await predictor.dispose();
        model.params.dispose();
      });
    }
  }

  test('the batch dimension is dynamic: one session serves batches 1, 2 and 5', async () => {
    for (const config of [CONTEXT_UNET, UNET]) {
      const model = seededModel(config, 4);
      const predictor = await OnnxNoisePredictor.create(model);
      const reference = enginePredictor(e, model);
      for (const rows of [1, 5, 2]) {
        const { x, t, context } = inputs(config, rows, rows, true);
        const diff = maxAbsDiff(await predictor.predict(x, t, context, rows), reference.predict(x, t, context, rows) as Float32Array);
        assert.ok(diff < FORWARD_TOLERANCE, `${config.kind} batch ${rows}: ${diff}`);
      }
      await predictor.dispose();
      model.params.dispose();
    }
  });

  test('an unconditional UNet2D on non-square images with an odd time-embedding width (a batch-sized zeros) exports and matches', async () => {
    const config: ModelConfig = { kind: 'unet', inChannels: 1, height: 4, width: 8, channels: [9, 18], layersPerBlock: 1, attentionLevels: [], numClasses: 0, normGroups: 3 };
    const model = seededModel(config, 5);
    const predictor = await OnnxNoisePredictor.create(model);
    const reference = enginePredictor(e, model);
    for (const rows of [1, 4]) {
      const { x, t, context } = inputs(config, rows, rows, false);
      assert.equal(context.length, 0);
      const diff = maxAbsDiff(await predictor.predict(x, t, context, rows), reference.predict(x, t, context, rows) as Float32Array);
      assert.ok(diff < FORWARD_TOLERANCE, `batch ${rows}: ${diff}`);
    }
    await predictor.dispose();
    model.params.dispose();
  });

  test('eval BatchNorm is folded with the running statistics (changing them changes ORT output as it does tfjs)', async () => {
    const model = seededModel(CONTEXT_UNET, 6);
    const { x, t, context } = inputs(CONTEXT_UNET, 3, 2, true);
    const original = await OnnxNoisePredictor.create(model);
    const first = await original.predict(x, t, context, 3);
    await original.dispose();
    const values = model.params.exportValues();
    for (const [name, v] of values) if (name.endsWith('running_var')) v.data = v.data.map((s) => s * 3);
    model.params.importValues(values);
    const changed = await OnnxNoisePredictor.create(model);
    const second = await changed.predict(x, t, context, 3);
    await changed.dispose();
    assert.ok(maxAbsDiff(first, second) > 1e-2, 'the running variance must reach the exported graph');
    const diff = maxAbsDiff(second, enginePredictor(e, model).predict(x, t, context, 3) as Float32Array);
    assert.ok(diff < FORWARD_TOLERANCE, `max |ORT − tfjs| = ${diff}`);
    model.params.dispose();
  });

  test('DDIM sampling with guidance through ORT equals the tfjs loop (4 steps, 3 samples)', async () => {
    for (const config of [CONTEXT_UNET, UNET]) {
      const model = seededModel(config, 8);
      const predictor = await OnnxNoisePredictor.create(model);
      const options = () => ({
        scheduler: createScheduler({ kind: 'ddim', numTrainTimesteps: 50 }),
        steps: 4,
        n: 3,
        context: { kind: 'per-sample' as const, classes: [0, 2, 1] },
        guidance: 2,
        random: new Random(11),
      });
      const tfjs = await sampleImages(e, model, options());
      const ort = await sampleImages(e, model, { ...options(), predictor });
      const diff = maxAbsDiff(ort.images, tfjs.images);
      assert.ok(diff < 1e-3, `${config.kind}: max |ORT − tfjs| over the samples = ${diff}`);
      assert.ok(maxAbsDiff(tfjs.images, new Float32Array(tfjs.images.length)) > 0.1, 'samples are not trivially zero');
      await predictor.dispose();
      model.params.dispose();
    }
  });

  test('the exported bytes are deterministic (same weights → same file)', () => {
    const a = seededModel(UNET, 9);
    const b = seededModel(UNET, 9);
    assert.ok(Buffer.from(exportOnnx(a)).equals(Buffer.from(exportOnnx(b))));
    a.params.dispose();
    b.params.dispose();
  });
});

describe('diffusion export-onnx and --backend onnx', { skip: skipOrt }, () => {
  const bin = fileURLToPath(new URL('../bin/diffusion.js', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'diffusion-onnx-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test('a trained checkpoint exports to a file ORT loads; sample --backend onnx writes the same grid as cpu', async () => {
    const d = barsDataset(32, 4);
    const images = join(dir, 'bars.npy');
    const labels = join(dir, 'labels.npy');
    writeFileSync(images, encodeNpy('|u1', [d.count, 8, 8, 1], Uint8Array.from(d.images, (v) => Math.round(((Math.max(-1, Math.min(1, v)) + 1) / 2) * 255))));
    writeFileSync(labels, encodeNpy('<i4', [d.count], d.labels as Int32Array));
    const ckpt = join(dir, 'ckpt');
    const trained = run(['train', '--data', images, '--labels', labels, '--n-feat', '8', '--timesteps', '50', '--batch', '16', '--epochs', '1', '--max-steps', '1', '--sample-every', '0', '--no-progress', '--backend', 'cpu', '--out', ckpt]);
    assert.equal(trained.code, 0, trained.stderr);

    const file = join(dir, 'model.onnx');
    const exported = run(['export-onnx', '--checkpoint', ckpt, '--out', file, '--json']);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(JSON.parse(exported.stdout).bytes, readFileSync(file).length);
    const ort = await loadOnnxRuntime();
    const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(file)));
    assert.deepEqual([...session.inputNames].sort(), ['context', 't', 'x']);
    await session.release();

    const common = ['sample', '--checkpoint', ckpt, '--steps', '4', '--class', '1', '--guidance', '2', '--n', '4', '--seed', '2', '--json'];
    const viaCpu = run([...common, '--backend', 'cpu', '--out', join(dir, 'cpu.png')]);
    const viaOnnx = run([...common, '--backend', 'onnx', '--out', join(dir, 'onnx.png')]);
    assert.equal(viaCpu.code, 0, viaCpu.stderr);
    assert.equal(viaOnnx.code, 0, viaOnnx.stderr);
    assert.equal(JSON.parse(viaOnnx.stdout).backend, 'onnx');
    // The same samples up to float rounding: 8-bit pixels differ by at most one level.
    const [a, b] = ['cpu.png', 'onnx.png'].map((f) => PNG.sync.read(readFileSync(join(dir, f))).data);
    assert.equal(a.length, b.length);
    assert.ok(maxAbsDiff(a, b) <= 1, `pixels differ by ${maxAbsDiff(a, b)}`);
  });

  test('bad flags: one line on stderr, exit 2', () => {
    for (const args of [
      ['export-onnx', '--checkpoint', dir, '--weights', 'best', '--out', join(dir, 'x.onnx')],
      ['export-onnx', '--checkpoint', dir],
      ['sample', '--checkpoint', dir, '--backend', 'onnxx', '--out', join(dir, 'x.png')],
    ]) {
      const r = run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(!existsSync(join(dir, 'x.onnx')));
    }
  });
});

describe('--backend onnx without onnxruntime-node', () => {
  test('one line naming the package and the install command, exit 2', () => {
    const bin = fileURLToPath(new URL('../bin/diffusion.js', import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'diffusion-no-ort-'));
    try {
      // A module-resolution hook that makes 'onnxruntime-node' unresolvable, as on a machine where the optional install failed.
      const hook = join(dir, 'hook.mjs');
      writeFileSync(hook, `export async function resolve(specifier, context, next) {\n  if (specifier === 'onnxruntime-node') throw new Error("Cannot find package 'onnxruntime-node'");\n  return next(specifier, context);\n}\n`);
      const register = join(dir, 'register.mjs');
      writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(new URL(`file://${hook}`).href)});\n`);
      for (const command of ['sample', 'eval']) {
        const args = command === 'sample' ? ['--out', join(dir, 'x.png')] : ['--data', 'mnist'];
        const r = spawnSync(process.execPath, ['--import', register, bin, command, '--checkpoint', dir, '--backend', 'onnx', ...args], { encoding: 'utf8', timeout: 60_000 });
        assert.equal(r.status, 2, r.stderr);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /^diffusion: --backend onnx needs the optional package onnxruntime-node, .*install it with: ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node\n$/);
      }
      assert.ok(!existsSync(join(dir, 'x.png')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
