"""tinygrad_mnist: a small, readable deep-learning framework on NumPy, and an MNIST toolkit."""

from tinygrad_mnist.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tinygrad_mnist.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygrad_mnist.graph import graph_dot, graph_text
from tinygrad_mnist.inference import predict, predict_proba
from tinygrad_mnist.tensor import Context, Function, Tensor, concatenate, grad, stack, where

__version__ = "0.1.0"

__all__ = [
    "Context",
    "Function",
    "GradcheckError",
    "Tensor",
    "concatenate",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "graph_dot",
    "graph_text",
    "is_grad_enabled",
    "no_grad",
    "predict",
    "predict_proba",
    "set_grad_enabled",
    "stack",
    "where",
    "__version__",
]
