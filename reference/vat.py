#!/usr/bin/python3
"""Virtual adversarial training and entropy minimisation on an MLP, in PyTorch: the reference that
`ssl-fit train --vat EPS --entmin W` (lib/methods/mlp.c, lib/core/vat.c) is tested against.

The same network, initialisation, losses, batches and optimiser as ssl-fit:
  MLP   ReLU hidden layers (--hidden), softmax output, Glorot-uniform weights and biases
        (--batch-norm: batch normalisation before each ReLU, as Miyato et al.'s MNIST MLP; ssl-fit has none)
  loss  mean cross-entropy of a labelled batch (min(--batch, labelled rows), a reshuffled pass over the
        labelled rows per epoch) + alpha/2 ||W||^2 / batch rows
        + mean KL(p(x) || p(x + r_adv)) over --unlabelled-batch rows drawn at random from every row
          (r_adv = eps g/||g||, g the gradient of the KL at x + xi d, d random; p(x), r_adv held)
        + entmin * mean entropy of p(x) on those rows
  Adam at --lr, every epoch to the end (no early stop).
The adversarial passes use the batch's statistics and leave the running averages alone.

Usage: reference/vat.py [options] TRAIN.ssl --val TEST.ssl [--log FILE]
Prints one JSON line every --val-every epochs (val_accuracy)."""
import torch
import torch.nn.functional as F

import common


class MLP(torch.nn.Module):
    def __init__(self, sizes, batch_norm, gen):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.norms = torch.nn.ModuleList(torch.nn.BatchNorm1d(b) for b in sizes[1:-1]) if batch_norm else None
        for lin in self.layers:
            common.glorot_(lin.weight, lin.in_features, lin.out_features, gen)
            common.glorot_(lin.bias, lin.in_features, lin.out_features, gen)

    def forward(self, x, update_stats=True):
        for i, lin in enumerate(self.layers):
            x = lin(x)
            if i < len(self.layers) - 1:
                if self.norms is not None:
                    bn = self.norms[i]
                    if self.training and not update_stats:   # batch statistics, running averages untouched
                        x = F.batch_norm(x, None, None, bn.weight, bn.bias, True, 0.0, bn.eps)
                    else:
                        x = bn(x)
                x = F.relu(x)
        return x


def unit(d):
    d = d / d.abs().amax(1, keepdim=True).clamp_min(1e-30)
    return d / d.norm(dim=1, keepdim=True).clamp_min(1e-30)


def kl(p, logits):
    return (p * (torch.log(p.clamp_min(1e-30)) - F.log_softmax(logits, 1))).sum(1).mean()


def unlabelled_loss(net, x, a, gen):
    logits = net(x, update_stats=False)
    p = F.softmax(logits, 1).detach()
    loss = a.entmin * -(F.softmax(logits, 1) * F.log_softmax(logits, 1)).sum(1).mean() if a.entmin > 0 else 0.0
    if a.vat > 0:
        d = torch.randn(x.shape, generator=gen)
        for _ in range(a.vat_iterations):
            d = (a.vat_xi * unit(d)).requires_grad_(True)
            g, = torch.autograd.grad(kl(p, net(x + d, update_stats=False)), d)
            d = g.detach()
        loss = loss + kl(p, net(x + a.vat * unit(d), update_stats=False))
    return loss


def main():
    ap = common.parser(__doc__, epochs=2000, batch=200, lr=1e-3)
    ap.add_argument("--hidden", default="128,64")
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--vat", type=float, default=0.0)
    ap.add_argument("--vat-xi", type=float, default=1e-3)
    ap.add_argument("--vat-iterations", type=int, default=1)
    ap.add_argument("--entmin", type=float, default=0.0)
    ap.add_argument("--unlabelled-batch", type=int, default=0)
    ap.add_argument("--batch-norm", action="store_true")
    ap.add_argument("--val-every", type=int, default=100)
    a = ap.parse_args()
    gen = common.setup(a)
    x, y, K = common.load(a.train)
    vx, vy, _ = common.load(a.val)
    lab = torch.nonzero(y >= 0).flatten()
    B = min(a.batch, len(lab))
    U = min(a.unlabelled_batch or a.batch, len(x))
    net = MLP([x.shape[1]] + [int(h) for h in a.hidden.split(",")] + [K], a.batch_norm, gen)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    weights = [lin.weight for lin in net.layers]
    log = common.Log(a.log)
    for epoch in range(1, a.epochs + 1):
        net.train()
        order = lab[torch.randperm(len(lab), generator=gen)]
        for s in range(0, len(order), B):
            rows = order[s:s + B]
            loss = F.cross_entropy(net(x[rows]), y[rows])
            loss = loss + a.weight_decay / 2 * sum((w * w).sum() for w in weights) / len(rows)
            if a.vat > 0 or a.entmin > 0:
                loss = loss + unlabelled_loss(net, x[torch.randint(len(x), (U,), generator=gen)], a, gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % a.val_every == 0 or epoch == a.epochs:
            net.eval()
            with torch.no_grad():
                log.epoch(epoch=epoch, loss=float(loss), val_accuracy=common.accuracy(F.softmax(net(vx), 1), vy))


if __name__ == "__main__":
    main()
