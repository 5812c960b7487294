"""Eager PyTorch reference of the S4T network of `s4t bench` (docs/methods.md#s4t), for same-command ratios.

The peer a user would otherwise run: the method in eager PyTorch on the same LibTorch (Debian's
python3-torch and python3-torchvision). One JSON line per network: TTT step (train-mode forward with a
fresh TBS mask, L1 consistency loss against the detached main predictions, backward, SGD), a source step
(the same forward with L1 on every main, auxiliary and TBS output: a stand-in for the task losses),
inference, and the plain supervised step of the network without the S4T modules.
  --net resnet50: the paper's ResNet-50 (3840-channel fused map, TBS 256² / 16² patches), like
                  configs/bench/resnet50_256.toml;
  --net demo:     configs/demo.toml (ResNet-18 width 16, TBS 64² / 4² patches).
--profile N prints the top N ops of each step (self CPU time, grouped by input shape; autograd's
backward ops are the *_backward entries). --embedding folded computes the TBS's resize + patch embedding
as the one strided convolution on the latent grid that the C++ plugin uses (plugins/s4t/patch_embedding.hpp),
to profile the same ops as the C++ step; the reference itself is the direct form.
Usage: /usr/bin/python3 bench/s4t_reference.py --net resnet50 --size 128x128 --batch 2 --threads 2
"""
import argparse, json, time
import torch, torch.nn as nn, torch.nn.functional as F, torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

TASK_CHANNELS = (5, 1, 3, 1)  # synthetic: semseg (5 classes), depth, normals, edge
TASK_WEIGHTS = (1.0, 1.0, 1.0, 1.0)


def sincos_2d(dim, grid):
    """MAE's fixed 2-D sine-cosine position embedding, shape (1, grid*grid, dim)."""
    q = dim // 4
    omega = 1.0 / (10000 ** (torch.arange(q, dtype=torch.float64) / q))
    ys, xs = torch.meshgrid(torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64), indexing="ij")
    def enc(p):
        a = p.reshape(-1, 1) * omega.reshape(1, -1)
        return torch.cat([a.sin(), a.cos()], 1)
    return torch.cat([enc(xs), enc(ys)], 1).float().unsqueeze(0)


class Block(nn.Module):
    def __init__(self, d, heads=4, mlp=4):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
        self.qkv, self.proj, self.h = nn.Linear(d, 3 * d), nn.Linear(d, d), heads
        self.mlp = nn.Sequential(nn.Linear(d, mlp * d), nn.GELU(), nn.Linear(mlp * d, d))

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(self.n1(x)).reshape(b, n, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-2, -1) * (d // self.h) ** -0.5, -1) @ v
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.n2(x))


def bilinear_patch_weights(s, p):
    """A[r, a]: weight of source row a - 1 of a k-row block (k = p / s) in upsampled row r (align_corners=False)."""
    a = torch.zeros(p, p // s + 2, dtype=torch.float64)
    for r in range(p):
        src = (r + 0.5) / s - 0.5
        i0 = int(torch.tensor(src).floor())
        a[r, i0 + 1] += 1 - (src - i0)
        a[r, i0 + 2] += src - i0
    return a.float()


class TBS(nn.Module):
    """Bilinear resize to res², then the p×p stride-p patch embedding (folded: one conv on the latent grid)."""
    def __init__(self, in_ch, out_ch, res, patch, d=64, mask_ratio=0.8, enc=4, dec=2, folded=False):
        super().__init__()
        self.folded = folded
        self.res, self.p, self.g, self.out_ch = res, patch, res // patch, out_ch
        self.n = self.g * self.g
        self.keep = int(self.n * (1 - mask_ratio))
        self.embed = nn.Conv2d(in_ch, d, patch, patch)
        self.register_buffer("pos", sincos_2d(d, self.g))
        self.register_buffer("dpos", sincos_2d(d, self.g))
        self.enc = nn.Sequential(*[Block(d) for _ in range(enc)])
        self.enc_norm = nn.LayerNorm(d, eps=1e-6)
        self.dec_embed = nn.Linear(d, d)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d))
        self.dec = nn.Sequential(*[Block(d) for _ in range(dec)])
        self.dec_norm = nn.LayerNorm(d, eps=1e-6)
        self.pred = nn.Linear(d, patch * patch * out_ch)

    def patch_embed(self, z):
        s = self.res // z.shape[-1]
        if not self.folded or z.shape[-1] != z.shape[-2] or s * z.shape[-1] != self.res or s == 1 or self.p % s:
            z = F.interpolate(z, size=(self.res, self.res), mode="bilinear", align_corners=False)
            return self.embed(z)
        a = bilinear_patch_weights(s, self.p)
        w = a.t() @ self.embed.weight @ a
        return F.conv2d(F.pad(z, (1, 1, 1, 1), mode="replicate"), w, self.embed.bias, self.p // s)

    def forward(self, z):
        t = self.patch_embed(z).flatten(2).transpose(1, 2) + self.pos
        b, d = t.shape[0], t.shape[2]
        shuffle = torch.rand(b, self.n).argsort(1)
        restore = shuffle.argsort(1)
        t = t.gather(1, shuffle[:, : self.keep, None].expand(-1, -1, d))
        t = self.dec_embed(self.enc_norm(self.enc(t)))
        t = torch.cat([t, self.mask_token.expand(b, self.n - self.keep, -1)], 1)
        t = t.gather(1, restore[:, :, None].expand(-1, -1, d)) + self.dpos
        t = self.pred(self.dec_norm(self.dec(t)))
        t = t.reshape(b, self.g, self.g, self.p, self.p, self.out_ch).permute(0, 5, 1, 3, 2, 4)
        return t.reshape(b, self.out_ch, self.res, self.res)


def resnet(net):
    if net == "resnet50":
        return torchvision.models.resnet50(weights=None), (256, 512, 1024, 2048)
    r = ResNet(BasicBlock, [2, 2, 2, 2])  # ResNet-18 at width 16 (backbone.resnet width = 16)
    widths = (16, 32, 64, 128)
    r.inplanes = widths[0]
    r.conv1, r.bn1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False), nn.BatchNorm2d(widths[0])
    for i, w in enumerate(widths):
        setattr(r, f"layer{i + 1}", r._make_layer(BasicBlock, w, 2, stride=1 if i == 0 else 2))
    return r, widths


class S4TNet(nn.Module):
    def __init__(self, net, hw, with_s4t, res, patch, folded=False, latent=64):
        super().__init__()
        r, widths = resnet(net)
        self.stem = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool)
        self.stages = nn.ModuleList([r.layer1, r.layer2, r.layer3, r.layer4])
        self.grid, fused = (hw[0] // 4, hw[1] // 4), sum(widths)
        self.heads = nn.ModuleList(nn.Conv2d(fused, c, 1) for c in TASK_CHANNELS)
        self.with_s4t = with_s4t
        if with_s4t:
            self.ts = nn.Conv2d(fused, len(TASK_CHANNELS) * latent, 1)
            self.aux = nn.ModuleList(nn.Conv2d(latent, c, 1) for c in TASK_CHANNELS)
            self.tbs = TBS(len(TASK_CHANNELS) * latent, sum(TASK_CHANNELS), res, patch, folded=folded)
            self.latent = latent

    def forward(self, x, with_tbs=True):
        hw = x.shape[2:]
        f, maps = self.stem(x), []
        for s in self.stages:
            f = s(f)
            maps.append(F.interpolate(f, size=self.grid, mode="bilinear", align_corners=False))
        fm = torch.cat(maps, 1)
        up = lambda t: F.interpolate(t, size=hw, mode="bilinear", align_corners=False)
        main = [up(h(fm)) for h in self.heads]
        if not (self.with_s4t and with_tbs):
            return main, [], []
        z = self.ts(fm)
        aux = [up(a(zt)) for a, zt in zip(self.aux, z.split(self.latent, 1))]
        return main, aux, [up(t) for t in self.tbs(z).split(list(TASK_CHANNELS), 1)]


def l1(a, b):
    return (a - b).abs().sum(1).mean()


def median_ms(body, warmup, iters):
    for _ in range(warmup):
        body()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        body()
        times.append((time.perf_counter() - t0) * 1e3)
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", default="resnet50", choices=["resnet50", "demo"])
    ap.add_argument("--size", default=None, help="HxW (default 256x256 for resnet50, 64x64 for demo)")
    ap.add_argument("--batch", type=int, default=None, help="default 8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--embedding", default="direct", choices=["direct", "folded"])
    ap.add_argument("--profile", type=int, default=0, help="print the top N ops of each step")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    hw = tuple(int(v) for v in (a.size or ("256x256" if a.net == "resnet50" else "64x64")).lower().split("x"))
    res, patch = (256, 16) if a.net == "resnet50" else (64, 4)
    b = a.batch or 8
    torch.manual_seed(0)
    x = torch.randn(b, 3, *hw)
    targets = [torch.rand(b, c, *hw) for c in TASK_CHANNELS]

    def steps(net):
        opt = torch.optim.SGD(net.parameters(), lr=1e-9)
        def supervised():
            opt.zero_grad(set_to_none=False)
            main, aux, tbs = net(x)
            loss = sum(l1(p, t) for outs in (main, aux, tbs) for p, t in zip(outs, targets))
            loss.backward()
            opt.step()
        def ttt():
            opt.zero_grad(set_to_none=False)
            main, _, tbs = net(x)
            loss = 0.01 * sum(w * l1(t, m.detach()) for w, t, m in zip(TASK_WEIGHTS, tbs, main))
            loss.backward()
            opt.step()
        def infer():
            with torch.no_grad():
                net(x, with_tbs=False)
        return supervised, ttt, infer

    base = S4TNet(a.net, hw, False, res, patch).train()
    net = S4TNet(a.net, hw, True, res, patch, folded=a.embedding == "folded").train()
    base_train, _, _ = steps(base)
    source, ttt, infer = steps(net)
    r = dict(impl="pytorch-eager", net=a.net, embedding=a.embedding, hw=list(hw), batch=b, threads=torch.get_num_threads(),
             params=sum(p.numel() for p in net.parameters()), torch=torch.__version__)
    r["base_train_ms"] = round(median_ms(base_train, a.warmup, a.iterations), 1)
    r["source_ms"] = round(median_ms(source, a.warmup, a.iterations), 1)
    r["ttt_ms"] = round(median_ms(ttt, a.warmup, a.iterations), 1)
    net.eval()
    r["infer_ms"] = round(median_ms(infer, a.warmup, a.iterations), 1)
    print(json.dumps(r), flush=True)
    if a.profile:
        net.train()
        for name, body in (("source step", source), ("TTT step", ttt)):
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True) as prof:
                body()
            print(f"--- {name}: top {a.profile} ops by self CPU time")
            print(prof.key_averages(group_by_input_shape=True).table(
                sort_by="self_cpu_time_total", row_limit=a.profile, max_name_column_width=36, max_shapes_column_width=70))


if __name__ == "__main__":
    main()
