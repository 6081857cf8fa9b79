#!/usr/bin/python3
"""M2 of Kingma et al. 2014 in PyTorch: the reference that ssl-vae's M2 (lib/m2.c) is tested against.

The same networks, initialisation, loss, batches and optimiser as `ssl-vae train --model m2`, so that
the two can be trained on the same streams and their learning curves compared:

  q(y|x)    x -> hidden... -> K logits
  q(z|x,y)  [x, onehot y] -> hidden... -> [mu | logvar]   (y as a learned row added to the first layer)
  p(x|y,z)  [z, onehot y] -> hidden reversed... -> Bernoulli logits, or Gaussian [mean | logvar]
  L(x,y) = -log p(x|y,z) + beta KL(q(z|x,y) || N(0, I)) + log K       (one z draw)
  U(x)   = sum_y q(y|x) L(x,y) - H(q(y|x))                            (all K classes)

Each step takes --batch unlabelled rows and --labelled-batch labelled rows (default min(--batch,
labelled rows)), cycling through the reshuffled labelled set, as ssl-vae does. Weightings (--weighting):
  means  mean_lab L + mean_unl U + alpha N / N_lab * mean_lab[-log q(y|x)]
  rows   (sum_lab [L + alpha N / N_lab (-log q(y|x))] + sum_unl U) / (rows of the step): every row alike,
         Kingma's nips14-ssl (optim_vae_ss_adam) with --labelled-batch 1 and N_unl / 100 unlabelled rows
A stream with x_sd (ssl-vae encode --sd: M1's posterior sds) is sampled afresh each time a row is used.

Usage: reference/m2.py [options] TRAIN.ssl --val TEST.ssl [--log FILE]
Prints one JSON line per epoch (val_accuracy, the bounds, and how much the decoder uses y:
y_argmin = the fraction of validation rows whose L(x,y) is smallest at the true class)."""
import math

import torch
import torch.nn.functional as F

import common


def act_fn(name):
    return F.softplus if name == "softplus" else F.relu


class DNet(torch.nn.Module):
    """lib/dnet: dense layers, `act` between them, the last linear; a one-hot class input on the first
    layer as a learned row per class; Glorot-uniform weights (class inputs in the first fan-in), zero biases."""

    def __init__(self, dims, ncls, act, gen):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(i, o) for i, o in zip(dims, dims[1:]))
        for l, lin in enumerate(self.layers):
            common.glorot_(lin.weight, lin.in_features + (ncls if l == 0 else 0), lin.out_features, gen)
            torch.nn.init.zeros_(lin.bias)
        self.wy = None
        if ncls:
            self.wy = torch.nn.Parameter(torch.empty(ncls, dims[1]))
            common.glorot_(self.wy, dims[0] + ncls, dims[1], gen)
        self.act = act

    def forward(self, x, src=None, cls=None):
        h = self.layers[0](x)
        if src is not None:
            h = h[src]
        if cls is not None:
            h = h + self.wy[cls]
        for lin in self.layers[1:]:
            h = lin(self.act(h))
        return h


class M2(torch.nn.Module):
    def __init__(self, D, K, hidden, Z, act, lik, gen):
        super().__init__()
        a = act_fn(act)
        self.K, self.Z, self.lik = K, Z, lik
        self.cls = DNet([D] + hidden + [K], 0, a, gen)
        self.enc = DNet([D] + hidden + [2 * Z], K, a, gen)
        self.dec = DNet([Z] + hidden[::-1] + [D if lik == "bernoulli" else 2 * D], K, a, gen)

    def bound(self, x, src, ycls, beta, gen):
        """L(x[src[r]], ycls[r]) per expanded row r, with the KL weighted by beta."""
        h = self.enc(x, src, ycls)
        mu, lv = h[:, :self.Z], h[:, self.Z:].clamp(-15, 15)
        eps = torch.randn(mu.shape, generator=gen)
        z = mu + torch.exp(0.5 * lv) * eps
        o = self.dec(z, None, ycls)
        xr = x[src]
        if self.lik == "bernoulli":
            rec = F.binary_cross_entropy_with_logits(o, xr, reduction="none").sum(1)
        else:
            D = xr.shape[1]
            m, olv = o[:, :D], o[:, D:].clamp(-15, 15)
            rec = 0.5 * (math.log(2 * math.pi) + olv + (xr - m) ** 2 * torch.exp(-olv)).sum(1)
        kl = 0.5 * (mu * mu + lv.exp() - 1 - lv).sum(1)
        return rec, kl

    def losses(self, xl, yl, xu, beta, gen):
        """Per-row L of the labelled rows, U of the unlabelled ones (both KL-weighted by beta), -log q(y|x)
        of the labelled rows, and the unweighted bounds for the log."""
        nl, nu, K = len(xl), len(xu), self.K
        x = torch.cat([xl, xu])
        logq = F.log_softmax(self.cls(x), 1)
        src = torch.cat([torch.arange(nl), (nl + torch.arange(nu)).repeat_interleave(K)])
        ycls = torch.cat([yl, torch.arange(K).repeat(nu)])
        rec, kl = self.bound(x, src, ycls, beta, gen)
        return class_sum(rec, kl, beta, logq, yl, nl, nu, K)


def class_sum(rec, kl, beta, logq, yl, nl, nu, K):
    """From -log p(x|.) and the KL terms of the nl labelled rows and the nu x K class copies, and log q(y|.)
    of the nl + nu rows: m2.losses' values (L and U weighted by beta, their unweighted values for the log)."""
    Lb = rec + beta * kl + math.log(K)
    L1 = rec + kl + math.log(K)
    lq = logq[nl:]
    q = lq.exp()
    U = (q * (Lb[nl:].view(nu, K) + lq)).sum(1)
    U1 = (q * (L1[nl:].view(nu, K) + lq)).sum(1)
    xent = -logq[torch.arange(nl), yl]
    return Lb[:nl], U, xent, L1[:nl].detach(), U1.detach(), logq[:nl].detach()


def draw_labelled(state, n, gen):
    """The next n labelled row indices, reshuffling the labelled set each time it is used up."""
    out = []
    for _ in range(n):
        if state["pos"] == 0:
            state["order"] = state["lab"][torch.randperm(len(state["lab"]), generator=gen)]
        out.append(state["order"][state["pos"]])
        state["pos"] = (state["pos"] + 1) % len(state["lab"])
    return torch.stack(out)


def sample_rows(x, xsd, idx, gen):
    """Rows idx of x, or, when the stream carries x_sd (M1's posterior sds), x + x_sd * eps drawn afresh."""
    if xsd is None:
        return x[idx]
    return x[idx] + xsd[idx] * torch.randn(x[idx].shape, generator=gen)


def evaluate(model, x, y, gen, chunk=500):
    """q(y|x) accuracy, the mean unlabelled bound, and the share of rows whose L(x,y) is lowest at y."""
    K = model.K
    acc, elbo, argmin, n = 0.0, 0.0, 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            xb, yb = x[i:i + chunk], y[i:i + chunk]
            logq = F.log_softmax(model.cls(xb), 1)
            src = torch.arange(len(xb)).repeat_interleave(K)
            ycls = torch.arange(K).repeat(len(xb))
            rec, kl = model.bound(xb, src, ycls, 1.0, gen)
            L = (rec + kl + math.log(K)).view(-1, K)
            elbo -= float((logq.exp() * (L + logq)).sum())
            acc += float((logq.argmax(1) == yb).sum())
            argmin += float((L.argmin(1) == yb).sum())
            n += len(xb)
    return acc / n, elbo / n, argmin / n


def main():
    ap = common.parser(__doc__, epochs=10, batch=128, lr=1e-3)
    ap.add_argument("--hidden", default="500,500")
    ap.add_argument("--latent", type=int, default=50)
    ap.add_argument("--activation", default="softplus", choices=["softplus", "relu"])
    ap.add_argument("--likelihood", default="bernoulli", choices=["bernoulli", "gaussian"])
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--kl-warmup", type=int, default=0)
    ap.add_argument("--weighting", default="means", choices=["means", "rows"])
    ap.add_argument("--labelled-batch", type=int, default=0)
    a = ap.parse_args()
    gen = common.setup(a)
    x, y, K, xsd = common.load(a.train, with_sd=True)
    model = M2(x.shape[1], K, [int(h) for h in a.hidden.split(",")], a.latent, a.activation, a.likelihood, gen)
    train(model, a, x, y, xsd, lambda m, vx, vy: evaluate(m, vx, vy, gen), gen)


def train(model, a, x, y, xsd, evaluate_fn, gen, draw=sample_rows):
    """The epochs of M2 and of the models built on it (adgm.py): each step --batch unlabelled rows and
    --labelled-batch labelled ones (drawn by draw(x, xsd, idx, gen), the labelled ones shifted), the step loss
    of --weighting, Adam; each epoch's metrics and evaluate_fn(model, vx, vy) -> (val_accuracy, val_elbo,
    y_argmin) on --val logged."""
    vx, vy, _ = common.load(a.val)
    lab, unl = torch.nonzero(y >= 0).flatten(), torch.nonzero(y < 0).flatten()
    N, NL, NU = len(x), len(lab), len(unl)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    alpha = a.alpha * N / NL
    log = common.Log(a.log)
    state = {"lab": lab, "pos": 0, "order": None}
    for ep in range(1, a.epochs + 1):
        beta = ep / (a.kl_warmup + 1) if a.kl_warmup and ep <= a.kl_warmup else 1.0
        perm = unl[torch.randperm(NU, generator=gen)]
        bl = min(a.labelled_batch or a.batch, NL)
        steps = [(draw_labelled(state, bl, gen), perm[i:i + a.batch]) for i in range(0, NU, a.batch)]
        tot = {"lab": 0.0, "unl": 0.0, "xent": 0.0, "correct": 0.0, "nl": 0, "nu": 0}
        for li, ui in steps:
            xl, xu = draw(x, xsd, li, gen), draw(x, xsd, ui, gen)
            xl = common.shift_images(xl, a.shift, 28, 28, gen)
            Lb, U, xent, L1, U1, logql = model.losses(xl, y[li], xu, beta, gen)
            if getattr(a, "weighting", "means") == "means":
                loss = Lb.mean() + alpha * xent.mean() + U.mean()
            else:
                loss = (Lb.sum() + alpha * xent.sum() + U.sum()) / (len(li) + len(ui))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot["lab"] += float(L1.sum())
            tot["unl"] += float(U1.sum())
            tot["xent"] += float(xent.detach().sum())
            tot["correct"] += float((logql.argmax(1) == y[li]).sum())
            tot["nl"] += len(li)
            tot["nu"] += len(ui)
        acc, velbo, argmin = evaluate_fn(model, vx, vy)
        log.epoch(epoch=ep, unl_elbo=-tot["unl"] / tot["nu"], lab_elbo=-tot["lab"] / max(1, tot["nl"]),
                  xent=tot["xent"] / max(1, tot["nl"]), accuracy=tot["correct"] / max(1, tot["nl"]),
                  val_elbo=velbo, val_accuracy=acc, y_argmin=argmin)


if __name__ == "__main__":
    main()
