#!/usr/bin/env python3
"""PyTorch reference for bench/sd15-txt2img.ts: one whole text-to-image run with diffusers'
StableDiffusionPipeline on a diffusers folder (a real SD-1.x download, or SD-1.5-sized random
weights), timed as `diffusion txt2img` is timed: from loading the folder to the finished image.
float32, 2 threads, the folder's own scheduler (SD-1.5: PNDM), guidance 7.5, seed 0, 512x512.

It needs an environment where `import diffusers, transformers` works; it prints one JSON object:
{"seconds", "loadSeconds", "samplingSeconds", "peakRssMb", "torch", "diffusers"}.

Run:  python3 packages/diffusion/reference/sd15_txt2img_reference.py --model DIR [--steps 25] [--threads 2]
"""
import argparse
import json
import resource
import time

import torch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--model', required=True)
    parser.add_argument('--steps', type=int, default=25)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--prompt', default='a photograph of an astronaut riding a horse')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    import diffusers
    pipe = diffusers.StableDiffusionPipeline.from_pretrained(
        args.model, torch_dtype=torch.float32, safety_checker=None, requires_safety_checker=False)
    t1 = time.perf_counter()
    with torch.inference_mode():
        generator = torch.Generator().manual_seed(0)
        image = pipe(args.prompt, num_inference_steps=args.steps, guidance_scale=7.5, height=512, width=512,
                     generator=generator, output_type='np').images
    t2 = time.perf_counter()
    assert image.shape == (1, 512, 512, 3)
    print(json.dumps({
        'seconds': round(t2 - t0, 1),
        'loadSeconds': round(t1 - t0, 1),
        'samplingSeconds': round(t2 - t1, 1),
        'peakRssMb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        'torch': torch.__version__,
        'diffusers': diffusers.__version__,
    }))


if __name__ == '__main__':
    main()
