"""ssl-gan in PyTorch (Salimans et al. 2016, the MNIST recipe as lib/gan.h describes it): D with
Gaussian noise (0.3 on the input, 0.5 after each layer) and weight-normalised dense ReLU layers
784-1000-500-250-250-250, 10 logits (hidden scales fixed at 1, the output's trained); G from
U(0,1)^100 through dense 500-500 with batch norm and softplus to a weight-normalised sigmoid output
of 784. Each step: D on 100 labelled + 100 unlabelled + 100 generated rows at once (labelled
cross-entropy + real/fake loss, the fake class an implicit logit 0), then G by feature matching on
D's last hidden layer against 100 other unlabelled rows. Adam (lr 0.003, beta1 0.5). 100 labelled
rows. Times one epoch (rows / 100 steps)."""
import torch
import torch.nn.functional as F
import torch_common as tc

a = tc.parse(6000)
x, y, kind = tc.load(a)
B, K, NLAB = 100, 10, 100


class WNLinear(torch.nn.Module):
    """y = x (g v / ||v||)^T + b, row-wise norms; g fixed at 1 unless train_g."""

    def __init__(self, i, o, train_g):
        super().__init__()
        self.v = torch.nn.Parameter(0.05 * torch.randn(o, i))
        self.g = torch.nn.Parameter(torch.ones(o)) if train_g else None
        self.b = torch.nn.Parameter(torch.zeros(o))

    def forward(self, h):
        w = self.v / self.v.norm(dim=1, keepdim=True)
        if self.g is not None:
            w = w * self.g[:, None]
        return F.linear(h, w, self.b)


class D(torch.nn.Module):
    def __init__(self):
        super().__init__()
        sizes = [784, 1000, 500, 250, 250, 250]
        self.hidden = torch.nn.ModuleList(WNLinear(i, o, False) for i, o in zip(sizes, sizes[1:]))
        self.out = WNLinear(250, K, True)

    def forward(self, h):
        """logits and the last hidden layer's output (the features matched)"""
        h = h + 0.3 * torch.randn_like(h)
        for layer in self.hidden:
            f = F.relu(layer(h))
            h = f + 0.5 * torch.randn_like(f)
        return self.out(h), f


G = torch.nn.Sequential(torch.nn.Linear(100, 500, bias=False), torch.nn.BatchNorm1d(500), torch.nn.Softplus(),
                        torch.nn.Linear(500, 500, bias=False), torch.nn.BatchNorm1d(500), torch.nn.Softplus(),
                        WNLinear(500, 784, True), torch.nn.Sigmoid())
d = D()
opt_d = torch.optim.Adam(d.parameters(), lr=0.003, betas=(0.5, 0.999))
opt_g = torch.optim.Adam(G.parameters(), lr=0.003, betas=(0.5, 0.999))
xlab, ylab = x[:NLAB], y[:NLAB]


def epoch():
    perm, perm2 = torch.randperm(len(x)), torch.randperm(len(x))
    for s in range(len(x) // B):
        # D: labelled | unlabelled | generated, one forward
        li = torch.randint(0, NLAB, (B,))
        with torch.no_grad():
            fake = G(torch.rand(B, 100))
        logits, _ = d(torch.cat([xlab[li], x[perm[s * B:(s + 1) * B]], fake]))
        lse = torch.logsumexp(logits, 1)
        loss_d = (F.cross_entropy(logits[:B], ylab[li]) + 0.5 * F.softplus(-lse[B:2 * B]).mean()
                  + 0.5 * F.softplus(lse[2 * B:]).mean())
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # G: feature matching against other unlabelled rows; only G's gradients are computed
        fake = G(torch.rand(B, 100))
        _, f = d(torch.cat([fake, x[perm2[s * B:(s + 1) * B]]]))
        loss_g = ((f[:B].mean(0) - f[B:].mean(0)) ** 2).mean()
        grads = torch.autograd.grad(loss_g, list(G.parameters()))
        for p, g in zip(G.parameters(), grads):
            p.grad = g
        opt_g.step()


tc.report("gan", a, kind, tc.timed(epoch))
