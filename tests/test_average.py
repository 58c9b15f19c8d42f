"""WeightAverage: the exponential moving average of a network's weights."""

import pytest
import torch
from torch import nn

from genaug.nn.average import WARMUP, WeightAverage


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def _shift(net: nn.Module, by: float) -> None:
    with torch.no_grad():
        for p in net.parameters():
            p.add_(by)


def test_first_update_copies_then_decay_warms_up_to_its_cap():
    torch.manual_seed(0)
    net = _net()
    avg = WeightAverage(net, decay=0.5)
    with torch.no_grad():
        for p in avg.network.parameters():
            p.fill_(123.0)  # whatever it held, the first update replaces it
    avg.update(net)
    for a, p in zip(avg.network.parameters(), net.parameters()):
        torch.testing.assert_close(a, p)
    before = [p.detach().clone() for p in avg.network.parameters()]
    _shift(net, 1.0)
    avg.update(net)
    # After one update the warm-up decay is (1 + 1) / (WARMUP + 1) = 0.18 < 0.5.
    decay = (1.0 + 1.0) / (WARMUP + 1.0)
    for a, b, p in zip(avg.network.parameters(), before, net.parameters()):
        torch.testing.assert_close(a, decay * b + (1 - decay) * p)
    for _ in range(50):
        avg.update(net)
    before = [p.detach().clone() for p in avg.network.parameters()]
    _shift(net, 1.0)
    avg.update(net)  # long past the warm-up: the cap, 0.5
    for a, b, p in zip(avg.network.parameters(), before, net.parameters()):
        torch.testing.assert_close(a, 0.5 * b + 0.5 * p)
    assert float(avg.updates) == 53


def test_buffers_are_copied_not_averaged_and_nothing_needs_gradients():
    net = _net()
    avg = WeightAverage(net, decay=0.9)
    net.train()
    net(torch.randn(16, 3))  # moves the running statistics
    avg.update(net)
    net(torch.randn(16, 3) + 5.0)
    avg.update(net)
    torch.testing.assert_close(avg.network[1].running_mean, net[1].running_mean)
    torch.testing.assert_close(avg.network[1].running_var, net[1].running_var)
    assert not any(p.requires_grad for p in avg.parameters())
    assert all(p.requires_grad for p in net.parameters())


def test_forward_runs_the_averaged_network():
    net = _net().eval()
    avg = WeightAverage(net, decay=0.9).eval()
    avg.update(net)
    x = torch.randn(5, 3)
    torch.testing.assert_close(avg(x), net(x))
    _shift(net, 0.5)
    assert not torch.allclose(avg(x), net(x))


def test_all_tensors_at_once_equals_one_lerp_per_tensor():
    torch.manual_seed(0)
    net = _net()
    avg = WeightAverage(net, decay=0.99)
    reference = [p.detach().clone() for p in net.parameters()]
    avg.update(net)
    for step in range(12):  # through the warm-up, where the weight passes 0.5
        _shift(net, 0.1 * (step + 1))
        t = avg.updates.clone()  # float32, as the average computes its weight
        weight = 1.0 - torch.clamp((1.0 + t) / (WARMUP + t), max=0.99)
        for r, p in zip(reference, net.parameters()):
            r.lerp_(p.detach(), weight)
        avg.update(net)
    for a, r in zip(avg.network.parameters(), reference):
        torch.testing.assert_close(a, r, rtol=0, atol=0)


def test_another_architecture_is_refused():
    avg = WeightAverage(_net(), decay=0.9)
    with pytest.raises(ValueError, match="architecture"):
        avg.update(nn.Linear(3, 4))
