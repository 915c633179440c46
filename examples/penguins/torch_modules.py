"""The two small PyTorch modules of the penguin network, in their own module.

They live apart from ``trainers`` so that only the PyTorch trainer imports
torch, and at module level so that TorchScript can read their source.
"""

from __future__ import annotations

import torch
from torch import nn


class Standardize(nn.Module):
    """Subtract the training mean and divide by the training deviation."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return (inputs - self.mean) / self.std


class ArgMax(nn.Module):
    """Return the index of the largest logit of each row."""

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.argmax(logits, dim=1)
