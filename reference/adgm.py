#!/usr/bin/python3
"""Auxiliary deep generative models (ADGM, SDGM) of Maaloe et al. 2016 in PyTorch: the reference that
`ssl-vae train --model adgm|sdgm` is tested against.

M2 (reference/m2.py) with an auxiliary variable a, drawn once per input row and shared by that row's
K class copies; the networks, initialisation, batches and optimiser are m2.py's (DNet, draw_labelled):

  q(a|x)      x -> hidden... -> [mu_a | logvar_a]
  q(y|a,x)    [x, a] -> hidden... -> K logits
  q(z|a,x,y)  [x, a, onehot y] -> hidden... -> [mu_z | logvar_z]
  ADGM  p(a|x,y,z)  [x, z, onehot y] -> hidden reversed... -> [mu | logvar]
        p(x|y,z)    [z, onehot y] -> hidden reversed... -> Bernoulli logits, or Gaussian [mean | logvar]
  SDGM  p(a|y,z)    [z, onehot y] -> hidden reversed... -> [mu | logvar]
        p(x|a,y,z)  [z, a, onehot y] -> hidden reversed... -> Bernoulli logits, or Gaussian [mean | logvar]
  L(x,y) = -log p(x|.) + beta [KL(q(z|.) || N(0, I)) + log q(a|x) - log p(a|.)] + log K  (one a, one z)
  U(x)   = sum_y q(y|a,x) L(x,y) - H(q(y|a,x))                                      (all K classes)
  loss   = mean_lab L + alpha N / N_lab * mean_lab[-log q(y|a,x)] + mean_unl U        (m2.py's "means")

Each step takes --batch unlabelled rows and --labelled-batch labelled rows (default min(--batch, labelled
rows)); labelled rows are shifted by up to --shift pixels. --binarise replaces every row drawn for a step
by a Bernoulli sample with p = x (before the shift), as the authors' code does. All log-variances are
clamped to [-15, 15]. The classifier is evaluated as q(y|x) = mean over --samples draws a ~ q(a|x) of
q(y|a,x).

Usage: reference/adgm.py [--model adgm|sdgm] [options] TRAIN.ssl --val TEST.ssl [--log FILE]
Prints one JSON line per epoch, with m2.py's keys (val_elbo and y_argmin from one draw of a and z)."""
import math

import torch
import torch.nn.functional as F

import common
from m2 import DNet, act_fn, class_sum, sample_rows, train

LOG2PI = math.log(2 * math.pi)


def gauss(h, n):
    """[mu | logvar] of an (r, 2n) output, the log-variance clamped to [-15, 15]."""
    return h[:, :n], h[:, n:].clamp(-15, 15)


class AuxDGM(torch.nn.Module):
    def __init__(self, D, K, hidden, A, Z, act, lik, sdgm, gen):
        super().__init__()
        f, rev = act_fn(act), hidden[::-1]
        self.K, self.A, self.Z, self.lik, self.sdgm = K, A, Z, lik, sdgm
        out = D if lik == "bernoulli" else 2 * D
        self.qa = DNet([D] + hidden + [2 * A], 0, f, gen)
        self.cls = DNet([D + A] + hidden + [K], 0, f, gen)
        self.enc = DNet([D + A] + hidden + [2 * Z], K, f, gen)
        if sdgm:
            self.pa = DNet([Z] + rev + [2 * A], K, f, gen)
            self.dec = DNet([Z + A] + rev + [out], K, f, gen)
        else:
            self.pa = DNet([D + Z] + rev + [2 * A], K, f, gen)
            self.dec = DNet([Z] + rev + [out], K, f, gen)

    def aux(self, x, gen):
        """One draw a ~ q(a|x) per row, and log q(a|x) at it."""
        mu, lv = gauss(self.qa(x), self.A)
        eps = torch.randn(mu.shape, generator=gen)
        return mu + torch.exp(0.5 * lv) * eps, -0.5 * (LOG2PI + lv + eps * eps).sum(1)

    def log_qy(self, x, a):
        return F.log_softmax(self.cls(torch.cat([x, a], 1)), 1)

    def bound(self, x, a, logqa, src, ycls, gen):
        """-log p(x|.), KL_z and log q(a|x) - log p(a|.) of (x[src[r]], ycls[r]) per expanded row r."""
        xa = torch.cat([x, a], 1)
        mu, lv = gauss(self.enc(xa, src, ycls), self.Z)
        z = mu + torch.exp(0.5 * lv) * torch.randn(mu.shape, generator=gen)
        xr, ar = x[src], a[src]
        if self.sdgm:
            pa_in, dec_in = z, torch.cat([z, ar], 1)
        else:
            pa_in, dec_in = torch.cat([xr, z], 1), z
        mup, lvp = gauss(self.pa(pa_in, None, ycls), self.A)
        nlogpa = 0.5 * (LOG2PI + lvp + (ar - mup) ** 2 * torch.exp(-lvp)).sum(1)
        o = self.dec(dec_in, None, ycls)
        if self.lik == "bernoulli":
            rec = F.binary_cross_entropy_with_logits(o, xr, reduction="none").sum(1)
        else:
            m, olv = gauss(o, xr.shape[1])
            rec = 0.5 * (LOG2PI + olv + (xr - m) ** 2 * torch.exp(-olv)).sum(1)
        klz = 0.5 * (mu * mu + lv.exp() - 1 - lv).sum(1)
        return rec, klz, logqa[src] + nlogpa

    def losses(self, xl, yl, xu, beta, gen):
        """Per-row L of the labelled rows, U of the unlabelled ones (both KL-weighted by beta), -log q(y|a,x)
        of the labelled rows, and the unweighted bounds and labelled log q(y|a,x) for the log."""
        nl, nu, K = len(xl), len(xu), self.K
        x = torch.cat([xl, xu])
        a, logqa = self.aux(x, gen)
        logq = self.log_qy(x, a)
        src = torch.cat([torch.arange(nl), (nl + torch.arange(nu)).repeat_interleave(K)])
        ycls = torch.cat([yl, torch.arange(K).repeat(nu)])
        rec, klz, kla = self.bound(x, a, logqa, src, ycls, gen)
        return class_sum(rec, klz + kla, beta, logq, yl, nl, nu, K)


def evaluate(model, x, y, S, gen, chunk=500):
    """Accuracy of q(y|x) = mean over S draws of a of q(y|a,x); the unlabelled bound and the share of rows
    whose L(x,y) is lowest at y, from one draw."""
    K = model.K
    acc, elbo, argmin, n = 0.0, 0.0, 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            xb, yb = x[i:i + chunk], y[i:i + chunk]
            p = sum(model.log_qy(xb, model.aux(xb, gen)[0]).exp() for _ in range(S)) / S
            a, logqa = model.aux(xb, gen)
            logq = model.log_qy(xb, a)
            src = torch.arange(len(xb)).repeat_interleave(K)
            ycls = torch.arange(K).repeat(len(xb))
            rec, klz, kla = model.bound(xb, a, logqa, src, ycls, gen)
            L = (rec + klz + kla + math.log(K)).view(-1, K)
            elbo -= float((logq.exp() * (L + logq)).sum())
            acc += float((p.argmax(1) == yb).sum())
            argmin += float((L.argmin(1) == yb).sum())
            n += len(xb)
    return acc / n, elbo / n, argmin / n


def draw(x, xsd, idx, binarise, gen):
    """Rows idx (m2.py's sample_rows), replaced by a Bernoulli sample with p = x under --binarise."""
    r = sample_rows(x, xsd, idx, gen)
    return torch.bernoulli(r.clamp(0, 1), generator=gen) if binarise else r


def arguments():
    ap = common.parser(__doc__, epochs=10, batch=100, lr=3e-4)
    ap.add_argument("--hidden", default="500,500")
    ap.add_argument("--latent", type=int, default=100)
    ap.add_argument("--aux", type=int, default=100)
    ap.add_argument("--activation", default="relu", choices=["softplus", "relu"])
    ap.add_argument("--likelihood", default="bernoulli", choices=["bernoulli", "gaussian"])
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--kl-warmup", type=int, default=0)
    ap.add_argument("--labelled-batch", type=int, default=0)
    ap.add_argument("--binarise", action="store_true")
    ap.add_argument("--samples", type=int, default=10, help="draws of a averaged by the evaluation")
    a = ap.parse_args()
    a.model = a.model or "adgm"
    if a.model not in ("adgm", "sdgm"):
        ap.error("--model must be adgm or sdgm")
    return a


def main():
    a = arguments()
    gen = common.setup(a)
    x, y, K, xsd = common.load(a.train, with_sd=True)
    model = AuxDGM(x.shape[1], K, [int(h) for h in a.hidden.split(",")], a.aux, a.latent, a.activation,
                   a.likelihood, a.model == "sdgm", gen)
    train(model, a, x, y, xsd, lambda m, vx, vy: evaluate(m, vx, vy, a.samples, gen), gen,
          lambda x, xsd, idx, gen: draw(x, xsd, idx, a.binarise, gen))

if __name__ == "__main__":
    main()
