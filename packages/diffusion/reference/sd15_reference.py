#!/usr/bin/env python3
"""PyTorch reference for `diffusion bench --sd15` and bench/sd15.ts: Stable Diffusion 1.5's UNet, VAE decoder and text encoder
at their real sizes on random weights, timed as the TypeScript benchmark times them (best of N wall
times, float32, inference mode, 2 threads):

  UNet step       latent 2x4x64x64 (the classifier-free-guidance batch), timestep 500, text 2x77x768
  VAE decode      1x4x64x64 -> 1x3x512x512
  text encoder    2 prompts x 77 tokens

It builds the models with diffusers' UNet2DConditionModel / AutoencoderKL and transformers'
CLIPTextModel from the SD-1.5 configs below (the library classes, random init). It needs an
environment where `import diffusers, transformers` works; it prints one JSON object.

Run:  python3 packages/diffusion/reference/sd15_reference.py [--iters 2] [--threads 2]
"""
import argparse
import json
import resource
import time

import torch

UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
    down_block_types=('CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'),
    up_block_types=('UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'),
    cross_attention_dim=768, attention_head_dim=8,
)
VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, block_out_channels=(128, 256, 512, 512),
    down_block_types=('DownEncoderBlock2D',) * 4, up_block_types=('UpDecoderBlock2D',) * 4, sample_size=512,
)
TEXT = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
            max_position_embeddings=77, hidden_act='quick_gelu', projection_dim=768)


def best(fn, iters):
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(min(times))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    out = {'torch': torch.__version__, 'threads': args.threads}
    with torch.no_grad():
        text = CLIPTextModel(CLIPTextConfig(**TEXT)).eval()
        ids = torch.full((2, 77), 49407, dtype=torch.long)
        ids[:, 0] = 49406
        out['textEncoderMs'] = best(lambda: text(ids), args.iters)
        del text
        unet = UNet2DConditionModel(**UNET).eval()
        latents = torch.randn(2, 4, 64, 64)
        context = torch.randn(2, 77, 768)
        out['unetStepMs'] = best(lambda: unet(latents, 500, encoder_hidden_states=context), args.iters)
        del unet
        vae = AutoencoderKL(**VAE).eval()
        z = torch.randn(1, 4, 64, 64)
        out['vaeDecodeMs'] = best(lambda: vae.decode(z), args.iters)
    out['peakRssMb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
