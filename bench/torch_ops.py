#!/usr/bin/env python3
"""The gecko ops written as a competent PyTorch user would, timed on the CPU.

Same ops, shapes and cases as bench/ops_bench.cpp (B=1, L=4096, D=512, H=2,
dz=128, dv=512, C=256, N=16; L=512 for chunk attention and working memory),
fp32, batched/vectorised forms (no Python loop over tokens: TSN statistics
by a cumulative-sum EMA, CEMA by FFT convolution, SCA as batched chunk-pair
attention with SDPA, AWM looping over chunks only). Backward = autograd of
the forward (torch.autograd.grad with retain_graph; the forward is not in
the backward time). Eager, and torch.compile (inductor) where it works.

Creates bench/.venv with the newest torch from PyPI on first use (extra pip
arguments, e.g. an index of CPU-only wheels, via GECKO_TORCH_PIP_ARGS).

Usage: bench/torch_ops.py [--filter=SUBSTR] [--tsv=PATH] [--no-compile]
                          [--min-time=SECONDS]
Prints milliseconds per call; not a test.
"""

import argparse
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv")
VENV_PYTHON = os.path.join(VENV, "bin", "python")


def ensure_venv():
    """Re-executes this script with the venv's python, creating it first."""
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(VENV_PYTHON):
        print(f"creating {VENV} with torch from PyPI ...", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        pip = [VENV_PYTHON, "-m", "pip", "install", "--quiet"]
        subprocess.check_call(pip + ["--upgrade", "pip"])
        extra = os.environ.get("GECKO_TORCH_PIP_ARGS", "").split()
        subprocess.check_call(pip + extra + ["torch", "numpy"])
    os.execv(VENV_PYTHON, [VENV_PYTHON] + sys.argv)


ensure_venv()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

B, L, D, H, DZ, DV, C, N = 1, 4096, 512, 2, 128, 512, 256, 16
L_ATT = 512
EPS = 1e-5
TSN_GROUPS = 64
BETA1, BETA2 = 0.999, 0.9999


def rand(*shape, lo=-1.0, hi=1.0, grad=True):
    t = torch.empty(*shape).uniform_(lo, hi)
    return t.requires_grad_(grad)


# --- the ops -------------------------------------------------------------


def rms_norm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * (w + 1)


def layer_norm(x, w, b):
    return F.layer_norm(x, (x.shape[-1],), w + 1, b, EPS)


def z_split(z, gamma, beta):
    zh = z.unflatten(-1, (H, DZ))
    zn = (zh * torch.rsqrt(zh.pow(2).mean(-1, keepdim=True) + EPS)).flatten(-2)
    out = zn.unsqueeze(-2) * ((gamma + 1) / math.sqrt(DZ)) + beta
    return out.unbind(-2)


def rope_table(start, length, d, base=500000.0):
    freqs = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)).float()
    pos = torch.arange(start, start + length, dtype=torch.float32)
    angle = pos[:, None] * freqs[None, :]
    return angle.cos(), angle.sin()


def rope(x, start, sign=1.0):
    cos, sin = rope_table(start, x.shape[1], x.shape[-1])
    cos, sin = cos[None, :, None, :], sign * sin[None, :, None, :]
    xr = x.unflatten(-1, (-1, 2))
    a, b = xr[..., 0], xr[..., 1]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), -1).flatten(-2)


def timestep_norm(x, w, b, count, mean, var):
    """No bos / padding: EMAs of the per-token group moments by cumsum."""
    bsz, length, d = x.shape
    xg = x.unflatten(-1, (TSN_GROUPS, d // TSN_GROUPS))
    gm = xg.mean(-1)
    gv = xg.var(-1, unbiased=False)
    t = torch.arange(length, dtype=torch.float32)
    n = (count[:, None] + t[None, :] + 1).float()  # count after step t

    def ema(beta, g, m0):
        # m_t = (1-b) sum_{s<=t} b^(t-s) g_s + b^(t+1) m0, in a stable form
        # for L * log(1/b) < 80 (true here: 4096 * 1e-3).
        up = beta ** (-t)
        down = beta**t
        acc = torch.cumsum(g * up[None, :, None], 1) * down[None, :, None]
        return (1 - beta) * acc + (beta * down)[None, :, None] * m0[:, None, :]

    m = ema(BETA1, gm, mean)
    v = ema(BETA2, gv, var)
    mhat = m / (1 - BETA1 ** n)[..., None]
    vhat = v / (1 - BETA2 ** n)[..., None]
    r = torch.rsqrt(vhat + EPS)
    y = (xg - mhat[..., None]) * r[..., None]
    y = y.flatten(-2) * (w + 1) + b
    return y, count + length, m[:, -1], v[:, -1]


def cema_coeffs(alpha, delta, theta, gamma):
    p = torch.sigmoid(alpha)
    phi = (torch.arange(N) + 1)[None, :] * torch.sigmoid(theta)[:, None] * (
        2 * math.pi / N)
    q = (1 - p * torch.sigmoid(delta)) * torch.exp(1j * phi)
    return p, q, torch.complex(gamma[..., 0], gamma[..., 1])


def cema(x, p, q, g, hx):
    """x (B,L,D); FFT convolution with k_d[j] = Re(sum_n g p q^j)."""
    bsz, length, d = x.shape
    j = torch.arange(length, dtype=torch.float32)
    # q^j = |q|^j e^{i j arg q}, (D,N,L), from real pow / cos / sin.
    qpow = torch.polar(q.abs()[..., None] ** j, q.angle()[..., None] * j)
    k = torch.einsum("dn,dnl->dl", g * p, qpow).real
    xt = x.transpose(1, 2)  # (B,D,L)
    n_fft = 2 * length
    y = torch.fft.irfft(torch.fft.rfft(xt, n=n_fft) * torch.fft.rfft(k, n=n_fft),
                        n=n_fft)[..., :length]
    # The carried state: y_t += Re(sum_n g q^(t+1) hx).
    y = y + torch.einsum("dn,bdn,dnl->bdl", g, hx, qpow * q[..., None]).real
    # New state h_{L-1} = sum_s q^(L-1-s) p x_s + q^L hx.
    new_h = torch.einsum("dnl,bdl->bdn", qpow.flip(-1) * p[..., None],
                         xt.to(torch.complex64)) + q**length * hx
    return (y + xt).transpose(1, 2), new_h


def chunk_attention(q, k, v):
    """Chunked causal path, no cache: chunk c attends to chunks c-1 and c."""
    bsz, length, heads, _ = q.shape
    nc = length // C

    def chunks(t):  # (B,L,H,d) -> (B,H,nc,C,d)
        return t.transpose(1, 2).unflatten(2, (nc, C))

    qc, kc, vc = chunks(q), chunks(k), chunks(v)
    prev = lambda t: F.pad(t, (0, 0, 0, 0, 1, 0))[:, :, :-1]  # noqa: E731
    k2 = torch.cat((prev(kc), kc), 3)  # (B,H,nc,2C,dk)
    v2 = torch.cat((prev(vc), vc), 3)
    i = torch.arange(C)[:, None]
    jj = torch.arange(2 * C)[None, :]
    mask = (jj <= C + i).expand(nc, C, 2 * C).clone()
    mask[0, :, :C] = False  # no cache: chunk 0 sees only itself
    out = F.scaled_dot_product_attention(qc, k2, v2, attn_mask=mask, scale=1.0)
    return out.flatten(2, 3).transpose(1, 2)


def working_memory(aq, ak, v, m, lnt, pk, pv):
    """Chunked path with memory and a pending chunk, no segments."""
    bsz, length, heads, _ = aq.shape
    nc = length // C
    heads_first = lambda t: t.transpose(1, 2)  # noqa: E731
    aqh = heads_first(aq).unflatten(2, (nc, C))
    akh = heads_first(ak).unflatten(2, (nc, C))
    vh = heads_first(v).unflatten(2, (nc, C))
    pk_, pv_ = heads_first(pk), heads_first(pv)
    outs = []
    for c in range(nc):
        outs.append(torch.softmax(aqh[:, :, c], -1) @ m)
        a = torch.logsumexp(pk_, dim=2)  # (B,H,dz)
        z_new = torch.logaddexp(lnt, a)
        rho = torch.exp(a - z_new)
        e = pv_ - torch.softmax(pk_, -1) @ m  # (B,H,C,dv)
        u = torch.softmax(pk_, dim=2).transpose(-1, -2) @ e  # (B,H,dz,dv)
        m = m + rho[..., None] * (u - m)
        lnt = z_new
        pk_, pv_ = akh[:, :, c], vh[:, :, c]
    out = torch.stack(outs, 2).flatten(2, 3).transpose(1, 2)
    return out, m, lnt


# --- the cases -----------------------------------------------------------


def cases():
    """(name, forward fn, tensor inputs (those with grad are differentiated))."""
    x = lambda: rand(B, L, D)  # noqa: E731
    vec = lambda: rand(D)  # noqa: E731
    yield "rms_norm", rms_norm, (x(), vec())
    yield "layer_norm", layer_norm, (x(), vec(), vec())
    z = H * DZ
    yield "z_split", z_split, (rand(B, L, z), rand(4, z), rand(4, z))
    yield "rope", lambda t: rope(t, 1000), (rand(B, L, H, DZ),)
    count = torch.zeros(B, dtype=torch.int64)
    yield "timestep_norm", (lambda a, w, b, m, v: timestep_norm(
        a, w, b, count, m, v)), (x(), vec(), vec(),
                                 rand(B, TSN_GROUPS, lo=0, hi=0),
                                 rand(B, TSN_GROUPS, lo=0, hi=0))
    with torch.no_grad():
        p, q, g = cema_coeffs(rand(D, N, lo=-2, hi=2, grad=False),
                              rand(D, N, lo=-2, hi=2, grad=False),
                              rand(D, grad=False), rand(D, N, 2, grad=False))
    hx = torch.complex(rand(B, D, N, grad=False), rand(B, D, N, grad=False))
    yield "cema", cema, (x(), p.requires_grad_(), q.requires_grad_(),
                         g.requires_grad_(), hx.requires_grad_())
    yield "chunk_attention", chunk_attention, (rand(B, L_ATT, H, DZ),
                                               rand(B, L_ATT, H, DZ),
                                               rand(B, L_ATT, H, DV))
    yield "working_memory", working_memory, (
        rand(B, L_ATT, H, DZ), rand(B, L_ATT, H, DZ), rand(B, L_ATT, H, DV),
        rand(B, H, DZ, DV), rand(B, H, DZ, lo=0, hi=3), rand(B, C, H, DZ),
        rand(B, C, H, DV))


def time_ms(fn, min_time):
    fn()
    times = []
    while len(times) < 3 or (sum(times) < min_time and len(times) < 50):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return 1e3 * times[len(times) // 2]


def bench_one(fn, inputs, min_time):
    """(forward ms, backward ms) of fn on inputs."""
    with torch.no_grad():
        fwd = time_ms(lambda: fn(*inputs), min_time)
    outs = fn(*inputs)
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    outs = [o for o in outs if o.requires_grad]
    grads = [torch.randn_like(o) for o in outs]
    wrt = [t for t in inputs if t.requires_grad]
    bwd = time_ms(lambda: torch.autograd.grad(outs, wrt, grads,
                                              retain_graph=True), min_time)
    return fwd, bwd


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filter", default="")
    parser.add_argument("--tsv", default="")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--min-time", type=float, default=0.5)
    args = parser.parse_args()
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    torch.manual_seed(7)
    print(f"torch {torch.__version__}, {threads} thread(s), "
          f"{torch.backends.cpu.get_cpu_capability()}")
    print(f"{'op':21s} {'eager ms':>10s} {'compile ms':>11s}")
    rows = []
    for name, fn, inputs in cases():
        if args.filter not in name:
            continue
        fwd, bwd = bench_one(fn, inputs, args.min_time)
        cfwd = cbwd = float("nan")
        note = ""
        if not args.no_compile:
            try:
                compiled = torch.compile(fn, dynamic=False)
                start = time.perf_counter()
                cfwd, cbwd = bench_one(compiled, inputs, args.min_time)
                note = f"(compile+run {time.perf_counter() - start:.0f} s)"
            except Exception as err:  # inductor may not support an op
                note = f"torch.compile failed: {type(err).__name__}"
        for direction, eager, comp in (("fwd", fwd, cfwd), ("bwd", bwd, cbwd)):
            key = f"{name}.{direction}"
            print(f"{key:21s} {eager:10.2f} {comp:11.2f} "
                  f"{note if direction == 'fwd' else ''}", flush=True)
            rows.append((key, eager, comp))
    if args.tsv:
        with open(args.tsv, "w") as out:
            for key, eager, comp in rows:
                out.write(f"{key}\t{eager:.4f}\t{comp:.4f}\n")


if __name__ == "__main__":
    main()
