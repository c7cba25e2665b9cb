"""LSQ fake quantization in PyTorch, written from the published method — not from the TypeScript.

Sources:
  * Esser et al., "Learned Step Size Quantization", ICLR 2020 (arXiv:1902.08153): the step size s
    is a parameter; round() passes the gradient straight through (the paper's `roundpass`); the
    gradient of s is scaled by g = 1/sqrt(N·Q_P) (the paper's `gradscale`), N = number of weights
    for a weight quantizer, number of features (one example's activations) for an activation one.
  * Bhalgat et al., "LSQ+", CVPR-W 2020 (arXiv:2004.09576): a learnable offset for asymmetric
    (unsigned) activations, with the same gradient scale.
  * science.md §5 (the note this reproduces): q = s·(clamp(ste_round(x/s) + ste_round(z), qmin,
    qmax) − ste_round(z)), s and z initialised from min/max. The zero is kept on the integer grid
    by ste_round(z) (LSQ+'s offset is real-valued; note 004's is an integer zero point).

Grid (science.md §1): asymmetric unsigned [0, 2^b − 1]; symmetric restricted ±(2^(b−1) − 1), z = 0.
torch.round rounds half to even, the project's rule.
"""
import math

import torch
import torch.nn.functional as F


def gradscale(x, g):
    """Forward: x. Backward: gradient times g (LSQ's gradscale)."""
    return (x - x * g).detach() + x * g


def roundpass(x):
    """Forward: round(x). Backward: identity (straight-through)."""
    return (x.round() - x).detach() + x


def int_range(bits, symmetric):
    if symmetric:
        m = 2 ** (bits - 1) - 1
        return -m, m
    return 0, 2 ** bits - 1


def minmax_scale_zero(lo, hi, bits, symmetric):
    """science.md §1: asymmetric range widened to hold 0, s = (hi − lo)/(qmax − qmin),
    z = round(qmin − lo/s); symmetric s = absmax/qmax; s = 0 → 1."""
    qmin, qmax = int_range(bits, symmetric)
    lo = torch.minimum(lo, torch.zeros_like(lo))
    hi = torch.maximum(hi, torch.zeros_like(hi))
    if symmetric:
        s = torch.maximum(lo.abs(), hi.abs()) / qmax
        s = torch.where(s == 0, torch.ones_like(s), s)
        return s, torch.zeros_like(s)
    s = (hi - lo) / (qmax - qmin)
    s = torch.where(s == 0, torch.ones_like(s), s)
    z = torch.round(qmin - lo / s)
    return s, z


class LsqQuantizer(torch.nn.Module):
    """One learned (s, z) per group. granularity: 'tensor' | 'channel' (rows of a [N×K] weight) |
    'group' (rows × runs of group_size along K). n_per_group: N of the gradient scale."""

    def __init__(self, bits, symmetric, granularity, n_per_group, rows=1, cols=1, group_size=None):
        super().__init__()
        self.bits, self.symmetric, self.granularity = bits, symmetric, granularity
        self.rows, self.cols, self.group_size = rows, cols, group_size
        self.qmin, self.qmax = int_range(bits, symmetric)
        shape = self._param_shape()
        self.s = torch.nn.Parameter(torch.ones(shape))
        self.z = torch.nn.Parameter(torch.zeros(shape), requires_grad=not symmetric)
        self.g = 1.0 / math.sqrt(n_per_group * self.qmax)

    def _param_shape(self):
        if self.granularity == "tensor":
            return ()
        if self.granularity == "channel":
            return (self.rows, 1)
        return (self.rows, math.ceil(self.cols / self.group_size), 1)

    def _view(self, x):
        if self.granularity == "group":
            gs = self.group_size
            assert self.cols % gs == 0, "reference groups need K divisible by the group size"
            return x.reshape(self.rows, self.cols // gs, gs)
        return x

    @torch.no_grad()
    def init_minmax(self, lo, hi):
        s, z = minmax_scale_zero(lo, hi, self.bits, self.symmetric)
        self.s.copy_(s.reshape(self.s.shape))
        self.z.copy_(z.reshape(self.z.shape))

    def group_minmax(self, x):
        v = self._view(x)
        if self.granularity == "tensor":
            return v.min(), v.max()
        if self.granularity == "channel":
            return v.min(dim=1, keepdim=True).values, v.max(dim=1, keepdim=True).values
        return v.min(dim=2, keepdim=True).values, v.max(dim=2, keepdim=True).values

    def forward(self, x):
        s = gradscale(self.s, self.g)
        z = gradscale(self.z, self.g) if not self.symmetric else self.z.detach()
        zr = roundpass(z)
        v = self._view(x)
        q = torch.clamp(roundpass(v / s) + zr, self.qmin, self.qmax)
        return ((q - zr) * s).reshape(x.shape)


class QatHook:
    """Site hook for tools/train/vit.py: fake-quantizes both operands of every product of the plan
    (per-tensor learned ranges for activations, the plan's granularity for weights)."""

    def __init__(self, quantizers, depth):
        self.q = quantizers  # (site, 'a'|'b') → LsqQuantizer
        self.depth = depth
        self.observe = None  # dict key → (lo, hi) while calibrating (no fake-quant)

    def _site(self, site):
        return 1 + 6 * self.depth if site == 37 else site

    def _apply(self, site, op, x):
        key = (site, op)
        if key not in self.q:
            return x
        if self.observe is not None:
            q = self.q[key]
            lo, hi = q.group_minmax(x) if op == "b" and q.granularity != "tensor" else (x.min(), x.max())
            if key in self.observe:
                lo = torch.minimum(lo, self.observe[key][0])
                hi = torch.maximum(hi, self.observe[key][1])
            self.observe[key] = (lo.detach(), hi.detach())
            return x
        return self.q[key](x)

    def linear(self, site, x, lin):
        site = self._site(site)
        return F.linear(self._apply(site, "a", x), self._apply(site, "b", lin.weight), lin.bias)

    def matmul(self, site, a, b):
        # b is kᵀ (q·kᵀ) or v (attn·v): per-tensor ranges do not depend on the layout
        return torch.matmul(self._apply(site, "a", a), self._apply(site, "b", b))


def build_quantizers(model, plan, t, heads, hd):
    """(site, operand) → LsqQuantizer for every quantized operand of a plan (JSON dict)."""
    depth = len(model.blocks)
    qs = {}
    linears = [model.patch_embed]
    for blk in model.blocks:
        linears += [blk.to_qkv, None, None, blk.to_out, blk.fc1, blk.fc2]
    linears.append(model.head)
    p = (model.cfg["image"] // model.cfg["patch"]) ** 2
    for i, site in enumerate(plan["sites"]):
        lin = linears[i]
        kind = "patch" if i == 0 else "head" if i == 1 + 6 * depth else ["qkv", "qk", "av", "out", "fc1", "fc2"][(i - 1) % 6]
        rows = p if kind == "patch" else 1 if kind == "head" else t
        for op in ("a", "b"):
            o = site[op]
            if o["bits"] == 32:
                continue
            if op == "b" and lin is not None:
                n, k = lin.weight.shape
                gran = o["granularity"]
                per = n * k if gran == "tensor" else k if gran == "channel" else min(o["groupSize"], k)
                qs[(i, op)] = LsqQuantizer(o["bits"], o["symmetric"], gran, per, n, k, o.get("groupSize"))
            else:
                if op == "a":
                    per = rows * (lin.weight.shape[1] if lin is not None else hd if kind == "qk" else t) * (1 if lin is not None else heads)
                else:
                    per = heads * t * hd
                qs[(i, op)] = LsqQuantizer(o["bits"], o["symmetric"], "tensor", per)
    return qs


@torch.no_grad()
def calibrate(model, hook, quantizers, x):
    """Activation ranges from min/max of the FP32 model on x; weight ranges from the weights."""
    hook.observe = {}
    model(x, hook)
    obs, hook.observe = hook.observe, None
    for key, q in quantizers.items():
        lo, hi = obs[key]
        q.init_minmax(lo, hi)
