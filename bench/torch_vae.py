"""ssl-vae's M1 in PyTorch: encoder 784-512-256-(2x32), decoder 32-256-512-784, ReLU, Bernoulli
likelihood (logits), -ELBO = BCE + KL summed over a row, mean over the batch of 128, Adam (lr 1e-3).
Times one epoch."""
import torch
import torch.nn.functional as F
import torch_common as tc

a = tc.parse(60000)
x, _, kind = tc.load(a)
Z, B = 32, 128
L = torch.nn.Linear
enc = torch.nn.Sequential(L(784, 512), torch.nn.ReLU(), L(512, 256), torch.nn.ReLU(), L(256, 2 * Z))
dec = torch.nn.Sequential(L(Z, 256), torch.nn.ReLU(), L(256, 512), torch.nn.ReLU(), L(512, 784))
opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)


def epoch():
    perm = torch.randperm(len(x))
    for i in range(0, len(x), B):
        xb = x[perm[i:i + B]]
        opt.zero_grad(set_to_none=True)
        mu, lv = enc(xb).chunk(2, dim=1)
        lv = lv.clamp(-15, 15)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        rec = F.binary_cross_entropy_with_logits(dec(z), xb, reduction="sum")
        kl = 0.5 * (mu * mu + lv.exp() - 1 - lv).sum()
        ((rec + kl) / len(xb)).backward()
        opt.step()


tc.report("m1", a, kind, tc.timed(epoch))
