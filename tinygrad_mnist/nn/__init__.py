"""Layers, activations, losses and initialisers: compose a network in a few lines.

    from tinygrad_mnist import nn
    model = nn.Sequential(nn.Dense(784, 128), nn.ReLU(), nn.Dense(128, 10))
    loss = nn.CrossEntropyLoss()(model(x), labels)
"""

from tinygrad_mnist.nn import init
from tinygrad_mnist.nn.activations import (
    ACTIVATIONS,
    Activation,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    get_activation,
    identity,
    leaky_relu,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from tinygrad_mnist.nn.batchnorm import BatchNorm1d, BatchNorm2d, BatchNormFunction
from tinygrad_mnist.nn.cnn import CNN
from tinygrad_mnist.nn.conv import Conv2d, Conv2dFunction, conv2d
from tinygrad_mnist.nn.dense import Affine, AffineReLU, Dense
from tinygrad_mnist.nn.dropout import Dropout
from tinygrad_mnist.nn.flatten import Flatten
from tinygrad_mnist.nn.layer import Layer, read_npz
from tinygrad_mnist.nn.losses import CrossEntropyLoss, Loss, MSELoss
from tinygrad_mnist.nn.mlp import MLP
from tinygrad_mnist.nn.pooling import AvgPool2d, AvgPool2dFunction, MaxPool2d, MaxPool2dFunction
from tinygrad_mnist.nn.sequential import Sequential

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Affine",
    "AffineReLU",
    "AvgPool2d",
    "AvgPool2dFunction",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNormFunction",
    "CNN",
    "Conv2d",
    "Conv2dFunction",
    "CrossEntropyLoss",
    "Dense",
    "Dropout",
    "Flatten",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Loss",
    "MLP",
    "MaxPool2d",
    "MaxPool2dFunction",
    "MSELoss",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "conv2d",
    "get_activation",
    "identity",
    "init",
    "leaky_relu",
    "read_npz",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]
