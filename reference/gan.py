#!/usr/bin/python3
"""The semi-supervised GAN of Salimans et al. 2016 (feature matching, MNIST) in PyTorch: the reference that
ssl-gan (lib/gan.c) is tested against. It follows the authors' code (openai/improved-gan,
mnist_svhn_cifar10/train_mnist_feature_matching.py and nn.py):

  D  Gaussian noise (0.3) on x; dense 1000-500-250-250-250 ReLU, each weight-normalised and followed by
     noise (0.5); 10 logits (weight-normalised, trained scale). Weight norm: W = g v / ||v|| per unit,
     v ~ N(0, 0.1^2); data-dependent init on 500 training rows (noise on) as ssl-gan does it: the biases
     centre each layer's pre-activations, the output's scale gives its logits sd 1; the hidden layers' g
     stay 1, the output's is trained. (--authors-init: the authors' code also scales each hidden layer's
     g to unit sd; fixed afterwards all the same.)
  G  z ~ U(0,1)^100; dense 500 + batch norm (shift, no scale) + softplus, twice; dense 784 with a trained
     weight-norm scale and sigmoid. Glorot-uniform weights.
  step  D on 100 labelled rows (each batch one permutation of the labelled set, repeated; --shift moves
     them by up to N pixels), 100 unlabelled (every training row counts as one) and 100 generated:
     loss_lab = mean(LSE(l) - l_y), loss_unl = -0.5 mean LSE(l_unl) + 0.5 mean softplus(LSE(l_unl))
     + 0.5 mean softplus(LSE(l_fake)); then G on feature matching of the last hidden layer's batch means
     against another 100 unlabelled rows. Adam (lr 0.003, beta1 0.5, the authors' epsilon inside the
     square root). With --ema D, prediction by ssl-gan's average of D's weights (decay min(D, (1 + t) /
     (10 + t)) at step t; the authors used 1e-4 steps from zero), without noise.

Usage: reference/gan.py TRAIN.ssl --val TEST.ssl [--epochs N] [--log FILE]
One JSON line per epoch (val_accuracy with the averaged weights, val_accuracy_last with the last ones)."""

import torch
import torch.nn.functional as F

import common


class WNDense(torch.nn.Module):
    def __init__(self, i, o, train_g, gen):
        super().__init__()
        self.v = torch.nn.Parameter(torch.randn(o, i, generator=gen) * 0.1)
        self.g = torch.nn.Parameter(torch.ones(o), requires_grad=train_g)
        self.b = torch.nn.Parameter(torch.zeros(o))

    def weight(self):
        return self.v * (self.g / self.v.norm(dim=1))[:, None]

    def forward(self, h, init=None):
        """init: None, or "centre" (bias only) or "scale" (g and bias) from this batch's pre-activations."""
        if init:
            with torch.no_grad():
                a = h @ self.weight().t()
                m, s = a.mean(0), a.std(0, unbiased=False)
                if init == "scale":
                    self.g.div_(s)
                    self.b.copy_(-m / s)
                else:
                    self.b.copy_(-m)
        return h @ self.weight().t() + self.b


class D(torch.nn.Module):
    def __init__(self, F, hidden, K, gen, input_noise, hidden_noise):
        super().__init__()
        sizes = [F] + hidden
        self.hidden = torch.nn.ModuleList(WNDense(i, o, False, gen) for i, o in zip(sizes, sizes[1:]))
        self.out = WNDense(sizes[-1], K, True, gen)
        self.input_noise, self.hidden_noise = input_noise, hidden_noise

    def forward(self, x, gen, noisy=True, init=None):
        """The logits and the last hidden layer's output (before its noise); init: "ssl-gan" or "authors"
        (the data-dependent initialisation on this batch)."""
        h = x + self.input_noise * torch.randn(x.shape, generator=gen) if noisy else x
        for layer in self.hidden:
            f = F.relu(layer(h, init and ("scale" if init == "authors" else "centre")))
            h = f + self.hidden_noise * torch.randn(f.shape, generator=gen) if noisy else f
        return self.out(h, init and "scale"), f


class G(torch.nn.Module):
    def __init__(self, D_out, gen, noise_dim=100, hidden=(500, 500)):
        super().__init__()
        dims = [noise_dim] + list(hidden)
        self.lin = torch.nn.ParameterList()
        self.shift = torch.nn.ParameterList()
        for i, o in zip(dims, dims[1:]):
            w = torch.empty(o, i)
            common.glorot_(w, i, o, gen)
            self.lin.append(torch.nn.Parameter(w))
            self.shift.append(torch.nn.Parameter(torch.zeros(o)))
        v = torch.empty(D_out, dims[-1])
        common.glorot_(v, dims[-1], D_out, gen)
        self.v = torch.nn.Parameter(v)
        self.g = torch.nn.Parameter(torch.ones(D_out))
        self.b = torch.nn.Parameter(torch.zeros(D_out))
        self.noise_dim = noise_dim

    def forward(self, n, gen):
        h = torch.rand(n, self.noise_dim, generator=gen)
        for w, s in zip(self.lin, self.shift):
            a = h @ w.t()
            a = (a - a.mean(0)) / torch.sqrt(a.var(0, unbiased=False) + 1e-6)
            h = F.softplus(a + s)
        w = self.v * (self.g / torch.sqrt(1e-6 + (self.v ** 2).sum(1)))[:, None]
        return torch.sigmoid(h @ w.t() + self.b)


class Adam:
    """The authors' nn.adam_updates: g_t = m_hat / sqrt(v_hat + 1e-8)."""

    def __init__(self, params, lr, beta1=0.5, beta2=0.999):
        self.params = [p for p in params if p.requires_grad]
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.lr, self.b1, self.b2, self.t = lr, beta1, beta2, 0

    @torch.no_grad()
    def step(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m.mul_(self.b1).add_((1 - self.b1) * g)
            v.mul_(self.b2).add_((1 - self.b2) * g * g)
            p.sub_(self.lr * (m / (1 - self.b1 ** self.t)) / torch.sqrt(v / (1 - self.b2 ** self.t) + 1e-8))


def lse(l):
    return torch.logsumexp(l, 1)


def epoch_lr(a, epoch):
    """ssl-gan's schedule: constant, then linear towards 0 from --lr-decay-start."""
    if a.lr_decay_start <= 0 or epoch < a.lr_decay_start:
        return a.lr
    return a.lr * (a.epochs - epoch + 1) / (a.epochs - a.lr_decay_start + 1)


def main():
    ap = common.parser(__doc__, epochs=10, batch=100, lr=0.003)
    ap.add_argument("--d-hidden", default="1000,500,250,250,250")
    ap.add_argument("--g-hidden", default="500,500")
    ap.add_argument("--input-noise", type=float, default=0.3)
    ap.add_argument("--hidden-noise", type=float, default=0.5)
    ap.add_argument("--ema", type=float, default=0, help="predict with an average of D's weights, ssl-gan's --ema")
    ap.add_argument("--authors-init", action="store_true", help="scale the hidden layers to unit sd at init")
    ap.add_argument("--shift-unlabelled", type=int, default=0,
                    help="move the unlabelled rows D and G see by up to N pixels too, ssl-gan's option")
    ap.add_argument("--lr-decay-start", type=int, default=0,
                    help="epoch (1-based) from which the rate falls linearly to 0 at the end, ssl-gan's option")
    a = ap.parse_args()
    gen = common.setup(a)
    x, y, K = common.load(a.train)
    vx, vy, _ = common.load(a.val)
    lab = torch.nonzero(y >= 0).flatten()
    unl = torch.arange(len(x))   # every row is unlabelled data too, as the authors' code and ssl-gan
    ints = lambda s: [int(v) for v in s.split(",")]
    d = D(x.shape[1], ints(a.d_hidden), K, gen, a.input_noise, a.hidden_noise)
    g = G(x.shape[1], gen, hidden=ints(a.g_hidden))
    with torch.no_grad():
        d(x[torch.randperm(len(x), generator=gen)[:500]], gen, init="authors" if a.authors_init else "ssl-gan")
    dparams = [p for p in d.parameters() if p.requires_grad]
    avg = [p.detach().clone() for p in dparams]
    opt_d, opt_g = Adam(d.parameters(), a.lr), Adam(g.parameters(), a.lr)
    B, log = a.batch, common.Log(a.log)
    steps = len(unl) // B
    for ep in range(1, a.epochs + 1):
        opt_d.lr = opt_g.lr = epoch_lr(a, ep)
        lab_order = torch.cat([lab[torch.randperm(len(lab), generator=gen)] for _ in range(steps * B // len(lab) + 1)])
        u1 = unl[torch.randperm(len(unl), generator=gen)]
        u2 = unl[torch.randperm(len(unl), generator=gen)]
        tot = {"lab": 0.0, "unl": 0.0, "g": 0.0, "correct": 0.0}
        for s in range(steps):
            li, ui, ui2 = lab_order[s * B:(s + 1) * B], u1[s * B:(s + 1) * B], u2[s * B:(s + 1) * B]
            with torch.no_grad():
                fake = g(B, gen)
            l_lab, _ = d(common.shift_images(x[li], a.shift, 28, 28, gen), gen)
            l_unl, _ = d(common.shift_images(x[ui], a.shift_unlabelled, 28, 28, gen), gen)
            l_fake, _ = d(fake, gen)
            loss_lab = (lse(l_lab) - l_lab.gather(1, y[li][:, None]).squeeze(1)).mean()
            z_unl = lse(l_unl)
            loss_unl = -0.5 * z_unl.mean() + 0.5 * F.softplus(z_unl).mean() + 0.5 * F.softplus(lse(l_fake)).mean()
            opt_d.step(torch.autograd.grad(loss_lab + loss_unl, dparams))
            with torch.no_grad():   # ssl-gan's average: decay min(ema, (1 + t) / (10 + t)) at step t
                t = (ep - 1) * steps + s
                decay = min(a.ema, (1 + t) / (10 + t))
                for p, m in zip(dparams, avg):
                    m.mul_(decay).add_((1 - decay) * p)
            _, f_fake = d(g(B, gen), gen)
            _, f_real = d(common.shift_images(x[ui2], a.shift_unlabelled, 28, 28, gen), gen)
            loss_g = ((f_fake.mean(0) - f_real.mean(0)) ** 2).mean()
            opt_g.step(torch.autograd.grad(loss_g, list(g.parameters())))
            tot["lab"] += float(loss_lab)
            tot["unl"] += float(loss_unl)
            tot["g"] += float(loss_g)
            tot["correct"] += float((l_lab.argmax(1) == y[li]).float().mean())
        with torch.no_grad():
            acc_last = common.accuracy(d(vx, gen, noisy=False)[0], vy)
            saved = [p.detach().clone() for p in dparams]
            for p, m in zip(dparams, avg):
                p.copy_(m)
            acc = common.accuracy(d(vx, gen, noisy=False)[0], vy)
            for p, w in zip(dparams, saved):
                p.copy_(w)
        log.epoch(epoch=ep, lab_loss=tot["lab"] / steps, unl_loss=tot["unl"] / steps, g_loss=tot["g"] / steps,
                  train_accuracy=tot["correct"] / steps, val_accuracy=acc, val_accuracy_last=acc_last)


if __name__ == "__main__":
    main()
