#!/usr/bin/python3
"""FixMatch (Sohn et al. 2020) on ssl-fit's convolutional net, in PyTorch: the reference that
`ssl-fit train --conv 32:5:2,64:3:2 --hidden 128,64 --batch-norm --fixmatch W` (lib/core/vat.c) is
checked against.

  net    conv 32 5x5 stride 2, conv 64 3x3 stride 2 (zero padding (k-1)/2), dense 128, 64, K; batch
         norm before every ReLU; PyTorch's initialisation
  views  weak: moved by up to --shift pixels (zero fill), mirrored with probability 1/2 (--flip);
         strong: another weak view, a --cutout square set to 0 (its centre anywhere), the contrast
         scaled by [1 - j, 1 + j] and the brightness moved by up to 0.3 j, clipped to [0, 1]
         (j = --jitter; pixels in [0, 1])
  loss   cross-entropy of every labelled row's weak view + W mean over --unlabelled-batch random rows
         of [max p(weak) >= --threshold] CE(argmax p(weak), p(strong)), p(weak) held
  steps  --epochs steps, Adam at --lr falling linearly to 0
--joint-bn computes batch norm over the labelled and strong rows together and lets the unlabelled
passes move the running averages (the paper's code); without it, as ssl-fit, the unlabelled passes
use their own batch's statistics and leave the running averages to the labelled pass.

Usage: reference/fixmatch.py [options] TRAIN.ssl --val TEST.ssl [--log FILE]
Logs the test accuracy every --val-every steps; it is never used to choose anything."""
import torch
import torch.nn.functional as F

import common


def net(K):
    nn = torch.nn
    return nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 32, 5, 2, 2), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, 2, 1), nn.BatchNorm2d(64), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3136, 128), nn.BatchNorm1d(128), nn.ReLU(),
                         nn.Linear(128, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, K))


def weak(x, a, gen):
    n, s = len(x), a.shift
    pad = F.pad(x.view(n, 28, 28), (s, s, s, s))
    d = torch.randint(0, 2 * s + 1, (n, 2), generator=gen)
    rows = (d[:, 0, None] + torch.arange(28))[:, :, None].expand(n, 28, 28)
    cols = (d[:, 1, None] + torch.arange(28))[:, None, :].expand(n, 28, 28)
    out = pad[torch.arange(n)[:, None, None], rows, cols]
    if a.flip:
        m = torch.rand(n, generator=gen) < 0.5
        out[m] = out[m].flip(2)
    return out.reshape(n, 784)


def strong(x, a, gen):
    n = len(x)
    out = weak(x, a, gen).view(n, 28, 28).clone()
    if a.cutout > 0:
        c = torch.randint(0, 28, (n, 2), generator=gen)
        y0, x0 = (c[:, 0] - a.cutout // 2)[:, None, None], (c[:, 1] - a.cutout // 2)[:, None, None]
        yy, xx = torch.arange(28)[None, :, None], torch.arange(28)[None, None, :]
        out[(yy >= y0) & (yy < y0 + a.cutout) & (xx >= x0) & (xx < x0 + a.cutout)] = 0
    out = out.view(n, 784)
    if a.jitter > 0:
        scale = 1 + a.jitter * (2 * torch.rand(n, 1, generator=gen) - 1)
        shift = 0.3 * a.jitter * (2 * torch.rand(n, 1, generator=gen) - 1)
        out = (out * scale + shift).clamp(0, 1)
    return out


def set_momentum(model, m):
    for layer in model.modules():
        if isinstance(layer, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            layer.momentum = m


def step_loss(model, x, y, lab, unl, a, gen):
    xl = weak(x[lab], a, gen)
    ui = unl[torch.randint(0, len(unl), (a.unlabelled_batch,), generator=gen)]
    if not a.joint_bn:
        set_momentum(model, 0.0)   # the unlabelled passes leave the running averages alone
    with torch.no_grad():
        conf, pseudo = F.softmax(model(weak(x[ui], a, gen)), 1).max(1)
    mask = (conf >= a.threshold).float()
    xs = strong(x[ui], a, gen)
    if a.joint_bn:
        logits = model(torch.cat([xl, xs]))
        ll, ls = logits[:len(lab)], logits[len(lab):]
    else:
        ls = model(xs)
        set_momentum(model, 0.1)
        ll = model(xl)
    unl_loss = (F.cross_entropy(ls, pseudo, reduction="none") * mask).mean()
    return F.cross_entropy(ll, y[lab]) + a.fixmatch * unl_loss, float(mask.mean())


def main():
    ap = common.parser(__doc__, epochs=3000, batch=100, lr=0.002)
    ap.add_argument("--fixmatch", type=float, default=1.0)
    ap.add_argument("--threshold", type=float, default=0.95)
    ap.add_argument("--unlabelled-batch", type=int, default=250)
    ap.add_argument("--cutout", type=int, default=14)
    ap.add_argument("--jitter", type=float, default=0.5)
    ap.add_argument("--flip", action="store_true")
    ap.add_argument("--joint-bn", action="store_true")
    ap.add_argument("--val-every", type=int, default=250)
    a = ap.parse_args()
    gen = common.setup(a)
    x, y, K = common.load(a.train)
    xv, yv, _ = common.load(a.val)
    lab, unl = (y >= 0).nonzero().squeeze(1), (y < 0).nonzero().squeeze(1)
    model = net(K)
    opt = torch.optim.Adam(model.parameters(), a.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - s / a.epochs)
    log = common.Log(a.log)
    for step in range(1, a.epochs + 1):
        model.train()
        loss, confident = step_loss(model, x, y, lab, unl, a, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % a.val_every == 0 or step == a.epochs:
            model.eval()
            with torch.no_grad():
                acc = common.accuracy(model(xv), yv)
            log.epoch(epoch=step, loss=float(loss), confident=confident, val_accuracy=acc)


if __name__ == "__main__":
    main()
