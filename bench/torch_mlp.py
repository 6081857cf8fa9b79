"""ssl-fit's MLP in PyTorch: 784-128-64-10, ReLU, softmax cross-entropy, Adam (lr 1e-3), L2 1e-4 on
the weights (coupled, as ssl-fit and scikit-learn), batch 200 shuffled. Times one epoch."""
import torch
import torch_common as tc

a = tc.parse(60000)
x, y, kind = tc.load(a)
net = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64), torch.nn.ReLU(),
                          torch.nn.Linear(64, 10))
B = 200
weights = [p for n, p in net.named_parameters() if n.endswith("weight")]
biases = [p for n, p in net.named_parameters() if n.endswith("bias")]
opt = torch.optim.Adam([{"params": weights, "weight_decay": 1e-4 / B}, {"params": biases}], lr=1e-3)
xent = torch.nn.CrossEntropyLoss()


def epoch():
    perm = torch.randperm(len(x))
    for i in range(0, len(x), B):
        idx = perm[i:i + B]
        opt.zero_grad(set_to_none=True)
        loss = xent(net(x[idx]), y[idx])
        loss.backward()
        opt.step()


tc.report("mlp", a, kind, tc.timed(epoch))
