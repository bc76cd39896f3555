"""tinygrad_mnist: a small, readable deep-learning framework on NumPy, and an MNIST toolkit."""

from tinygrad_mnist.gradcheck import GradcheckError, gradcheck
from tinygrad_mnist.graph import graph_dot, graph_text
from tinygrad_mnist.inference import predict, predict_proba
from tinygrad_mnist.tensor import (
    Context,
    Function,
    Tensor,
    concatenate,
    is_grad_enabled,
    no_grad,
    stack,
    where,
)

__version__ = "0.1.0"

__all__ = [
    "Context",
    "Function",
    "GradcheckError",
    "Tensor",
    "concatenate",
    "gradcheck",
    "graph_dot",
    "graph_text",
    "is_grad_enabled",
    "no_grad",
    "predict",
    "predict_proba",
    "stack",
    "where",
    "__version__",
]
