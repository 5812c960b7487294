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
Device and numerics (bench/compare_gpu.sh): --device cpu|cuda|cuda:N, --precision fp32|bf16 (torch.autocast
on the device; weights, optimizer and loss in fp32), --channels-last (weights and images NHWC),
--cuda-graph (CUDA only: the TTT step, the episode's steps and inference each captured once with
torch.cuda.graphs and replayed), --episode-steps N (also time one episode: restore the weights, N TTT
steps, one prediction; 0 = not measured). On CUDA every timed iteration is bracketed by
torch.cuda.synchronize(), and peak_mib is torch.cuda.max_memory_allocated (MiB); on the CPU it is the
process's peak RSS.
Usage: /usr/bin/python3 bench/s4t_reference.py --net resnet50 --size 128x128 --batch 2 --threads 2
"""
import argparse, contextlib, json, resource, time
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
        a = bilinear_patch_weights(s, self.p).to(z.device)
        w = a.t() @ self.embed.weight @ a
        return F.conv2d(F.pad(z, (1, 1, 1, 1), mode="replicate"), w, self.embed.bias, self.p // s)

    def forward(self, z):
        t = self.patch_embed(z).flatten(2).transpose(1, 2) + self.pos
        b, d = t.shape[0], t.shape[2]
        shuffle = torch.rand(b, self.n, device=t.device).argsort(1)
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
    def __init__(self, net, grid_hw, with_s4t, res, patch, folded=False, latent=64):
        super().__init__()
        r, widths = resnet(net)
        self.stem = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool)
        self.stages = nn.ModuleList([r.layer1, r.layer2, r.layer3, r.layer4])
        self.grid, fused = (grid_hw[0] // 4, grid_hw[1] // 4), sum(widths)  # built for grid_hw: fused map at /4
        self.heads = nn.ModuleList(nn.Conv2d(fused, c, 1) for c in TASK_CHANNELS)
        self.with_s4t = with_s4t
        if with_s4t:
            self.ts = nn.Conv2d(fused, len(TASK_CHANNELS) * latent, 1)
            self.aux = nn.ModuleList(nn.Conv2d(latent, c, 1) for c in TASK_CHANNELS)
            self.tbs = TBS(len(TASK_CHANNELS) * latent, sum(TASK_CHANNELS), res, patch, folded=folded)
            self.latent = latent

    def fused(self, x):
        f, maps = self.stem(x), []
        for s in self.stages:
            f = s(f)
            maps.append(F.interpolate(f, size=self.grid, mode="bilinear", align_corners=False))
        return torch.cat(maps, 1)

    def forward(self, x, with_tbs=True):
        hw = x.shape[2:]
        fm = self.fused(x)
        up = lambda t: F.interpolate(t, size=hw, mode="bilinear", align_corners=False)
        main = [up(h(fm)) for h in self.heads]
        if not (self.with_s4t and with_tbs):
            return main, [], []
        z = self.ts(fm)
        aux = [up(a(zt)) for a, zt in zip(self.aux, z.split(self.latent, 1))]
        return main, aux, [up(t) for t in self.tbs(z).split(list(TASK_CHANNELS), 1)]


# s4t's parameter and buffer names (`s4t bench --save-weights`) -> this module's, in order of application.
CPP_NAMES = [(r"^backbone\.conv1\.", "stem.0."), (r"^backbone\.bn1\.", "stem.1."),
             (r"^backbone\.layer(\d)\.", lambda m: f"stages.{int(m.group(1)) - 1}."),
             (r"^method\.ts_comp\.", "ts."), (r"^method\.tbs\.patch_embed\.proj\.", "tbs.embed."),
             (r"^method\.tbs\.decoder_blocks\.", "tbs.dec."), (r"^method\.tbs\.blocks\.", "tbs.enc."),
             (r"^method\.tbs\.decoder_pos_embed$", "tbs.dpos"), (r"^method\.tbs\.pos_embed$", "tbs.pos"),
             (r"^method\.tbs\.decoder_embed\.", "tbs.dec_embed."), (r"^method\.tbs\.decoder_norm\.", "tbs.dec_norm."),
             (r"^method\.tbs\.decoder_pred\.", "tbs.pred."), (r"^method\.tbs\.norm\.", "tbs.enc_norm."),
             (r"^method\.tbs\.", "tbs."), (r"\.norm1\.", ".n1."), (r"\.norm2\.", ".n2."), (r"\.attn\.", "."),
             (r"\.mlp\.fc1\.", ".mlp.0."), (r"\.mlp\.fc2\.", ".mlp.2.")]
TASKS = ("semseg", "depth", "normals", "edge")


def python_name(name):
    import re
    for task_prefix, ours in (("heads.", "heads."), ("method.aux_heads.", "aux.")):
        if name.startswith(task_prefix):
            task, rest = name[len(task_prefix):].split(".", 1)
            return f"{ours}{TASKS.index(task)}.{rest}"
    for pattern, repl in CPP_NAMES:
        name = re.sub(pattern, repl, name)
    return name


def check_against(path, net_name, grid_text, res, patch):
    """Loads what `s4t bench --save-weights` wrote (weights, input, eval-mode predictions and task latents),
    runs the same network here and compares: max |a - b| / max |b| per tensor, 1e-4 to pass."""
    saved = torch.load(path, map_location="cpu", weights_only=False)  # our own file (s4t bench wrote it)
    x = saved["input"]
    hw = tuple(x.shape[-2:])
    grid_hw = tuple(int(v) for v in grid_text.lower().split("x")) if grid_text else hw
    net = S4TNet(net_name, grid_hw, True, res, patch).eval()
    state = {python_name(k[len("state."):]): v for k, v in saved.items() if k.startswith("state.")}
    net.load_state_dict(state, strict=True)  # every name mapped, every shape equal
    with torch.no_grad():
        fm = net.fused(x)
        up = lambda t: F.interpolate(t, size=hw, mode="bilinear", align_corners=False)
        ours = {f"pred.{t}": up(h(fm)) for t, h in zip(TASKS, net.heads)}
        ours.update({f"latent.{t}": z for t, z in zip(TASKS, net.ts(fm).split(net.latent, 1))})
    wrong = {k: (tuple(ours[k].shape), tuple(saved[k].shape)) for k in ours if ours[k].shape != saved[k].shape}
    if wrong:
        print(json.dumps(dict(check=path, passed=False, error="output shapes differ (ours, saved): is --grid the "
                              "size s4t bench built the model for?", shapes=wrong)), flush=True)
        return False
    errors = {k: ((ours[k] - saved[k]).abs().max() / saved[k].abs().max().clamp_min(1e-12)).item() for k in ours}
    worst = max(errors.values())
    print(json.dumps(dict(check=path, tensors=len(state), max_relative_error=worst, passed=worst < 1e-4,
                          per_output={k: float(f"{v:.3g}") for k, v in errors.items()})), flush=True)
    return worst < 1e-4


def l1(a, b):
    return (a - b).abs().sum(1).mean()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(body, warmup, iters, device=torch.device("cpu")):
    for _ in range(warmup):
        body()
    times = []
    for _ in range(iters):
        sync(device)
        t0 = time.perf_counter()
        body()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return sorted(times)[len(times) // 2]


def graphed(body, device, warmup=3):
    """body captured once in a CUDA graph (after warm-up iterations on a side stream, as torch.cuda.graphs
    requires); returns the replay. body must read only static tensors (the inputs are fixed here)."""
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            body()
    torch.cuda.current_stream(device).wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        body()
    return graph.replay


def peak_mib(device):
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", default="resnet50", choices=["resnet50", "demo"])
    ap.add_argument("--size", default=None, help="HxW (default 256x256 for resnet50, 64x64 for demo)")
    ap.add_argument("--batch", type=int, default=None, help="default 8")
    ap.add_argument("--grid", default=None, help="HxW the network is built for (fused map HxW/4; default --size), as s4t bench --grid")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--embedding", default="direct", choices=["direct", "folded"])
    ap.add_argument("--profile", type=int, default=0, help="print the top N ops of each step")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="bf16: torch.autocast to bfloat16")
    ap.add_argument("--channels-last", action="store_true", help="weights and images in channels_last (NHWC)")
    ap.add_argument("--cuda-graph", action="store_true", help="CUDA only: replay each step from a captured CUDA graph")
    ap.add_argument("--episode-steps", type=int, default=0, help="also time N TTT steps + prediction (0 = no)")
    ap.add_argument("--check", metavar="FILE", help="compare with what `s4t bench --save-weights FILE` wrote "
                    "(same weights and input: predictions and task latents to 1e-4 relative) and exit")
    a = ap.parse_args()
    if a.check:
        res, patch = (256, 16) if a.net == "resnet50" else (64, 4)
        raise SystemExit(0 if check_against(a.check, a.net, a.grid, res, patch) else 1)
    device = torch.device(a.device)
    if device.type not in ("cpu", "cuda"):
        ap.error(f"--device {a.device}: expected cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error(f"--device {a.device}: this PyTorch sees no CUDA device")
    if a.cuda_graph and device.type != "cuda":
        ap.error("--cuda-graph needs --device cuda (CUDA graphs exist only on CUDA)")
    if a.episode_steps < 0:
        ap.error("--episode-steps must be 0 or more")
    if a.profile and device.type != "cpu":
        ap.error("--profile reports CPU op times: use it with --device cpu")
    torch.set_num_threads(a.threads)
    hw = tuple(int(v) for v in (a.size or ("256x256" if a.net == "resnet50" else "64x64")).lower().split("x"))
    grid_hw = tuple(int(v) for v in a.grid.lower().split("x")) if a.grid else hw
    res, patch = (256, 16) if a.net == "resnet50" else (64, 4)
    b = a.batch or 8
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    # CUDA graph capture needs autocast's weight-cast cache off (cached casts would outlive the capture).
    autocast = ((lambda: torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=not a.cuda_graph))
                if a.precision == "bf16" else contextlib.nullcontext)
    torch.manual_seed(0)
    x = torch.randn(b, 3, *hw).to(device, memory_format=fmt)
    targets = [torch.rand(b, c, *hw).to(device) for c in TASK_CHANNELS]

    def steps(net):
        opt = torch.optim.SGD(net.parameters(), lr=1e-9)
        def supervised():
            opt.zero_grad(set_to_none=False)
            with autocast():
                main, aux, tbs = net(x)
            loss = sum(l1(p.float(), t) for outs in (main, aux, tbs) for p, t in zip(outs, targets))
            loss.backward()
            opt.step()
        def ttt():
            opt.zero_grad(set_to_none=False)
            with autocast():
                main, _, tbs = net(x)
            loss = 0.01 * sum(w * l1(t.float(), m.detach().float()) for w, t, m in zip(TASK_WEIGHTS, tbs, main))
            loss.backward()
            opt.step()
        def infer():
            with torch.no_grad(), autocast():
                net(x, with_tbs=False)
        return supervised, ttt, infer

    def build(with_s4t, folded=False):
        return S4TNet(a.net, grid_hw, with_s4t, res, patch, folded=folded).to(device, memory_format=fmt).train()

    base = build(False)
    net = build(True, folded=a.embedding == "folded")
    base_train, _, _ = steps(base)
    source, ttt, infer = steps(net)
    impl = "pytorch-cuda-graph" if a.cuda_graph else "pytorch-eager"
    r = dict(impl=impl, net=a.net, embedding=a.embedding, hw=list(hw), grid=list(grid_hw), batch=b, threads=torch.get_num_threads(),
             device=str(device), precision=a.precision, channels_last=a.channels_last,
             params=sum(p.numel() for p in net.parameters()), torch=torch.__version__)
    if a.cuda_graph:  # the captured graphs replace the eager bodies (zero_grad without set_to_none keeps .grad static)
        base_train, source, ttt = graphed(base_train, device), graphed(source, device), graphed(ttt, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    r["base_train_ms"] = round(median_ms(base_train, a.warmup, a.iterations, device), 2)
    r["source_ms"] = round(median_ms(source, a.warmup, a.iterations, device), 2)
    r["ttt_ms"] = round(median_ms(ttt, a.warmup, a.iterations, device), 2)
    if a.episode_steps:
        saved = [t.detach().clone() for t in net.state_dict().values()]
        net.eval()
        predict = graphed(infer, device) if a.cuda_graph else infer
        net.train()
        def episode():  # what `s4t adapt` does per target batch: source weights back, N steps, one prediction
            with torch.no_grad():
                for t, s in zip(net.state_dict().values(), saved):
                    t.copy_(s)
            net.train()
            for _ in range(a.episode_steps):
                ttt()
            net.eval()
            predict()
            net.train()
        r["episode_steps"] = a.episode_steps
        r["episode_ms"] = round(median_ms(episode, a.warmup, a.iterations, device), 2)
    net.eval()
    r["infer_ms"] = round(median_ms(graphed(infer, device) if a.cuda_graph else infer, a.warmup, a.iterations, device), 2)
    r["peak_mib"] = peak_mib(device)
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
