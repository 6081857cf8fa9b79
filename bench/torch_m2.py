"""ssl-vae's M2 in PyTorch, as the Fashion-MNIST pipeline trains it (pipelines/fashion-mnist.mk M2_ARGS:
--model m2 --hidden 256 --latent 16 --batch 100; softplus, Bernoulli likelihood, alpha 0.1), the network
and step of lib/m2.c:

  q(y|x)    784-256-10 (softplus)
  q(z|x,y)  [x, onehot y] -256-(2x16): the first layer as x W_x + W_y[y] + b, x W_x computed once per
            row and shared by its K class copies (as lib/dnet's row expansion does)
  p(x|y,z)  [z, onehot y] -256-784 (Bernoulli logits)
  step: 100 labelled rows (cycling through the reshuffled labelled rows) + 100 unlabelled rows, each
        unlabelled row expanded to K = 10 copies, one for each class (1100 rows through q(z|x,y) and
        p(x|y,z));  loss = mean_lab L(x,y) + alpha mean_lab[-log q(y|x)] + mean_unl sum_y q(y|x)
        (L(x,y) + log q(y|x)),  L = BCE + KL + log K,  alpha = 0.1 N / N_labelled;  Adam (lr 1e-3).

The data is bench_train m2's: the first 100 rows labelled, the others unlabelled; an epoch is a pass
over the unlabelled rows. Times one epoch."""
import math

import torch
import torch.nn.functional as F
import torch_common as tc

a = tc.parse(6000)
x, y, kind = tc.load(a)
D, H, Z, K, B, NLAB = 784, 256, 16, 10, 100, 100
lab, unl = torch.arange(NLAB), torch.arange(NLAB, len(x))
alpha = 0.1 * len(x) / NLAB
logK = math.log(K)
L = torch.nn.Linear
cls = torch.nn.Sequential(L(D, H), torch.nn.Softplus(), L(H, K))
enc_x, enc_y, enc_out = L(D, H), torch.nn.Embedding(K, H), L(H, 2 * Z)
dec_z, dec_y, dec_out = L(Z, H), torch.nn.Embedding(K, H), L(H, D)
params = [p for m in (cls, enc_x, enc_y, enc_out, dec_z, dec_y, dec_out) for p in m.parameters()]
opt = torch.optim.Adam(params, lr=1e-3)


def bound(xin, src, ycls):
    """L(x, y) for the expanded rows: row r is xin[src[r]] with class ycls[r]."""
    h = F.softplus(enc_x(xin)[src] + enc_y(ycls))
    mu, lv = enc_out(h).chunk(2, dim=1)
    lv = lv.clamp(-15, 15)
    z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
    o = dec_out(F.softplus(dec_z(z) + dec_y(ycls)))
    rec = F.binary_cross_entropy_with_logits(o, xin[src], reduction="none").sum(1)
    kl = 0.5 * (mu * mu + lv.exp() - 1 - lv).sum(1)
    return rec + kl + logK


def step(xl, yl, xu):
    nl, nu = len(xl), len(xu)
    xin = torch.cat([xl, xu])
    logq = F.log_softmax(cls(xin), dim=1)
    src = torch.cat([torch.arange(nl), (nl + torch.arange(nu)).repeat_interleave(K)])
    ycls = torch.cat([yl, torch.arange(K).repeat(nu)])
    Lr = bound(xin, src, ycls)
    lq_u = logq[nl:]
    unl_loss = (lq_u.exp() * (Lr[nl:].view(nu, K) + lq_u)).sum() / nu
    lab_loss = Lr[:nl].mean() - alpha * logq[torch.arange(nl), yl].mean()
    opt.zero_grad(set_to_none=True)
    (lab_loss + unl_loss).backward()
    opt.step()


def epoch():
    perm = unl[torch.randperm(len(unl))]
    lab_order, pos = lab[torch.randperm(NLAB)], 0
    for i in range(0, len(perm), B):
        if pos + B > NLAB:
            lab_order, pos = lab[torch.randperm(NLAB)], 0
        li = lab_order[pos:pos + B]
        pos += B
        step(x[li], y[li], x[perm[i:i + B]])


tc.report("m2", a, kind, tc.timed(epoch))
