#!/usr/bin/env python3
"""Times the device check's cases in PyTorch and prints the one table.

usage: device_check_torch.py PREPARED_DIR --ours=OURS.tsv [--inputs-dir=DIR]
           [--device=cuda|cpu] [--table=PATH] [--min-time=S] [--max-runs=N]
           [--no-torch] [--filter=TEXT]

For every case of PREPARED_DIR/manifest.json (gecko-device-prepare) the same
op is written in PyTorch, fp32, from docs/spec (shared/spec/gecko-ops.md): a
plain batched form a PyTorch user would write (SDPA for attention where torch
has it, FFT convolution for CEMA, a loop over chunks only for the working
memory). One timed step = forward + backward (autograd with the case's
gout.* as upstream gradients), the same work as our kernel; median over
repeated steps after two warm-up steps (CUDA events on the GPU). Its results
are compared with the case's expected values ("torch err", the same metric
as ours) so that a wrong torch formula cannot go unnoticed. Variants the
torch code does not cover (bos resets, padding, AWM segments and the short
path) show "-".

The golden cases' inputs are their golden files; the random cases' inputs
are what gecko-device-run --inputs-dir wrote. OURS.tsv is gecko-device-run
--tsv. Without torch (or without a GPU for --device=cuda) the table still
prints, torch columns "-". Standard library + torch only.
"""

import argparse
import json
import math
import os
import statistics
import struct
import sys
import time

# --- safetensors without the safetensors package -----------------------------

DTYPES = {"F64": ("float64", 8), "F32": ("float32", 4), "F16": ("float16", 2),
          "BF16": ("bfloat16", 2), "I64": ("int64", 8), "I32": ("int32", 4),
          "BOOL": ("bool", 1)}


def read_safetensors(path, torch):
    """(tensors by key as CPU torch tensors, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for key, info in header.items():
        begin, end = info["data_offsets"]
        dtype = getattr(torch, DTYPES[info["dtype"]][0])
        raw = bytearray(data[base + begin:base + end])
        t = (torch.frombuffer(raw, dtype=dtype) if raw else
             torch.empty(0, dtype=dtype))
        out[key] = t.reshape(info["shape"])
    return out, meta


# --- the ops -----------------------------------------------------------------


def rms_norm(x, w, groups, eps):
    xg = x.unflatten(-1, (groups, -1))
    y = (xg * torch.rsqrt(xg.pow(2).mean(-1, keepdim=True) + eps)).flatten(-2)
    return y if w is None else y * (w + 1)


def op_rmsnorm(t, m):
    return {"out.y": rms_norm(t["in.x"], t.get("param.weight"),
                              int(m["num_groups"]), float(m["eps"]))}


def op_layernorm(t, m):
    x, groups, eps = t["in.x"], int(m["num_groups"]), float(m["eps"])
    xg = x.unflatten(-1, (groups, -1))
    mean = xg.mean(-1, keepdim=True)
    var = (xg - mean).pow(2).mean(-1, keepdim=True)
    y = ((xg - mean) * torch.rsqrt(var + eps)).flatten(-2)
    if "param.weight" in t:
        y = y * (t["param.weight"] + 1)
    if "param.bias" in t:
        y = y + t["param.bias"]
    return {"out.y": y}


def op_zsplit(t, m):
    z, heads, eps = t["in.z"], int(m["num_heads"]), float(m["eps"])
    dz = z.shape[-1] // heads
    zn = rms_norm(z, None, heads, eps)
    out = zn.unsqueeze(-2) * ((t["param.gamma"] + 1) / math.sqrt(dz)) + \
        t["param.beta"]
    q, k, aq, ak = out.unbind(-2)
    return {"out.q": q, "out.k": k, "out.aq": aq, "out.ak": ak}


def op_rope(t, m):
    x = t["in.x"]  # (B, L, H, d)
    start, base = int(m["start"]), float(m["base"])
    heads = int(m.get("n_rope_heads", x.shape[2]))
    d = x.shape[-1]
    j = torch.arange(0, d, 2, dtype=torch.float64, device=x.device)
    freqs = 1.0 / (base ** (j / d)).float()
    pos = torch.arange(start, start + x.shape[1], dtype=torch.float32,
                       device=x.device)
    angle = pos[:, None] * freqs[None, :]
    cos, sin = angle.cos()[None, :, None, :], angle.sin()[None, :, None, :]
    xr = x[:, :, :heads].unflatten(-1, (-1, 2))
    a, b = xr[..., 0], xr[..., 1]
    rot = torch.stack((a * cos - b * sin, a * sin + b * cos), -1).flatten(-2)
    return {"out.y": torch.cat((rot, x[:, :, heads:]), 2)}


def op_tsnorm(t, m):
    if "in.bos_mask" in t or "in.padding_mask" in t:
        return None
    x, w, b = t["in.x"], t["param.weight"], t["param.bias"]
    groups, eps = int(m["num_groups"]), float(m["eps"])
    b1, b2 = float(m["beta1"]), float(m["beta2"])
    bsz, length, _ = x.shape
    dev = x.device
    count = t.get("in.prev_count", torch.zeros(bsz, dtype=torch.int64,
                                               device=dev))
    m0 = t.get("in.prev_mean", torch.zeros(bsz, groups, device=dev))
    v0 = t.get("in.prev_var", torch.zeros(bsz, groups, device=dev))
    xg = x.unflatten(-1, (groups, -1))
    gm = xg.mean(-1)
    gv = (xg - gm[..., None]).pow(2).mean(-1)
    steps = torch.arange(length, dtype=torch.float64, device=dev)

    def ema(beta, g, s0):
        # m_t = (1-b) sum_{s<=t} b^(t-s) g_s + b^(t+1) m0 (cumsum form,
        # fine while L * log(1/b) stays small).
        up = (beta ** (-steps)).float()
        down = (beta ** steps).float()
        acc = torch.cumsum(g * up[None, :, None], 1) * down[None, :, None]
        return (1 - beta) * acc + (beta * down)[None, :, None] * s0[:, None, :]

    mt, vt = ema(b1, gm, m0), ema(b2, gv, v0)
    n = (count[:, None] + torch.arange(1, length + 1, device=dev)[None, :])
    n = n.double()
    mhat = mt / (1 - b1 ** n).float()[..., None]
    vhat = vt / (1 - b2 ** n).float()[..., None]
    y = (xg - mhat[..., None]) * torch.rsqrt(vhat + eps)[..., None]
    y = y.flatten(-2) * (w + 1) + b
    return {"out.y": y, "out.mean": mt[:, -1], "out.var": vt[:, -1]}


def op_cema(t, m):
    if "in.bos_mask" in t:
        return None
    x = t["in.x"]  # (B, D, L)
    alpha, delta = t["param.alpha"], t["param.delta"]
    theta, gamma = t["param.theta"], t["param.gamma"]
    dim, order = alpha.shape
    length = x.shape[-1]
    p = torch.sigmoid(alpha)
    phi = (torch.arange(order, device=x.device) + 1)[None, :] * \
        torch.sigmoid(theta)[:, None] * (2 * math.pi / order)
    mag = 1 - p * torch.sigmoid(delta)
    g = torch.complex(gamma[..., 0], gamma[..., 1])
    j = torch.arange(length, dtype=torch.float32, device=x.device)
    qpow = torch.polar(mag[..., None] ** j, phi[..., None] * j)  # (D,N,L)
    kernel = torch.einsum("dn,dnl->dl", g * p, qpow).real
    n_fft = 2 * length
    y = torch.fft.irfft(torch.fft.rfft(x, n=n_fft) *
                        torch.fft.rfft(kernel, n=n_fft), n=n_fft)[..., :length]
    q = torch.polar(mag, phi)
    new_h = torch.einsum("dnl,bdl->bdn", qpow.flip(-1) * p[..., None],
                         x.to(torch.complex64))
    if "in.hx" in t:
        hx = torch.complex(t["in.hx"][..., 0], t["in.hx"][..., 1])
        y = y + torch.einsum("dn,bdn,dnl->bdl", g, hx,
                             qpow * q[..., None]).real
        new_h = new_h + q ** length * hx
    return {"out.y": y + x, "out.h": torch.view_as_real(new_h)}


def attention(q, k, v, mask):
    """q (..., Lq, d), k/v (..., Lk, d), boolean mask (..., Lq, Lk)."""
    sdpa = getattr(F, "scaled_dot_product_attention", None)
    if sdpa is not None:
        try:
            return sdpa(q, k, v, attn_mask=mask, scale=1.0)
        except (TypeError, RuntimeError):  # torch 2.0: no scale argument;
            pass                           # a mask/shape SDPA refuses
    s = torch.matmul(q, k.transpose(-1, -2)).masked_fill(~mask, -math.inf)
    return torch.matmul(torch.softmax(s, -1), v)


def op_sca(t, m):
    q, k, v = t["in.q"], t["in.k"], t["in.v"]  # (B, L, H, d)
    bsz, length, heads, _ = q.shape
    chunk = int(m["chunk_size"])
    pk, pv = t.get("in.prev_k"), t.get("in.prev_v")
    seg, pseg = t.get("in.segment_idx"), t.get("in.prev_segment_idx")
    dev = q.device
    heads_first = lambda x: x.transpose(1, 2)  # noqa: E731
    if m["path"] == "chunked":
        nc = length // chunk
        has_prev = pk is not None

        def previous(x, px):  # the keys before each chunk, (B, L, ...)
            head = px if px is not None else torch.zeros_like(x[:, :chunk])
            return torch.cat((head, x[:, :length - chunk]), 1)

        def chunks(x):  # (B, L, H, d) -> (B, H, nc, C, d)
            return heads_first(x).unflatten(2, (nc, chunk))

        k2 = torch.cat((chunks(previous(k, pk)), chunks(k)), 3)
        v2 = torch.cat((chunks(previous(v, pv)), chunks(v)), 3)
        i = torch.arange(chunk, device=dev)[:, None]
        jj = torch.arange(2 * chunk, device=dev)[None, :]
        mask = ((jj >= chunk) & (jj - chunk <= i)) | (jj < chunk)
        mask = mask.expand(nc, chunk, 2 * chunk).clone()
        if not has_prev:
            mask[0, :, :chunk] = False
        mask = mask[None, None]  # (1, 1, nc, C, 2C)
        if seg is not None:
            sq = seg.unflatten(1, (nc, chunk))  # (B, nc, C)
            sp = previous(seg[..., None], None if pseg is None else
                          pseg[..., None])[..., 0].unflatten(1, (nc, chunk))
            sk = torch.cat((sp, sq), 2)  # (B, nc, 2C)
            mask = mask & (sq[..., :, None] == sk[..., None, :])[:, None]
        out = attention(chunks(q), k2, v2, mask)  # (B, H, nc, C, dv)
        y = out.flatten(2, 3).transpose(1, 2)
    else:
        kk = k if pk is None else torch.cat((pk, k), 1)
        vv = v if pv is None else torch.cat((pv, v), 1)
        total = kk.shape[1]
        i = torch.arange(length, device=dev)[:, None]
        jj = torch.arange(total, device=dev)[None, :]
        mask = (jj <= i + total - length)[None, None]
        if seg is not None:
            sk = seg if pseg is None else torch.cat((pseg, seg), 1)
            mask = mask & (seg[:, :, None] == sk[:, None, :])[:, None]
        y = attention(heads_first(q), heads_first(kk), heads_first(vv),
                      mask).transpose(1, 2)
    return {"out.y": y}


def op_awm(t, m):
    if "in.segment_idx" in t or m["path"] != "chunked":
        return None
    aq, ak, v = t["in.q"], t["in.k"], t["in.v"]  # (B, H, L, d)
    chunk = int(m["chunk_size"])
    nc = aq.shape[2] // chunk
    mem, lnt = t.get("in.memory"), t.get("in.lnt")
    pk, pv = t.get("in.prev_k"), t.get("in.prev_v")
    outs = []
    for c in range(nc):
        span = slice(c * chunk, (c + 1) * chunk)
        if mem is None:
            outs.append(torch.zeros_like(v[:, :, span]))
            mem = torch.zeros(aq.shape[:2] + (aq.shape[3], v.shape[3]),
                              device=v.device)
            lnt = torch.full(aq.shape[:2] + (aq.shape[3],), -math.inf,
                             device=v.device)
        else:
            outs.append(torch.softmax(aq[:, :, span], -1) @ mem)
            if pk is not None:
                a = torch.logsumexp(pk, dim=2)  # (B, H, dz)
                z_new = torch.logaddexp(lnt, a)
                rho = torch.exp(a - z_new)
                e = pv - torch.softmax(pk, -1) @ mem
                u = torch.softmax(pk, 2).transpose(-1, -2) @ e
                mem = mem + rho[..., None] * (u - mem)
                lnt = z_new
        pk, pv = ak[:, :, span], v[:, :, span]
    return {"out.y": torch.cat(outs, 2), "out.memory": mem, "out.lnt": lnt}


OPS = {"rmsnorm": op_rmsnorm, "layernorm": op_layernorm, "zsplit": op_zsplit,
       "rope": op_rope, "tsnorm": op_tsnorm, "cema": op_cema, "sca": op_sca,
       "awm": op_awm}

# --- running a case ------------------------------------------------------------


def error_metric(a, b):
    """gecko-conform's max |a-b| / max(1, |b|); inf on a non-finite mismatch."""
    a, b = a.double().flatten(), b.double().flatten()
    if a.shape != b.shape:
        return math.inf
    fa, fb = torch.isfinite(a), torch.isfinite(b)
    if not torch.equal(fa, fb) or not torch.equal(a[~fa], b[~fb]):
        return math.inf
    if not bool(fa.any()):
        return 0.0
    d = (a[fa] - b[fb]).abs() / b[fb].abs().clamp(min=1.0)
    return float(d.max())


def run_case(case, tensors, meta, expected, device, min_time, max_runs):
    """(median ms of forward + backward, torch err) or None if unsupported."""
    fn = OPS.get(case["op"])
    if fn is None:
        return None
    inputs, wrt = {}, []
    for key, value in tensors.items():
        if not key.startswith(("in.", "param.")):
            continue
        x = value.to(device)
        if x.is_floating_point():
            x = x.float().requires_grad_()
            wrt.append(key)
        inputs[key] = x
    with torch.no_grad():
        probe = fn(inputs, meta)
    if probe is None:
        return None
    gouts = {k: tensors["g" + k].to(device).float()
             for k in probe if "g" + k in tensors}
    wrt_tensors = [inputs[k] for k in wrt]

    def step():
        outs = fn(inputs, meta)
        keys = [k for k in outs if k in gouts and outs[k].requires_grad]
        grads = torch.autograd.grad([outs[k] for k in keys],
                                    wrt_tensors, [gouts[k] for k in keys],
                                    allow_unused=True) if keys else []
        return outs, grads

    outs, grads = step()
    results = {k: v.detach().cpu() for k, v in outs.items()}
    for key, grad in zip(wrt, grads):
        if grad is not None:
            results["grad." + key.split(".", 1)[1]] = grad.cpu()
    err = 0.0
    for key, value in results.items():
        if key in expected:
            err = max(err, error_metric(value, expected[key]))
    step()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    times = []
    begin = time.perf_counter()
    while len(times) < max_runs and (len(times) < 3 or
                                     time.perf_counter() - begin < min_time):
        sync()
        start = time.perf_counter()
        step()
        sync()
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times), err


# --- the table -------------------------------------------------------------------


def read_ours(path):
    rows = {}
    if not path or not os.path.exists(path):
        return rows
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            values = line.rstrip("\n").split("\t")
            rows[values[0]] = dict(zip(header, values))
    return rows


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def fmt(value, spec, width=0):
    text = ("-" if value is None or math.isnan(value) else
            format(value, spec))
    return f"{text:>{width}}"


def main():
    global torch, F
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir")
    parser.add_argument("--ours", default="")
    parser.add_argument("--inputs-dir", default="")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--table", default="")
    parser.add_argument("--min-time", type=float, default=0.3)
    parser.add_argument("--max-runs", type=int, default=20)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--filter", action="append", default=[])
    args = parser.parse_args()

    with open(os.path.join(args.dir, "manifest.json")) as f:
        manifest = json.load(f)
    cases = [c for c in manifest["cases"]
             if not args.filter or any(p in c["name"] for p in args.filter)]
    ours = read_ours(args.ours)

    notes = []
    torch_ok = False
    if not args.no_torch:
        try:
            import torch as _torch
            import torch.nn.functional as _F
            torch, F = _torch, _F
            if args.device == "cuda" and not torch.cuda.is_available():
                notes.append("torch: no CUDA device visible to torch "
                             f"{torch.__version__}")
            else:
                torch_ok = True
                where = (torch.cuda.get_device_name(0)
                         if args.device == "cuda" else "cpu")
                notes.append(f"torch {torch.__version__} on {where}, fp32, "
                             "forward + backward per step")
                torch.backends.cuda.matmul.allow_tf32 = False
                torch.backends.cudnn.allow_tf32 = False
        except ImportError as err:
            notes.append(f"torch: not available ({err})")

    rows = []
    for case in cases:
        name = case["name"]
        theirs, torch_err, note = None, None, ""
        if torch_ok:
            try:
                if case["origin"] == "random":
                    path = os.path.join(args.inputs_dir,
                                        name + ".inputs.safetensors")
                else:
                    path = os.path.join(args.dir, case["case_file"])
                tensors, _ = read_safetensors(path, torch)
                expected, _ = read_safetensors(
                    os.path.join(args.dir, case["case_file"]), torch)
                result = run_case(case, tensors, case["metadata"], expected,
                                  args.device, args.min_time, args.max_runs)
                if result is not None:
                    theirs, torch_err = result
            except Exception as err:  # report, keep the table going
                note = f"torch failed: {type(err).__name__}: {err}"[:120]
        row = ours.get(name, {})
        mine = number(row.get("ours_ms"))
        rows.append({
            "case": name, "shape": case["shape"], "ours": mine,
            "kern": number(row.get("kern_ms")), "torch": theirs,
            "ratio": (theirs / mine if theirs and mine and mine > 0 else None),
            "err": number(row.get("err")), "tol": case["tolerance"],
            "pass": row.get("status", "-"), "torch_err": torch_err,
            "note": (row.get("note", "") + ("; " if row.get("note") and note
                                             else "") + note)})
        print(f"torch: {name}: {fmt(theirs, '.3f')} ms, err "
              f"{fmt(torch_err, '.1e')}", file=sys.stderr, flush=True)

    width = max([len(r["case"]) for r in rows] + [4])
    swidth = max([len(r["shape"]) for r in rows] + [5])
    lines = [f"{'case':<{width}}  {'shape':<{swidth}}  {'ours ms':>9}  "
             f"{'kern ms':>9}  {'torch ms':>9}  {'torch/ours':>10}  "
             f"{'max err':>8}  {'tol':>7}  {'pass':<4}  {'torch err':>9}"]
    for r in rows:
        lines.append(
            f"{r['case']:<{width}}  {r['shape']:<{swidth}}  "
            f"{fmt(r['ours'], '.3f', 9)}  {fmt(r['kern'], '.3f', 9)}  "
            f"{fmt(r['torch'], '.3f', 9)}  {fmt(r['ratio'], '.2f', 10)}  "
            f"{fmt(r['err'], '.1e', 8)}  {r['tol']:7.0e}  {r['pass']:<4}  "
            f"{fmt(r['torch_err'], '.1e', 9)}")
    passed = sum(r["pass"] == "PASS" for r in rows)
    lines.append(f"{passed}/{len(rows)} cases pass. ours ms: one call "
                 "(managed-memory argument copies + all launches), median; "
                 "kern ms: the kernels alone (CUDA events); torch/ours > 1: "
                 "ours faster.")
    lines += notes
    for r in rows:
        if r["note"]:
            lines.append(f"note {r['case']}: {r['note']}")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.table:
        with open(args.table + ".tmp", "w") as f:
            f.write(text)
        os.replace(args.table + ".tmp", args.table)
    return 0 if rows and passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
