/**
 * The reference ContextUnet (3×16×16, n_feat 64, 5 classes): training step at batch 100 with Adam and
 * forward pass at batch 32, medians after a warm-up, next to the PyTorch figures for this machine.
 * Run: npx tsx bench/diffusion-contextunet.ts [--backend wasm|cpu|native|auto|tensorflow] [--iters 3]
 */
import { BACKENDS, initBackend, runBench, type BackendName } from '@flashdiff/diffusion/node';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const backend = flag('--backend', 'wasm') as BackendName;
const iters = Number(flag('--iters', '3'));
if (!(BACKENDS as readonly string[]).includes(backend)) {
  console.error(`--backend: expected one of ${BACKENDS.join(', ')}, got ${backend}`);
  process.exit(2);
}
let engine;
try {
  engine = await initBackend(backend);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}
const report = runBench(engine, iters, iters + 2, (line) => process.stderr.write(line + '\n'));
const ref = report.pytorchReference;
console.log(`command: npx tsx bench/diffusion-contextunet.ts --backend ${backend} --iters ${iters}`);
console.log(`backend ${report.backend}, ${report.parameters} parameters`);
console.log(`train step (batch ${report.trainBatch}, Adam): ${report.trainStepMs} ms  (PyTorch ${ref.trainStepMs} ms, ratio ${(report.trainStepMs / ref.trainStepMs).toFixed(2)}×)`);
console.log(`forward (batch ${report.forwardBatch}):          ${report.forwardMs} ms  (PyTorch ${ref.forwardMs} ms, ratio ${(report.forwardMs / ref.forwardMs).toFixed(2)}×)`);
