#!/usr/bin/env python3
"""PyTorch reference of the ContextUnet benchmarked by bench/diffusion-contextunet.ts.

The same architecture (the DeepLearning.AI sprites ContextUnet: 16x16x3 input, n_feat 64, 5
context classes, residual conv blocks with BatchNorm + GELU, GroupNorm(8) in the up path), timed
the same way: median wall time of a training step (batch 100, MSE on the noise, Adam lr 1e-3)
and of a forward pass (batch 32, no grad, eval mode), after warm-up, on 2 threads.

It must stay the same network as packages/diffusion/src/models/context-unet.ts (1,481,027 parameters;
inputs t/T and the context vector). bench/diffusion-contextunet.ts runs it in the same run as the
TypeScript backends and prints the ratios.

Run:  /usr/bin/python3 bench/torch_reference.py [--steps 5] [--forwards 10] [--threads 2] [--json]
      /usr/bin/python3 bench/torch_reference.py --serve   (one timing per "train"/"forward" line on stdin)
Needs Debian's python3-torch (apt-get install -y python3-torch); it is a benchmark helper only.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResidualConvBlock(nn.Module):
    def __init__(self, in_ch, out_ch, is_res):
        super().__init__()
        self.is_res = is_res
        self.conv1 = nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, 1, 1), nn.BatchNorm2d(out_ch), nn.GELU())
        self.conv2 = nn.Sequential(nn.Conv2d(out_ch, out_ch, 3, 1, 1), nn.BatchNorm2d(out_ch), nn.GELU())
        # A trained 1x1 shortcut when the channel count changes (the course built an untrained one per call).
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1) if is_res and in_ch != out_ch else None

    def forward(self, x):
        x2 = self.conv2(self.conv1(x))
        if not self.is_res:
            return x2
        skip = self.shortcut(x) if self.shortcut is not None else x
        return (skip + x2) / 1.414


class EmbedFC(nn.Module):
    def __init__(self, input_dim, emb_dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(input_dim, emb_dim), nn.GELU(), nn.Linear(emb_dim, emb_dim))

    def forward(self, x):
        return self.net(x)


class ContextUnet(nn.Module):
    def __init__(self, in_channels=3, n_feat=64, n_cfeat=5, height=16):
        super().__init__()
        self.n_feat = n_feat
        self.init_conv = ResidualConvBlock(in_channels, n_feat, True)
        self.down1 = nn.Sequential(ResidualConvBlock(n_feat, n_feat, False), ResidualConvBlock(n_feat, n_feat, False), nn.MaxPool2d(2))
        self.down2 = nn.Sequential(ResidualConvBlock(n_feat, 2 * n_feat, False), ResidualConvBlock(2 * n_feat, 2 * n_feat, False), nn.MaxPool2d(2))
        self.to_vec = nn.Sequential(nn.AvgPool2d(height // 4), nn.GELU())
        self.timeembed1 = EmbedFC(1, 2 * n_feat)
        self.timeembed2 = EmbedFC(1, n_feat)
        self.contextembed1 = EmbedFC(n_cfeat, 2 * n_feat)
        self.contextembed2 = EmbedFC(n_cfeat, n_feat)
        self.up0 = nn.Sequential(nn.ConvTranspose2d(2 * n_feat, 2 * n_feat, height // 4, height // 4), nn.GroupNorm(8, 2 * n_feat), nn.ReLU())
        self.up1_t = nn.ConvTranspose2d(4 * n_feat, n_feat, 2, 2)
        self.up1_b = nn.Sequential(ResidualConvBlock(n_feat, n_feat, False), ResidualConvBlock(n_feat, n_feat, False))
        self.up2_t = nn.ConvTranspose2d(2 * n_feat, n_feat, 2, 2)
        self.up2_b = nn.Sequential(ResidualConvBlock(n_feat, n_feat, False), ResidualConvBlock(n_feat, n_feat, False))
        self.out = nn.Sequential(nn.Conv2d(2 * n_feat, n_feat, 3, 1, 1), nn.GroupNorm(8, n_feat), nn.ReLU(), nn.Conv2d(n_feat, in_channels, 3, 1, 1))

    def forward(self, x, t, c):
        n = x.shape[0]
        h0 = self.init_conv(x)
        d1 = self.down1(h0)
        d2 = self.down2(d1)
        hidden = self.to_vec(d2)
        cemb1 = self.contextembed1(c).view(n, 2 * self.n_feat, 1, 1)
        temb1 = self.timeembed1(t).view(n, 2 * self.n_feat, 1, 1)
        cemb2 = self.contextembed2(c).view(n, self.n_feat, 1, 1)
        temb2 = self.timeembed2(t).view(n, self.n_feat, 1, 1)
        u1 = self.up0(hidden)
        u2 = self.up1_b(self.up1_t(torch.cat((cemb1 * u1 + temb1, d2), 1)))
        u3 = self.up2_b(self.up2_t(torch.cat((cemb2 * u2 + temb2, d1), 1)))
        return self.out(torch.cat((u3, h0), 1))


def serve(model, optimizer, batch, params):
    """Timings on request, so that a benchmark can interleave PyTorch with its own figures (fair under
    a varying background load). Two warm-ups of each kind first; then one line in, one line out."""
    train_batch = batch(100)
    forward_batch = batch(32)

    def train_step():
        x, t, c, noise = train_batch
        model.train()
        start = time.perf_counter()
        optimizer.zero_grad()
        F.mse_loss(model(x, t, c), noise).backward()
        optimizer.step()
        return (time.perf_counter() - start) * 1000

    def forward():
        x, t, c, _ = forward_batch
        model.eval()
        with torch.no_grad():
            start = time.perf_counter()
            model(x, t, c)
            return (time.perf_counter() - start) * 1000

    for _ in range(2):
        train_step()
        forward()
    print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'parameters': params}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == 'train':
            print(f'{train_step():.3f}', flush=True)
        elif command == 'forward':
            print(f'{forward():.3f}', flush=True)
        elif command == 'quit':
            break
        else:
            print(f'error: unknown command {command!r}', flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--forwards', type=int, default=10)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--json', action='store_true')
    parser.add_argument('--serve', action='store_true', help='answer "train" / "forward" lines on stdin with one timing (ms) each')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = ContextUnet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    params = sum(p.numel() for p in model.parameters())

    def batch(n):
        x = torch.randn(n, 3, 16, 16)
        t = torch.randint(1, 501, (n, 1)).float() / 500
        c = F.one_hot(torch.randint(0, 5, (n,)), 5).float()
        return x, t, c, torch.randn(n, 3, 16, 16)

    if args.serve:
        return serve(model, optimizer, batch, params)

    model.train()
    x, t, c, noise = batch(100)
    train = []
    for i in range(args.steps + 2):
        start = time.perf_counter()
        optimizer.zero_grad()
        loss = F.mse_loss(model(x, t, c), noise)
        loss.backward()
        optimizer.step()
        if i >= 2:
            train.append((time.perf_counter() - start) * 1000)

    model.eval()
    x, t, c, _ = batch(32)
    forward = []
    with torch.no_grad():
        for i in range(args.forwards + 2):
            start = time.perf_counter()
            model(x, t, c)
            if i >= 2:
                forward.append((time.perf_counter() - start) * 1000)

    result = {
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'parameters': params,
        'train_ms': statistics.median(train),
        'forward_ms': statistics.median(forward),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"PyTorch {result['torch']} ({result['threads']} threads, {params} parameters): "
              f"train step (batch 100, Adam) {result['train_ms']:.0f} ms, forward (batch 32) {result['forward_ms']:.1f} ms")
        print('command: /usr/bin/python3 bench/torch_reference.py')


if __name__ == '__main__':
    sys.exit(main())
