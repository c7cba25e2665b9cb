"""The playground's ViT in PyTorch — the one definition that training, export and the
PyTorch quantization reference share. Layout must match src/forward/vitRef.ts exactly.

Sites (science.md §6): 0 patch embedding; block b: 1+6b to_qkv, 2+6b q·kᵀ, 3+6b attn·v,
4+6b to_out, 5+6b fc1, 6+6b fc2; 37 head.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def patchify(x, patch):
    """[B,3,32,32] → [B, P, 3·patch·patch], patch vector order (c, py, px), patches row-major."""
    b, c, h, w = x.shape
    g = h // patch
    x = x.reshape(b, c, g, patch, g, patch)  # b c gy py gx px
    x = x.permute(0, 2, 4, 1, 3, 5)  # b gy gx c py px
    return x.reshape(b, g * g, c * patch * patch)


class Identity:
    """Default site hook: a plain matmul. The quantization reference replaces it."""

    def linear(self, site, x, lin):
        return F.linear(x, lin.weight, lin.bias)

    def matmul(self, site, a, b):
        return torch.matmul(a, b)


class Block(nn.Module):
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim, eps=1e-5)
        self.to_qkv = nn.Linear(dim, 3 * dim)
        self.to_out = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim, eps=1e-5)
        self.fc1 = nn.Linear(dim, mlp)
        self.fc2 = nn.Linear(mlp, dim)

    def forward(self, x, hook, base):
        b, t, d = x.shape
        hd = d // self.heads
        y = self.ln1(x)
        qkv = hook.linear(base + 0, y, self.to_qkv)  # [b,t,3d]
        q, k, v = qkv.split(d, dim=-1)
        q = q.reshape(b, t, self.heads, hd).transpose(1, 2)
        k = k.reshape(b, t, self.heads, hd).transpose(1, 2)
        v = v.reshape(b, t, self.heads, hd).transpose(1, 2)
        scores = hook.matmul(base + 1, q, k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
        attn = scores.softmax(dim=-1)
        o = hook.matmul(base + 2, attn, v)  # [b,h,t,hd]
        o = o.transpose(1, 2).reshape(b, t, d)
        x = x + hook.linear(base + 3, o, self.to_out)
        y = self.ln2(x)
        y = hook.linear(base + 4, y, self.fc1)
        y = F.gelu(y, approximate="tanh")
        x = x + hook.linear(base + 5, y, self.fc2)
        return x


class ViT(nn.Module):
    def __init__(self, dim=128, depth=6, heads=4, mlp=256, patch=4, classes=10, image=32):
        super().__init__()
        self.cfg = dict(dim=dim, depth=depth, heads=heads, mlp=mlp, patch=patch, classes=classes, image=image)
        self.patch = patch
        n = (image // patch) ** 2
        self.patch_embed = nn.Linear(3 * patch * patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(dim))
        self.pos_embed = nn.Parameter(torch.randn(n + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-5)
        self.head = nn.Linear(dim, classes)
        self.register_buffer("mean", torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(CIFAR_STD).view(1, 3, 1, 1))

    def forward(self, x, hook=None):
        """x: [B,3,32,32] floats in [0,1]."""
        hook = hook or Identity()
        x = (x - self.mean) / self.std
        p = patchify(x, self.patch)
        x = hook.linear(0, p, self.patch_embed)
        b = x.shape[0]
        x = torch.cat([self.cls_token.view(1, 1, -1).expand(b, 1, -1), x], dim=1) + self.pos_embed
        for i, blk in enumerate(self.blocks):
            x = blk(x, hook, 1 + 6 * i)
        y = self.norm(x[:, 0:1])
        return hook.linear(37, y, self.head)[:, 0]


def tensor_dict(model):
    """Flat name → tensor map, the names of model.safetensors."""
    sd = model.state_dict()
    return {k: v.detach().float().contiguous() for k, v in sd.items() if k not in ("mean", "std")}
