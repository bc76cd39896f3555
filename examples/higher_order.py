"""Gradients of gradients: a Hessian-vector product, Newton's method, a gradient penalty.

    python examples/higher_order.py

`grad(..., create_graph=True)` returns gradients that are themselves part of a graph,
so they can be differentiated again (see "Gradients of gradients" in docs/autograd.md).
Everything here runs in float64 on small synthetic data, in a second or two.
"""

import numpy as np

from tinygrad_mnist import Tensor, grad, nn, no_grad, stack

rng = np.random.default_rng(0)


# 1. A Hessian-vector product of an MLP with cross-entropy: H v without forming H.
#    d/dw <dL/dw, v> = H v, so it costs two backward passes, whatever the size of H.
model = nn.MLP(4, [8], 3, activation="tanh", seed=0).astype(np.float64)
x = Tensor(rng.normal(size=(16, 4)))
labels = rng.integers(0, 3, size=16)
loss_fn = nn.CrossEntropyLoss()
params = model.parameters()
vectors = [rng.normal(size=p.shape) for p in params]


def gradients(create_graph=False):
    return grad(loss_fn(model(x), labels), params, create_graph=create_graph)


first = gradients(create_graph=True)
directional = sum((g * v).sum() for g, v in zip(first, vectors))
hvp = grad(directional, params)

# Check: H v is the change of the gradient along v (central differences).
eps = 1e-6
with no_grad():
    for p, v in zip(params, vectors):
        p += eps * v
plus = [g.data for g in gradients()]
with no_grad():
    for p, v in zip(params, vectors):
        p -= 2 * eps * v
minus = [g.data for g in gradients()]
with no_grad():
    for p, v in zip(params, vectors):
        p += eps * v
worst = max(np.abs(h.data - (a - b) / (2 * eps)).max() for h, a, b in zip(hvp, plus, minus))
print(f"Hessian-vector product of an MLP ({sum(p.size for p in params)} parameters): "
      f"largest difference from finite differences {worst:.1e}")


# 2. Newton's method for logistic regression: the Hessian, column by column, from
#    Hessian-vector products with the unit vectors; then w <- w - H^-1 g.
features = np.c_[rng.normal(size=(200, 2)), np.ones(200)]  # two features and a bias
true_w = np.array([2.0, -1.0, 0.5])
targets = (rng.uniform(size=200) < 1 / (1 + np.exp(-features @ true_w))).astype(float)
w = Tensor(np.zeros(3), requires_grad=True)


def logistic_loss(w):
    logits = Tensor(features) @ w
    # log(1 + e^z) - y z, with softplus written stably as logsumexp([0, z])
    zero = Tensor(np.zeros_like(logits.data))
    return (stack([zero, logits], axis=1).logsumexp(axis=1) - logits * targets).mean()


for step in range(6):
    loss = logistic_loss(w)
    (g,) = grad(loss, w, create_graph=True)
    hessian = np.stack([grad(g, w, grad_outputs=np.eye(3)[i], retain_graph=True)[0].data
                        for i in range(3)])
    print(f"Newton step {step}: loss {loss.item():.6f}, gradient norm "
          f"{np.linalg.norm(g.data):.2e}")
    w = Tensor(w.data - np.linalg.solve(hessian, g.data), requires_grad=True)


# 3. A gradient penalty (as in WGAN-GP): train a critic while keeping the norm of its
#    gradient with respect to its input near 1. The penalty is a function of a
#    gradient, so the update needs its gradient: a second derivative.
critic = nn.MLP(2, [16], 1, activation="tanh", seed=1).astype(np.float64)
points = Tensor(rng.normal(size=(32, 2)), requires_grad=True)
for step in range(5):
    scores = critic(points)
    (input_grad,) = grad(scores.sum(), points, create_graph=True)
    norms = ((input_grad * input_grad).sum(axis=1) + 1e-12).sqrt()
    penalty = ((norms - 1.0) * (norms - 1.0)).mean()
    objective = scores.mean() + 10.0 * penalty
    weight_grads = grad(objective, critic.parameters())
    with no_grad():  # an SGD step, in place
        for parameter, g in zip(critic.parameters(), weight_grads):
            parameter -= 0.01 * g
    print(f"gradient penalty step {step}: mean input-gradient norm "
          f"{norms.data.mean():.3f}, penalty {penalty.item():.4f}")
