"""The residual generator's sampling path against its training-time definition."""

import pytest
import torch

from genaug.nn.mlp import ResidualMLP


def _net(seed: int = 0, in_dim: int = 7) -> ResidualMLP:
    torch.manual_seed(seed)
    net = ResidualMLP(in_dim, (16, 12), 5)
    # Running statistics and affine terms far from their initial values, so that a wrong fold
    # of the batch normalisation would show.
    for block in net.blocks:
        norm = block[1]
        norm.running_mean.normal_()
        norm.running_var.uniform_(0.2, 3.0)
        norm.weight.data.uniform_(0.5, 1.5)
        norm.bias.data.normal_()
    return net.eval()


def _reference(net: ResidualMLP, x: torch.Tensor) -> torch.Tensor:
    """The concatenating definition, block by block (taken with autograd on)."""
    with torch.enable_grad():
        for block in net.blocks:
            x = torch.cat([block(x), x], dim=1)
        return net.head(x).detach()


@pytest.mark.parametrize("seed", [0, 1])
def test_inference_path_equals_the_concatenating_one(seed):
    net = _net(seed)
    x = torch.randn(64, 7)
    with torch.no_grad():
        fast = net(x)
    torch.testing.assert_close(fast, _reference(net, x), rtol=1e-5, atol=1e-5)
    assert fast.dtype == torch.float32


def test_training_mode_and_autograd_keep_the_concatenating_path():
    net = _net()
    x = torch.randn(32, 7)
    # Training mode normalises by the batch: the result must differ from the folded path.
    net.train()
    with torch.no_grad():
        batch_stats = net(x)
    net.eval()
    with torch.no_grad():
        running_stats = net(x)
    assert not torch.allclose(batch_stats, running_stats)
    # With autograd, evaluation mode gives gradients through the same function.
    x.requires_grad_(True)
    out = net(x)
    out.sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(out.detach(), running_stats, rtol=1e-5, atol=1e-5)


def _concatenating_with_grads(net: ResidualMLP, x: torch.Tensor, weights: torch.Tensor):
    """Output and parameter gradients of the plain concatenating definition."""
    net.zero_grad(set_to_none=True)
    h = x
    for block in net.blocks:
        h = torch.cat([block(h), h], dim=1)
    out = net.head(h)
    (out * weights).sum().backward()
    return out.detach(), [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize("train", [True, False])
def test_constant_input_path_gives_the_concatenating_values_and_gradients(train):
    net = _net().train(train)
    x, weights = torch.randn(40, 7), torch.randn(40, 5)
    expected, expected_grads = _concatenating_with_grads(net, x, weights)
    net.zero_grad(set_to_none=True)
    out = net(x)
    # The path whose backward skips the input's columns, not the concatenating one.
    assert type(out.grad_fn).__name__ == "_ResidualLinearBackward"
    (out * weights).sum().backward()
    torch.testing.assert_close(out.detach(), expected, rtol=1e-6, atol=1e-6)
    for (name, p), g in zip(net.named_parameters(), expected_grads):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-6, msg=name)


def test_an_input_that_needs_a_gradient_gets_it():
    net = _net().train()
    x = torch.randn(16, 7, requires_grad=True)
    net(x).pow(2).sum().backward()
    reference = x.detach().clone().requires_grad_(True)
    h = reference
    for block in net.blocks:
        h = torch.cat([block(h), h], dim=1)
    net.head(h).pow(2).sum().backward()
    torch.testing.assert_close(x.grad, reference.grad)


def test_inference_path_under_bfloat16_autocast_is_close_and_float32():
    net = _net()
    x = torch.randn(64, 7)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        fast = net(x)
    assert fast.dtype == torch.float32
    ref = _reference(net, x)
    # bfloat16 keeps 8 bits of mantissa in the hidden layers.
    assert (fast - ref).abs().max() < 0.1 * ref.abs().max()


def _one_hot_inputs(n: int, seed: int = 0, blocks: tuple[int, ...] = (2, 1)):
    """Rows ``[dense (4), S]`` with ``S`` one one-hot column per block: the 7-wide network's
    two of 3 columns by default."""
    g = torch.Generator().manual_seed(seed)
    dense = torch.randn(n, 4, generator=g)
    starts = [sum(blocks[:i]) for i in range(len(blocks))]
    active = [torch.randint(a, a + b, (n, 1), generator=g) for a, b in zip(starts, blocks)]
    return dense, torch.cat(active, dim=1)


@pytest.mark.parametrize("m", [0, 1, 2])
def test_one_hot_inputs_as_lookups_equal_the_dense_product(m):
    net = _net()
    dense, active = _one_hot_inputs(50)
    active = active[:, :m]
    ones = torch.zeros(50, 3).scatter_(1, active, 1.0)
    with torch.no_grad():
        fast = net.forward_one_hot(dense, active)
    torch.testing.assert_close(fast, _reference(net, torch.cat([dense, ones], 1)))


def test_one_hot_inputs_with_autograd_and_under_autocast():
    net = _net()
    dense, active = _one_hot_inputs(40)
    x = torch.cat([dense, torch.zeros(40, 3).scatter_(1, active, 1.0)], 1)
    # With autograd: gradients reach the dense input.
    dense.requires_grad_(True)
    out = net.forward_one_hot(dense, active)
    out.sum().backward()
    assert dense.grad is not None and dense.grad.abs().sum() > 0
    torch.testing.assert_close(out.detach(), _reference(net, x))
    # Under bfloat16 autocast (sampling with precision="bfloat16"): lookups and products
    # of the hidden layers in bfloat16, the output layer in float32, like forward's.
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        fast, dense_path = net.forward_one_hot(dense.detach(), active), net(x)
    assert fast.dtype == torch.float32
    ref = _reference(net, x)
    assert (fast - ref).abs().max() < 0.1 * ref.abs().max()
    assert (fast - dense_path).abs().max() < 0.1 * ref.abs().max()


def test_second_derivatives_through_the_constant_input_path_are_refused():
    net = _net().train()
    out = net(torch.randn(8, 7))
    (grad,) = torch.autograd.grad(out.pow(2).sum(), net.head.weight, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        grad.sum().backward()


def test_one_hot_lookups_follow_every_change_of_the_weights():
    # The folded weights are kept between calls: a change of a parameter or a running
    # statistic (in place, by load_state_dict, or by replacing the tensor) must show.
    net = _net()
    dense, active = _one_hot_inputs(30)
    x = torch.cat([dense, torch.zeros(30, 3).scatter_(1, active, 1.0)], 1)
    with torch.no_grad():
        net.forward_one_hot(dense, active)
        net.blocks[0][1].running_var.mul_(2.0)
        torch.testing.assert_close(net.forward_one_hot(dense, active), _reference(net, x))
        net.head.bias.add_(1.0)
        torch.testing.assert_close(net.forward_one_hot(dense, active), _reference(net, x))
        net.load_state_dict(_net(seed=1).state_dict())
        torch.testing.assert_close(net.forward_one_hot(dense, active), _reference(net, x))
        net.blocks[1][0].weight = torch.nn.Parameter(torch.randn(12, 23))
        torch.testing.assert_close(net.forward_one_hot(dense, active), _reference(net, x))
    # A training step (the optimizer updates in place) shows as well.
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    net(x).sum().backward()
    opt.step()
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net.forward_one_hot(dense, active), _reference(net, x))
        # And the kept weights are reused while nothing changes.
        first = net.__dict__["_one_hot_cache"]
        net.forward_one_hot(dense, active)
        assert net.__dict__["_one_hot_cache"] is first


def test_one_hot_lookups_keep_nothing_for_inference_tensors_and_pickles_leave_them_out():
    import pickle

    dense, active = _one_hot_inputs(20)
    with torch.inference_mode():
        net = _net()  # parameters made here are inference tensors: no version counter
        out = net.forward_one_hot(dense, active)
        assert "_one_hot_cache" not in net.__dict__
        torch.testing.assert_close(net.forward_one_hot(dense, active, (2, 1)), out)
        assert "_one_hot_combined" not in net.__dict__
    net = _net()
    with torch.no_grad():
        net.forward_one_hot(dense, active)
    assert "_one_hot_cache" in net.__dict__
    copy = pickle.loads(pickle.dumps(net))
    assert "_one_hot_cache" not in copy.__dict__
    with torch.no_grad():
        torch.testing.assert_close(copy.forward_one_hot(dense, active), out)


def test_lookups_of_combined_one_hot_blocks_equal_the_summed_lookups(monkeypatch):
    import pickle

    import genaug.nn.mlp as mlp

    net = _net(in_dim=9)
    dense, active = _one_hot_inputs(60, blocks=(2, 3))  # a 2-class label, a 3-value condition
    x = torch.cat([dense, torch.zeros(60, 5).scatter_(1, active, 1.0)], 1)
    with torch.no_grad():
        bags = net.forward_one_hot(dense, active)
        combined = net.forward_one_hot(dense, active, (2, 3))
        # The same floats: each combination is summed in the bag's order.
        assert torch.equal(combined, bags)
        torch.testing.assert_close(combined, _reference(net, x))
        tables = net.__dict__["_one_hot_combined"][2]
        assert [t.shape[0] for t in tables] == [6, 6, 6]
        net.forward_one_hot(dense, active, (2, 3))
        assert net.__dict__["_one_hot_combined"][2] is tables  # kept while nothing changes
        net.head.bias.add_(1.0)
        torch.testing.assert_close(net.forward_one_hot(dense, active, (2, 3)), _reference(net, x))
        # A single block, and no one-hot input at all.
        label_only = _net(in_dim=6)
        xs = torch.cat([dense, torch.zeros(60, 2).scatter_(1, active[:, :1], 1.0)], 1)
        torch.testing.assert_close(
            label_only.forward_one_hot(dense, active[:, :1], (2,)), _reference(label_only, xs)
        )
        plain = _net(in_dim=4)
        empty = torch.zeros((60, 0), dtype=torch.long)
        no_input = plain.forward_one_hot(dense, empty, ())
        torch.testing.assert_close(no_input, _reference(plain, dense))
        # Too many combinations: summed lookups as without groups.
        monkeypatch.setattr(mlp, "MAX_COMBINED_ROWS", 5)
        fresh = _net(in_dim=9)
        assert torch.equal(fresh.forward_one_hot(dense, active, (2, 3)), bags)
        assert "_one_hot_combined" not in fresh.__dict__
        # Under bfloat16 autocast a combination is rounded once (a bag may round differently).
        monkeypatch.setattr(mlp, "MAX_COMBINED_ROWS", 4096)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = net.forward_one_hot(dense, active, (2, 3))
        ref = _reference(net, x)
        assert (half - ref).abs().max() < 0.1 * ref.abs().max()
    copy = pickle.loads(pickle.dumps(net))
    assert "_one_hot_combined" not in copy.__dict__
    with pytest.raises(ValueError, match="groups"):
        net.forward_one_hot(dense, active, (1, 4, 0))
    with pytest.raises(ValueError, match="groups"):
        net.forward_one_hot(dense, active, (3, 3))
