"""SpanLayout's vectorised span operations against per-span reference computations."""

import pytest
import torch
import torch.nn.functional as F

from genaug.data.tabular import Span
from genaug.nn.spans import SpanLayout

from .conftest import SMALL_SPANS

SPANS = SMALL_SPANS
CATEGORICAL = [s for s in SPANS if s.kind == "categorical"]


def _one_hot_rows(n: int, generator: torch.Generator) -> torch.Tensor:
    rows = torch.zeros(n, 12, dtype=torch.float64)
    for s in CATEGORICAL:
        k = torch.randint(s.size, (n,), generator=generator)
        rows[torch.arange(n), s.start + k] = 1.0
    return rows


def test_cross_entropy_matches_a_log_softmax_per_span():
    g = torch.Generator().manual_seed(0)
    layout = SpanLayout(SPANS)
    logits = torch.randn(64, 12, generator=g, dtype=torch.float64, requires_grad=True)
    target = _one_hot_rows(64, g)
    target[:5, 4:9] = 0.0  # unknown categories: the span must contribute nothing
    expected = sum(
        -(F.log_softmax(logits[:, s.start : s.stop], 1) * target[:, s.start : s.stop]).sum(1)
        for s in CATEGORICAL
    )
    got = layout.cross_entropy(logits, target)
    torch.testing.assert_close(got, expected)
    (grad_got,) = torch.autograd.grad(got.sum(), logits)
    (grad_expected,) = torch.autograd.grad(expected.sum(), logits)
    torch.testing.assert_close(grad_got, grad_expected)


def test_softmax_and_sample_one_hot_keep_continuous_values_and_make_spans_valid():
    g = torch.Generator().manual_seed(1)
    layout = SpanLayout(SPANS)
    logits = torch.randn(256, 12, generator=g)
    probs = layout.softmax(logits)
    draws = layout.sample_one_hot(logits, g)
    for s in SPANS:
        part_p, part_d = probs[:, s.start : s.stop], draws[:, s.start : s.stop]
        if s.kind == "continuous":
            assert torch.equal(part_p, logits[:, s.start : s.stop])
            assert torch.equal(part_d, logits[:, s.start : s.stop])
        else:
            torch.testing.assert_close(part_p, F.softmax(logits[:, s.start : s.stop], 1))
            assert torch.equal(part_d.sum(1), torch.ones(256))
            assert set(part_d.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("temperature", [0.2, 1.0])
def test_sample_one_hot_follows_the_softmax(temperature):
    g = torch.Generator().manual_seed(2)
    layout = SpanLayout(SPANS)
    row = torch.randn(1, 12, generator=g) / temperature
    draws = layout.sample_one_hot(row.expand(40_000, -1).contiguous(), g)
    for s in CATEGORICAL:
        freq = draws[:, s.start : s.stop].mean(0)
        torch.testing.assert_close(freq, F.softmax(row[0, s.start : s.stop], 0), atol=0.012, rtol=0)


def test_spans_on_far_apart_scales_stay_finite_and_exact():
    # One span's logits near +80, another's near -80: a stabiliser shared across spans would
    # underflow the second span's exponentials to zero (log 0 = -inf) in float32.
    g = torch.Generator().manual_seed(1)
    layout = SpanLayout(SPANS)
    logits = torch.randn(32, 12, generator=g)
    logits[:, 0:3] += 80.0
    logits[:, 4:9] -= 80.0
    logits.requires_grad_(True)
    target = _one_hot_rows(32, g).float()
    got = layout.cross_entropy(logits, target)
    expected = sum(
        -(F.log_softmax(logits[:, s.start : s.stop], 1) * target[:, s.start : s.stop]).sum(1)
        for s in CATEGORICAL
    )
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, expected)
    probs = layout.softmax(logits.detach())
    for s in CATEGORICAL:
        torch.testing.assert_close(
            probs[:, s.start : s.stop], F.softmax(logits.detach()[:, s.start : s.stop], 1)
        )


def test_a_category_of_tiny_probability_is_drawn_at_its_rate():
    # A category with probability 1e-3 after several spans before it (whose running sums,
    # were they taken over the whole row in float32, would blur it) comes out at its rate.
    spans = [Span(3 * i, 3, "categorical", f"s{i}") for i in range(8)] + [
        Span(24, 2, "categorical", "rare")
    ]
    layout = SpanLayout(spans)
    row = torch.zeros(1, 26)
    row[0, 24], row[0, 25] = 0.0, torch.log(torch.tensor(1e-3 / (1 - 1e-3)))
    g = torch.Generator().manual_seed(2)
    draws = layout.sample_one_hot(row.expand(200_000, -1).contiguous(), g)
    rate = draws[:, 25].mean().item()
    assert 0.0007 < rate < 0.0013
    for span in spans:
        assert torch.equal(draws[:, span.start : span.stop].sum(1), torch.ones(200_000))


def _tiny_probability_rate(layout, rows):
    draws = layout.sample_one_hot(rows, torch.Generator().manual_seed(2))
    return draws[:, 25].float().mean().item()


def _tiny_probability_layout():
    spans = [Span(3 * i, 3, "categorical", f"s{i}") for i in range(8)] + [
        Span(24, 2, "categorical", "rare")
    ]
    row = torch.zeros(1, 26)
    row[0, 24], row[0, 25] = 0.0, torch.log(torch.tensor(1e-3 / (1 - 1e-3)))
    return SpanLayout(spans), row.expand(200_000, -1).contiguous()


def test_draws_stay_exact_under_bfloat16_autocast_and_reduced_matmul_precision():
    # Under autocast a product would run in bfloat16 (8 bits: a 1e-3 category drawn at 0
    # or 0.4 %); under a lower float32 matmul precision oneDNN may round its inputs alike.
    layout, rows = _tiny_probability_layout()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert 0.0007 < _tiny_probability_rate(layout, rows) < 0.0013
    before = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        assert 0.0007 < _tiny_probability_rate(layout, rows) < 0.0013
    finally:
        torch.set_float32_matmul_precision(before)
    draws = layout.sample_one_hot(rows[:10].bfloat16(), torch.Generator().manual_seed(0))
    assert draws.dtype == torch.bfloat16


def test_draws_need_no_gradient_and_ignore_a_non_finite_continuous_value():
    layout = SpanLayout(SPANS)
    logits = torch.randn(4000, 12, generator=torch.Generator().manual_seed(9), requires_grad=True)
    draws = layout.sample_one_hot(logits, torch.Generator().manual_seed(1))
    assert not draws.requires_grad
    broken = logits.detach().clone()
    broken[::2, 3] = float("nan")  # a continuous column
    broken[1::2, 11] = float("inf")
    draws = layout.sample_one_hot(broken, torch.Generator().manual_seed(1))
    for s in CATEGORICAL:
        assert torch.equal(draws[:, s.start : s.stop].sum(1), torch.ones(4000))
    freq = draws[:, 4:9].mean(0)
    torch.testing.assert_close(freq, F.softmax(broken[:, 4:9], 1).mean(0), atol=0.03, rtol=0)


def test_a_span_far_below_the_rows_top_is_drawn_at_its_softmax():
    # The top sits 35 above the second span: unscaled, that span would be 3e-15 of the
    # running sum before it, a few float64 units, and its categories drawn from rounding.
    spans = [Span(0, 3, "categorical", "a"), Span(3, 5, "categorical", "b")]
    layout = SpanLayout(spans)
    p = torch.tensor([0.5, 0.3, 0.15, 0.04, 0.01])
    row = torch.cat([torch.tensor([40.0, 0.0, 0.0]), torch.log(p) + 5.0])[None, :]
    u = torch.rand(100_000, 2, generator=torch.Generator().manual_seed(3))
    choice = layout._inverse_cdf_whole_rows(row.expand(100_000, -1).contiguous(), u)
    freq = torch.bincount(choice[:, 1].long(), minlength=5).double() / 100_000
    torch.testing.assert_close(freq, p.double(), atol=0.004, rtol=0)


def test_span_max_is_each_spans_maximum():
    layout = SpanLayout([*SPANS, Span(12, 1, "categorical", "f")])  # a span of one column
    g = torch.Generator().manual_seed(3)
    v = torch.randn(20, 11, generator=g)
    v[0, :3] = float("-inf")
    expected = torch.stack(
        [v[:, a:b].amax(1) for a, b in [(0, 3), (3, 8), (8, 10), (10, 11)]], dim=1
    )
    torch.testing.assert_close(layout._span_max(v), expected)
    assert layout._span_max(v[:0]).shape == (0, 4)


def test_one_hot_draws_do_not_depend_on_the_row_blocks(monkeypatch):
    import genaug.nn.spans as spans

    layout = SpanLayout(SPANS)
    logits = torch.randn(50, 12, generator=torch.Generator().manual_seed(4)) * 3
    whole = layout.sample_one_hot(logits, torch.Generator().manual_seed(5))
    monkeypatch.setattr(spans, "SAMPLE_BLOCK", 7)
    blocked = layout.sample_one_hot(logits, torch.Generator().manual_seed(5))
    assert torch.equal(whole, blocked)
    torch.testing.assert_close(blocked[:, [3, 11]], logits[:, [3, 11]])


def test_row_peak_shortcut_equals_per_span_peaks_and_falls_back_when_spans_sit_far_apart():
    layout = SpanLayout(SPANS)
    g = torch.Generator().manual_seed(5)
    v = torch.randn(64, 10, generator=g) * 3.0
    e, total, peak = layout._stable_exp(v)
    assert peak.shape == (64, 1)  # the row's largest value sufficed
    e_ref, total_ref, peak_ref = layout._stable_exp(v, row_peak=False)
    assert peak_ref.shape == (64, 3)
    torch.testing.assert_close(
        torch.log(total) + peak, torch.log(total_ref) + peak_ref, rtol=1e-6, atol=1e-5
    )
    torch.testing.assert_close(e / layout._per_column(total), e_ref / layout._per_column(total_ref))
    v[5, 3:8] -= 60.0  # one row's second span far below its top: the whole batch falls back
    _, total, peak = layout._stable_exp(v)
    assert peak.shape == (64, 3) and (total >= 1.0).all()


def test_whole_row_draws_equal_per_span_draws_also_when_spans_sit_far_apart(monkeypatch):
    layout = SpanLayout(SPANS)
    g = torch.Generator().manual_seed(6)
    logits = torch.randn(4000, 12, generator=g) * 3.0
    u = torch.rand(4000, layout.n_categorical, generator=g)
    far = logits.clone()
    far[:, 4:9] -= 120.0  # exp underflows to zero against the row's top: per-span maxima
    big = logits.clone()
    big[:, 3] = 1e4  # a continuous value far above every logit: per-span maxima too
    mixed = logits.clone()  # per-span maxima in some rows only, the row's top in the rest
    mixed[::7, 4:9] -= 120.0
    mixed[1::11, 3] = 1e4
    mixed[2::13, 3] = float("nan")
    for rows in (logits, far, big, mixed):
        whole = layout._inverse_cdf_whole_rows(rows, u)
        with monkeypatch.context() as m:
            m.setattr(SpanLayout, "_inverse_cdf_whole_rows", lambda self, v, u: None)
            gathered = layout._inverse_cdf(rows, u)
        # float32 within-span sums against float64 running sums: a draw may differ only
        # where u falls within rounding of a category's bound.
        assert (whole != gathered).sum() <= 1
        draws = layout.sample_one_hot(rows, torch.Generator().manual_seed(7))
        for s in CATEGORICAL:
            assert torch.equal(draws[:, s.start : s.stop].sum(1), torch.ones(4000))
        freq = draws[:, 4:9].mean(0)
        expected = F.softmax(rows[:, 4:9], 1).mean(0)
        torch.testing.assert_close(freq, expected, atol=0.03, rtol=0)


def test_within_span_sums_restart_at_each_span_and_skip_continuous_columns(monkeypatch):
    import genaug.nn.spans as spans

    # Narrow spans grouped into products, a wide one (over SPAN_GROUP_WIDTH) by cumsum.
    monkeypatch.setattr(spans, "SPAN_GROUP_WIDTH", 6)
    layout_spans = [
        Span(0, 1, "continuous", "x"),
        Span(1, 2, "categorical", "a"),
        Span(3, 3, "categorical", "b"),
        Span(6, 1, "continuous", "y"),
        Span(7, 9, "categorical", "wide"),
        Span(16, 4, "categorical", "c"),
    ]
    layout = SpanLayout(layout_spans)
    assert [(a, b, block is None) for a, b, block in layout._span_groups] == [
        (1, 6, False),
        (7, 16, True),
        (16, 20, False),
    ]
    e = torch.rand(5, 20, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    expected = torch.zeros_like(e)
    for s in layout_spans:
        if s.kind == "categorical":
            expected[:, s.start : s.stop] = e[:, s.start : s.stop].cumsum(1)
    torch.testing.assert_close(layout._within_span_sums(e), expected)


def _reference_gumbel_softmax(layout, logits, tau, generator):
    # The relaxation recorded operation by operation (what _SpanGumbelSoftmax replaces).
    v = logits[:, layout.categorical_columns]
    u = torch.rand(v.shape, generator=generator, dtype=v.dtype)
    tiny = torch.finfo(v.dtype).tiny
    y = (v - torch.log((-torch.log(u.clamp_min(tiny))).clamp_min(tiny))) / tau
    probs = torch.cat([F.softmax(y[:, a:b], dim=1) for a, b in [(0, 3), (3, 8), (8, 10)]], dim=1)
    return logits.index_copy(1, layout.categorical_columns, probs)


@pytest.mark.parametrize("tau", [0.2, 1.0])
def test_gumbel_softmax_matches_the_recorded_relaxation(tau):
    layout = SpanLayout(SPANS)
    logits = (torch.randn(64, 12, generator=torch.Generator().manual_seed(8)) * 3).requires_grad_()
    upstream = torch.randn(64, 12, generator=torch.Generator().manual_seed(9))
    got = layout.gumbel_softmax(logits, tau, torch.Generator().manual_seed(10))
    want = _reference_gumbel_softmax(layout, logits, tau, torch.Generator().manual_seed(10))
    torch.testing.assert_close(got, want)
    (grad_got,) = torch.autograd.grad((got * upstream).sum(), logits)
    (grad_want,) = torch.autograd.grad((want * upstream).sum(), logits)
    torch.testing.assert_close(grad_got, grad_want)


def test_gumbel_softmax_gradcheck_and_no_second_derivative():
    layout = SpanLayout(SPANS)
    logits = torch.randn(6, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(11))
    logits.requires_grad_(True)

    def relax(x):
        # A fresh generator per call: the same noise every time.
        return layout.gumbel_softmax(x, 0.5, torch.Generator().manual_seed(12))

    assert torch.autograd.gradcheck(relax, (logits,))
    (grad,) = torch.autograd.grad(relax(logits).pow(2).sum(), logits, create_graph=True)
    with pytest.raises(RuntimeError):
        torch.autograd.grad(grad.sum(), logits)


def test_exp_nonpositive_is_exp_above_its_floor_and_the_floor_below():
    from genaug.nn.spans import exp_nonpositive

    x = torch.tensor([0.0, -1.0, -80.0, -90.0, -1e4, float("-inf"), float("nan")])
    floor = torch.exp(torch.tensor(-86.3365))
    got = exp_nonpositive(x.clone())
    torch.testing.assert_close(got[:3], torch.exp(x[:3]))
    torch.testing.assert_close(got[3:6], floor.expand(3), rtol=1e-4, atol=0)
    assert torch.isnan(got[6])
    # With autograd nothing is overwritten, and the gradient is exp's above the floor.
    leaf = torch.tensor([-1.0, -200.0], requires_grad=True)
    out = exp_nonpositive(leaf)
    out.sum().backward()
    torch.testing.assert_close(leaf.grad, torch.tensor([torch.exp(torch.tensor(-1.0)).item(), 0.0]))
    # float16 gets no floor (its smallest normal, 6e-5, is no negligible term).
    half = exp_nonpositive(torch.tensor([-2.0, -20.0], dtype=torch.float16))
    assert half[1].item() == 0.0 and abs(half[0].item() - 0.1353) < 1e-3


def test_compact_draws_are_the_one_hot_draws_with_one_column_per_span():
    layout = SpanLayout(SPANS)
    logits = torch.randn(300, 12, generator=torch.Generator().manual_seed(8)) * 2
    compact = layout.sample_compact(logits, torch.Generator().manual_seed(9))
    one_hot = layout.sample_one_hot(logits, torch.Generator().manual_seed(9))
    assert compact.shape == (300, layout.compact_dim) == (300, 5)
    assert torch.equal(layout.expand_compact(compact), one_hot)
    for j, s in enumerate(CATEGORICAL):
        assert torch.equal(compact[:, j], one_hot[:, s.start : s.stop].argmax(1).float())
    assert torch.equal(compact[:, 3:], logits[:, [3, 11]])
    span, slot = layout.column_slots(torch.tensor([0, 6, 10]))
    assert span.tolist() == [0, 1, 2] and slot.tolist() == [0, 2, 1]
    # Off CPU-exact products (here: reduced float32 matmul precision) the draw is float64.
    previous = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        wide = layout.sample_compact(logits, torch.Generator().manual_seed(9))
    finally:
        torch.set_float32_matmul_precision(previous)
    assert wide.dtype == torch.float64
    assert (wide[:, :3] != compact[:, :3].double()).sum() <= 1
    # Nothing categorical: the continuous columns alone.
    plain = SpanLayout([Span(0, 1, "continuous", "x"), Span(1, 1, "continuous", "y")])
    values = torch.randn(4, 2)
    assert torch.equal(plain.sample_compact(values, torch.Generator()), values)
    assert torch.equal(plain.expand_compact(values), values)
