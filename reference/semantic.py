#!/usr/bin/python3
"""The semantic loss's semi-supervised recipe (Xu et al., ICML 2018), in PyTorch: the published MLP
result the Fashion-MNIST comparison is measured against, checked on our streams.

As the authors' semi_supervised/semantic.py (UCLA-StarAI/Semantic-Loss):
  input  each image standardised on its own pixels; in training, Gaussian noise (--noise) and a random
         --crop x --crop window put back in the middle of a zero 28 x 28 image
  MLP    784-1000-500-250-250-250-K, ReLU, sigmoid outputs
  loss   sum over classes of the sigmoid cross-entropy on the labelled half of a batch, plus --weight
         times the semantic loss of "exactly one class" on every row,
         -log sum_i p_i prod_{j != i} (1 - p_j), averaged over the batch
  steps  --epochs steps of --batch rows (half labelled, half unlabelled), Adam at --lr
Unlike theirs, the initialisation is PyTorch's and the batches are drawn at random with replacement.

Usage: reference/semantic.py [options] TRAIN.ssl --val TEST.ssl [--log FILE]
Logs the test accuracy every --val-every steps; it is never used to choose anything."""
import torch
import torch.nn.functional as F

import common


def standardise(x):
    return (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True).clamp_min(1.0 / 28)


def augment(x, noise, crop, gen):
    """Noise, then a random crop x crop window of each 28 x 28 image centred in zeros."""
    n = len(x)
    x = (x + noise * torch.randn(x.shape, generator=gen)).view(n, 28, 28)
    off = torch.randint(0, 28 - crop + 1, (n, 2), generator=gen)
    rows = (off[:, 0, None] + torch.arange(crop))[:, :, None].expand(n, crop, crop)
    cols = (off[:, 1, None] + torch.arange(crop))[:, None, :].expand(n, crop, crop)
    out = torch.zeros(n, 28, 28)
    o = (28 - crop) // 2
    out[:, o:o + crop, o:o + crop] = x[torch.arange(n)[:, None, None], rows, cols]
    return out.view(n, 784)


def semantic_loss(logits):
    """-log P(exactly one output is on), the outputs independent Bernoullis of probability sigmoid."""
    log_on, log_off = F.logsigmoid(logits), F.logsigmoid(-logits)
    return -torch.logsumexp(log_on - log_off + log_off.sum(1, keepdim=True), 1)


def main():
    ap = common.parser(__doc__, epochs=50000, batch=32, lr=1e-4)
    ap.add_argument("--hidden", default="1000,500,250,250,250")
    ap.add_argument("--noise", type=float, default=0.3)
    ap.add_argument("--crop", type=int, default=25)
    ap.add_argument("--weight", type=float, default=0.0005)
    ap.add_argument("--val-every", type=int, default=2500)
    a = ap.parse_args()
    gen = common.setup(a)
    x, y, K = common.load(a.train)
    xv, yv, _ = common.load(a.val)
    x, xv = standardise(x), standardise(xv)
    lab, unl = (y >= 0).nonzero().squeeze(1), (y < 0).nonzero().squeeze(1)
    sizes = [x.shape[1]] + [int(h) for h in a.hidden.split(",")]
    layers = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(i, o), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], K))
    opt = torch.optim.Adam(net.parameters(), a.lr)
    log = common.Log(a.log)
    half = a.batch // 2
    for step in range(1, a.epochs + 1):
        li = lab[torch.randint(0, len(lab), (half,), generator=gen)]
        ui = unl[torch.randint(0, len(unl), (a.batch - half,), generator=gen)]
        logits = net(augment(torch.cat([x[li], x[ui]]), a.noise, a.crop, gen))
        xent = F.binary_cross_entropy_with_logits(logits[:half], F.one_hot(y[li], K).float(), reduction="none")
        loss = xent.sum(1).sum() / a.batch + a.weight * semantic_loss(logits).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % a.val_every == 0 or step == a.epochs:
            with torch.no_grad():
                log.epoch(epoch=step, xent=float(xent.sum(1).mean()), val_accuracy=common.accuracy(net(xv), yv))


if __name__ == "__main__":
    main()
