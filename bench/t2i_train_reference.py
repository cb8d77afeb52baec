#!/usr/bin/env python3
"""PyTorch + diffusers reference of bench/diffusion-t2i-train.ts: ONE training step of the shipped
text-to-image model's UNet2DConditionModel or AutoencoderKL, built by diffusers' own classes from the
same config.json (packages/diffusion/models/shapes-t2i/{unet,vae}/config.json), on random weights.

The step is the one our trainers take (packages/diffusion/src/train/t2i/):
  unet (UNetTrainer.optimiseOn): L = mean((eps_theta(z_t, t, c) - eps)^2)
  vae  (VaeTrainer.trainOn):     (mu, ln s^2) = encode(x); z = mu + s*eps; L = mean((decode(z) - x)^2)
                                 + w_KL * 0.5*mean(mu^2 + s^2 - 1 - ln s^2)          (w_KL = 1e-4)
then backward, clipping to global norm 1, Adam (0.9, 0.999, 1e-8) and the EMA update with decay
min(d, (1 + step)/(10 + step)) (d = 0.995 unet, 0.99 vae). Inputs are seeded random tensors of the
trained shapes (values do not change the work of a dense float step).

Protocol (--serve): after construction and two warm-up steps, one JSON line
{"ready", "torch", "diffusers", "threads", "parameters"}; then per stdin line "step" one line
"<wall ms> <process CPU ms>" for one step, "rss" one JSON line {"peakRssMb"}, "quit" ends.

Run: PYTHONPATH=<diffusers src>:... /usr/bin/python3 bench/t2i_train_reference.py --model unet|vae
       --config <config.json> [--batch 32] [--text-length 16] [--threads 2] --serve
It imports diffusers; it contains none of diffusers' code.
"""
import argparse
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F

import diffusers
from diffusers import AutoencoderKL, UNet2DConditionModel


def build(args):
    with open(args.config) as f:
        config = json.load(f)
    torch.manual_seed(0)
    if args.model == 'unet':
        model = UNet2DConditionModel.from_config(config)
        size, channels = config['sample_size'], config['in_channels']
        zt = torch.randn(args.batch, channels, size, size)
        noise = torch.randn(args.batch, channels, size, size)
        timesteps = torch.randint(0, 1000, (args.batch,))
        context = torch.randn(args.batch, args.text_length, config['cross_attention_dim'])

        def loss_fn():
            return F.mse_loss(model(zt, timesteps, encoder_hidden_states=context).sample, noise)

        decay = 0.995
    else:
        model = AutoencoderKL.from_config(config)
        size = config['sample_size']
        factor = 2 ** (len(config['block_out_channels']) - 1)
        x = torch.rand(args.batch, config['in_channels'], size, size) * 2 - 1
        eps = torch.randn(args.batch, config['latent_channels'], size // factor, size // factor)

        def loss_fn():
            posterior = model.encode(x).latent_dist
            mean, logvar = posterior.mean, posterior.logvar
            z = mean + torch.exp(0.5 * logvar) * eps
            reconstruction = F.mse_loss(model.decode(z).sample, x)
            divergence = 0.5 * torch.mean(mean.pow(2) + torch.exp(logvar) - 1 - logvar)
            return reconstruction + 1e-4 * divergence

        decay = 0.99
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    ema = [p.detach().clone() for p in params]
    optimizer = torch.optim.Adam(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    state = {'step': 0}

    def step():
        start = time.perf_counter()
        cpu = time.process_time()
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        d = min(decay, (1 + state['step']) / (10 + state['step']))
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.mul_(d).add_(p, alpha=1 - d)
        float(loss)
        state['step'] += 1
        return (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000

    return step, sum(p.numel() for p in params)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--model', choices=['unet', 'vae'], required=True)
    parser.add_argument('--config', required=True)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--text-length', type=int, default=16)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--serve', action='store_true')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    step, parameters = build(args)
    for _ in range(args.warmup):
        step()
    timed = lambda: '%.3f %.3f' % step()
    print(json.dumps({'ready': True, 'torch': torch.__version__, 'diffusers': diffusers.__version__,
                      'threads': torch.get_num_threads(), 'parameters': parameters}), flush=True)
    if not args.serve:
        print(timed(), flush=True)
        return 0
    for line in sys.stdin:
        command = line.strip()
        if command == 'step':
            print(timed(), flush=True)
        elif command == 'rss':
            print(json.dumps({'peakRssMb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
        elif command == 'quit':
            break
        else:
            print(f'error: unknown command {command!r}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
