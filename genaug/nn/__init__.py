"""Networks: building blocks that know about tensors only."""

from genaug.nn.average import WeightAverage
from genaug.nn.conv import ConvCritic, ConvDecoder, ConvEncoder, join_inputs
from genaug.nn.critic import Critic, dropout
from genaug.nn.init import init_parameters
from genaug.nn.mlp import MLP, ResidualMLP
from genaug.nn.spans import SpanLayout

__all__ = [
    "MLP",
    "ConvCritic",
    "ConvDecoder",
    "ConvEncoder",
    "Critic",
    "ResidualMLP",
    "SpanLayout",
    "WeightAverage",
    "dropout",
    "init_parameters",
    "join_inputs",
]
