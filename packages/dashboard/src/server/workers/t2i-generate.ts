/**
 * Worker thread of a text-to-image run: loads the chosen Stable Diffusion checkpoint (diffusers
 * folder or SD-1.x single file) with the package's pipeline, generates, and every few steps decodes
 * the scheduler's x̂_0 estimate with the VAE into a preview frame; the final grid becomes the job's
 * file "image.png". Cancel reaches the pipeline as an AbortSignal checked before each step.
 */
import { imagesToGrid } from '@flashdiff/diffusion';
import type { LatentSchedulerKind } from '@flashdiff/diffusion';
import { encodePng, initBackend, loadStableDiffusion } from '@flashdiff/diffusion/node';
import type { DiffusionFrame, T2iGenerateRequest } from '../../shared/protocol.ts';
import { JobCancelled, runWorkerJob } from '../worker-protocol.ts';

/** Images in [0, 1] (count × h × w × 3) as one RGB grid. */
function grid(images: Float32Array, count: number, height: number, width: number): { width: number; height: number; pixels: Uint8Array; png: Uint8Array } {
  const picture = imagesToGrid(images.map((v) => 2 * v - 1), count, height, width, 3, Math.ceil(Math.sqrt(count)), count === 1 ? 0 : 1);
  const pixels = new Uint8Array(picture.width * picture.height * 3);
  for (let i = 0; i < picture.width * picture.height; i++) for (let c = 0; c < 3; c++) pixels[i * 3 + c] = picture.data[i * 4 + c]!;
  return { width: picture.width, height: picture.height, pixels, png: new Uint8Array(encodePng(picture)) };
}

runWorkerJob<T2iGenerateRequest>(async (job) => {
  const request = job.params;
  job.progress(0, request.steps, 'initialising the tensor backend');
  const engine = await initBackend('auto');
  job.progress(0, request.steps, `loading ${request.model}`);
  const pipe = loadStableDiffusion(engine, request.model, request.scheduler === 'default' ? {} : { scheduler: request.scheduler as LatentSchedulerKind });
  const controller = new AbortController();
  const started = Date.now();
  const f = pipe.vaeScaleFactor;
  const latentShape: [number, number, number] = [request.height / f, request.width / f, pipe.components.unet.config.in_channels];
  try {
    const result = await pipe.textToImage({
      prompt: request.prompt,
      negativePrompt: request.negativePrompt,
      steps: request.steps,
      guidance: request.guidance,
      seed: request.seed,
      width: request.width,
      height: request.height,
      n: request.count,
      signal: controller.signal,
      onStep: async ({ step, total, predictedOriginal }) => {
        if (job.cancelled()) controller.abort();
        const seconds = (Date.now() - started) / 1000;
        job.progress(step + 1, total, `step ${step + 1} / ${total} · ${(seconds / (step + 1)).toFixed(2)} s/step`);
        if ((step + 1) % request.previewEvery === 0 && step + 1 < total) {
          const preview = grid(await pipe.decodeLatents(predictedOriginal, request.count, latentShape), request.count, request.height, request.width);
          const frame: DiffusionFrame = {
            step: step + 1,
            totalSteps: total,
            timestep: step,
            width: preview.width,
            height: preview.height,
            channels: 3,
            pixels: Buffer.from(preview.pixels).toString('base64'),
          };
          job.frame(frame);
        }
        await job.yieldToEvents();
        if (job.cancelled()) controller.abort();
      },
    });
    const final = grid(result.images, result.count, result.height, result.width);
    job.frame({ step: request.steps, totalSteps: request.steps, timestep: 0, width: final.width, height: final.height, channels: 3, pixels: Buffer.from(final.pixels).toString('base64') } satisfies DiffusionFrame);
    job.file('image.png', final.png, 'image/png');
    job.result({ prompt: request.prompt, images: result.count, width: result.width, height: result.height, steps: request.steps, guidance: request.guidance, seed: request.seed, seconds: Number(((Date.now() - started) / 1000).toFixed(2)), png: 'image.png' });
  } catch (e) {
    if ((e as { code?: string }).code === 'CANCELLED') throw new JobCancelled();
    throw e;
  } finally {
    pipe.dispose();
  }
});
