"""Tiny stand-ins for the PyTorch port's (rovafifaliana/AFiLM, "PT") AFiLMNet and TFiLMNet.

Same module tree, hence the same state_dict key names, order and layouts as the port
(shared/spec/afilm_port_state_dict.tsv), but with configurable widths, kernels, encoder depth and
feed-forward width (the port hard-codes 128..512 filters, 4 encoder layers and ff 2048). The
forward pass follows the port's semantics as MODELS.md 1-4 and 8.1 describe them:

  * channels-last activations, nn.Conv1d(padding='same', dilation=2) around transposes, the output
    conv with padding 4 and dilation 1;
  * PT FiLM block sizes: max(1, min(steps, 128 / 2^l)) at every level, the up block at level l
    equal to the down block at level l;
  * PT SubPixel1D: view (B, W, C/2, 2) -> permute -> (B, C/2, 2W) -> permute (interleaved order);
  * AFiLM transformer: z = p * sqrt(d) + pos_encoding[:, :N] (a registered buffer computed like the
    port's numpy positional_encoding), post-LN encoder layers, MHSA with 8 heads split by
    view(B, N, heads, d/heads), LayerNorm eps 1e-6, ReLU feed-forward;
  * TFiLM: nn.LSTM(C, C, batch_first=True) over the block-max-pooled sequence.

It is written independently of tests/model/reference_net.py (which reads our canonical layout),
so agreement between the two cross-checks both. `variant` switches exist only to measure how much
a spec mix-up would move the output (test discrimination); the defaults are the port's semantics.
"""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def pt_positional_encoding(position, d_model):
    """The port's layers/transformer.py formula (numpy float64, then float32), shape (1, P, d)."""
    pos = np.arange(position)[:, np.newaxis]
    i = np.arange(d_model)[np.newaxis, :]
    angle_rads = pos * (1 / np.power(10000, (2 * (i // 2)) / np.float32(d_model)))
    angle_rads[:, 0::2] = np.sin(angle_rads[:, 0::2])
    angle_rads[:, 1::2] = np.cos(angle_rads[:, 1::2])
    return torch.tensor(angle_rads[np.newaxis, ...], dtype=torch.float32)


def subpixel_pt(x):
    """(B, W, C) -> (B, 2W, C/2), the port's SubPixel1D with r = 2."""
    b, w, c = x.shape
    y = x.view(b, w, c // 2, 2).permute(0, 2, 1, 3).contiguous().view(b, c // 2, w * 2)
    return y.permute(0, 2, 1)


def subpixel_tf(x):
    """TF order (variant only): first half of the channels -> even positions."""
    b, w, c = x.shape
    return x.reshape(b, w, 2, c // 2).reshape(b, 2 * w, c // 2)


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.d, self.heads = d, heads
        self.query_dense = nn.Linear(d, d)
        self.key_dense = nn.Linear(d, d)
        self.value_dense = nn.Linear(d, d)
        self.combine_heads = nn.Linear(d, d)

    def forward(self, x, heads=None):
        heads = heads or self.heads
        b, n, d = x.shape
        dh = d // heads

        def split(t):
            return t.view(b, n, heads, dh).permute(0, 2, 1, 3)

        q, k, v = split(self.query_dense(x)), split(self.key_dense(x)), split(self.value_dense(x))
        w = F.softmax(torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(dh), dim=-1)
        out = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous().view(b, n, d)
        return self.combine_heads(out)


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, ff):
        super().__init__()
        self.att = MultiHeadSelfAttention(d, heads)
        self.dense1 = nn.Linear(d, ff)
        self.dense2 = nn.Linear(ff, d)
        self.layernorm1 = nn.LayerNorm(d, eps=1e-6)
        self.layernorm2 = nn.LayerNorm(d, eps=1e-6)
        self.dropout1 = nn.Dropout(0.1)
        self.dropout2 = nn.Dropout(0.1)

    def forward(self, x, heads=None):
        out1 = self.layernorm1(x + self.dropout1(self.att(x, heads)))
        f = self.dropout2(self.dense2(F.relu(self.dense1(out1))))
        return self.layernorm2(out1 + f)


class TransformerBlock(nn.Module):
    def __init__(self, num_layers, d, max_len, heads, ff):
        super().__init__()
        self.d = d
        self.register_buffer("pos_encoding", pt_positional_encoding(max_len, d))
        self.enc_layers = nn.ModuleList([EncoderLayer(d, heads, ff) for _ in range(num_layers)])
        self.dropout = nn.Dropout(0.1)

    def forward(self, x, heads=None):
        n = x.size(1)
        pe = self.pos_encoding if n <= self.pos_encoding.shape[1] else \
            pt_positional_encoding(n, self.d)       # only for the block-size variant
        x = self.dropout(x * math.sqrt(self.d) + pe[:, :n, :].to(x.dtype))
        for layer in self.enc_layers:
            x = layer(x, heads)
        return x


def modulate(x, m, block):
    b, steps, c = x.shape
    n = steps // block
    return (x.view(b, n, block, c) * m.view(b, n, 1, c)).view(b, steps, c)


class AFiLM(nn.Module):
    def __init__(self, n_step, block, d, num_layers, heads, ff):
        super().__init__()
        self.block = block
        self.transformer = TransformerBlock(num_layers, d, n_step // block, heads, ff)

    def forward(self, x, heads=None, block=None):
        block = block or self.block
        pooled = F.max_pool1d(x.transpose(1, 2), kernel_size=block).transpose(1, 2)
        return modulate(x, self.transformer(pooled, heads), block)


class TFiLM(nn.Module):
    def __init__(self, n_step, block, d):
        super().__init__()
        self.block = block
        self.rnn = nn.LSTM(input_size=d, hidden_size=d, batch_first=True)

    def forward(self, x, heads=None, block=None):
        block = block or self.block
        pooled = F.max_pool1d(x.transpose(1, 2), kernel_size=block).transpose(1, 2)
        h, _ = self.rnn(pooled)
        return modulate(x, h, block)


def pt_blocks(layers, input_length, base=128):
    """PT block sizes: (down[l] = up[l], bottleneck), and steps per level."""
    steps = [input_length >> (l + 1) for l in range(layers)]
    down = [max(1, min(steps[l], base >> l)) for l in range(layers)]
    bsteps = input_length >> (layers + 1)
    return down, max(1, min(bsteps, base >> layers)), steps, bsteps


class TinyPTNet(nn.Module):
    """kind 'afilm' -> AFiLMNet key layout (convs first, then afilm_down, bottleneck_afilm,
    afilm_up; MODELS.md 8.1); kind 'tfilm' -> TFiLMNet layout (down_blocks, tfilm_down,
    bottleneck_conv, bottleneck_tfilm, up_blocks, tfilm_up, out_conv), with the port's up/out conv
    channel bug fixed (otherwise it cannot run: MODELS.md 3)."""

    def __init__(self, kind, filters, kernels, bottleneck_filters, bottleneck_kernel,
                 input_length, enc_layers=2, ff_dim=32, heads=8):
        super().__init__()
        self.kind, self.input_length = kind, input_length
        layers = self.layers = len(filters)
        down_b, bott_b, steps, bsteps = pt_blocks(layers, input_length)
        self.blocks = (down_b, bott_b)

        def conv(cin, cout, k):
            return nn.Conv1d(cin, cout, kernel_size=k, dilation=2, padding="same")

        def film(n_step, block, d):
            if kind == "afilm":
                return AFiLM(n_step, block, d, enc_layers, heads, ff_dim)
            return TFiLM(n_step, block, d)

        down_convs = nn.ModuleList(
            [conv(1 if l == 0 else filters[l - 1], filters[l], kernels[l]) for l in range(layers)])
        down_films = nn.ModuleList([film(steps[l], down_b[l], filters[l]) for l in range(layers)])
        bconv = conv(filters[-1], bottleneck_filters, bottleneck_kernel)
        bfilm = film(bsteps, bott_b, bottleneck_filters)
        up_convs, up_films = nn.ModuleList(), nn.ModuleList()
        for l in reversed(range(layers)):
            cin = bottleneck_filters if l == layers - 1 else 2 * filters[l + 1]
            up_convs.append(conv(cin, 2 * filters[l], kernels[l]))
            up_films.append(film(steps[l], down_b[l], filters[l]))
        out_conv = nn.Conv1d(2 * filters[0], 2, kernel_size=9, padding=4)
        if kind == "afilm":   # registration order = state_dict order of AFiLMNet
            self.down_blocks, self.bottleneck_conv = down_convs, bconv
            self.up_blocks, self.out_conv = up_convs, out_conv
            self.afilm_down, self.bottleneck_afilm, self.afilm_up = down_films, bfilm, up_films
        else:                 # TFiLMNet order
            self.down_blocks, self.tfilm_down = down_convs, down_films
            self.bottleneck_conv, self.bottleneck_tfilm = bconv, bfilm
            self.up_blocks, self.tfilm_up = up_convs, up_films
            self.out_conv = out_conv

    def films(self):
        if self.kind == "afilm":
            return self.afilm_down, self.bottleneck_afilm, self.afilm_up
        return self.tfilm_down, self.bottleneck_tfilm, self.tfilm_up

    def forward(self, x, variant=None, trace=None):
        """x (B, L) -> (B, L). variant: {'subpixel': 'tf'} / {'heads': n} / {'up_block': 'tf'}."""
        variant = variant or {}
        if x.shape[1] != self.input_length:
            raise ValueError("the port's network only runs at its input_length %d"
                             % self.input_length)
        sub = subpixel_tf if variant.get("subpixel") == "tf" else subpixel_pt
        heads = variant.get("heads")
        fdown, fb, fup = self.films()
        inp = x.unsqueeze(-1)
        out, skips = inp, []
        for conv, film in zip(self.down_blocks, fdown):
            out = conv(out.transpose(1, 2)).transpose(1, 2)
            if trace is not None:
                trace.append(out)
            out = F.max_pool1d(out.transpose(1, 2), 2).transpose(1, 2)
            out = film(F.leaky_relu(out, 0.2), heads)
            skips.append(out)
        out = self.bottleneck_conv(out.transpose(1, 2)).transpose(1, 2)
        if trace is not None:
            trace.append(out)
        out = F.max_pool1d(out.transpose(1, 2), 2).transpose(1, 2)
        out = fb(F.dropout(F.leaky_relu(out, 0.2), 0.5, training=self.training), heads)
        for conv, film, skip in zip(self.up_blocks, fup, reversed(skips)):
            out = conv(out.transpose(1, 2)).transpose(1, 2)
            if trace is not None:
                trace.append(out)
            out = sub(F.relu(F.dropout(out, 0.5, training=self.training)))
            block = self.blocks[1] if variant.get("up_block") == "tf" else None
            out = torch.cat([film(out, heads, block), skip], dim=-1)
        out = self.out_conv(out.transpose(1, 2)).transpose(1, 2)
        if trace is not None:
            trace.append(out)
        return (subpixel_pt(out) + inp).squeeze(-1)

    def convs(self):
        return list(self.down_blocks) + [self.bottleneck_conv] + list(self.up_blocks) + \
            [self.out_conv]


def calibrate(net, x):
    """Rescale conv weights in execution order so hidden conv outputs have RMS ~1 and the output
    conv RMS ~ RMS(x): net(x) then matters as much as the residual x (a test that only saw x
    would prove nothing). Also sharpen the attention so that it is neither uniform nor one-hot."""
    target_final = float(x.pow(2).mean().sqrt())
    convs = net.convs()
    with torch.no_grad():
        if net.kind == "afilm":
            for film in list(net.afilm_down) + [net.bottleneck_afilm] + list(net.afilm_up):
                for j, layer in enumerate(film.transformer.enc_layers):
                    layer.att.query_dense.weight.mul_(0.5 if j == 0 else 3.0)
        for i, conv in enumerate(convs):
            trace = []
            net(x, trace=trace)
            rms = float(trace[i].pow(2).mean().sqrt())
            scale = (target_final if i == len(convs) - 1 else 1.0) / rms
            conv.weight.mul_(scale)
            conv.bias.mul_(scale)
    return net
