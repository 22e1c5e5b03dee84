"""Generated forward kernels under the Triton interpreter against float64 dense
masked attention: random patterns from the whole language, random sizes (Q != K,
not multiples of the tile), random inputs; out and lse."""
from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import patternc  # noqa: E402
from patternc.semantics import reference_attention  # noqa: E402
from pattern_sources import pattern_source  # noqa: E402

pytestmark = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1",
                                reason="CPU kernel tests need TRITON_INTERPRET=1 before triton is imported")


def run_and_compare(source, H, Q, K, D=16, H_kv=None, B=1, dtype=torch.float32, params=None, seed=0, tile="16x16"):
    module = patternc.load_source(source, "<test>", stem="t")
    pattern = patternc.check_source(source)[0]
    fn = getattr(module, pattern.name)
    gen = torch.Generator().manual_seed(seed)
    H_kv = H_kv or H
    q = torch.randn(B, H, Q, D, generator=gen).to(dtype)
    k = torch.randn(B, H_kv, K, D, generator=gen).to(dtype)
    v = torch.randn(B, H_kv, K, D, generator=gen).to(dtype)
    os.environ["PATTERNC_TILE"] = tile
    try:
        out, lse = fn(q, k, v, return_lse=True, **(params or {}))
    finally:
        del os.environ["PATTERNC_TILE"]
    ref, ref_lse = reference_attention(pattern, q.double(), k.double(), v.double(), params=params)
    assert not torch.isnan(out).any()
    tol = 2e-3 if dtype == torch.float16 else 1e-4
    torch.testing.assert_close(out.double(), ref, atol=tol, rtol=tol)
    assert torch.equal(torch.isinf(lse), torch.isinf(ref_lse))
    finite = torch.isfinite(ref_lse)
    torch.testing.assert_close(lse.double()[finite], ref_lse[finite], atol=tol, rtol=tol)
    return out, lse


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(pattern_source(), st.integers(1, 90), st.integers(1, 90), st.sampled_from(["16x16", "32x16", "16x32"]),
       st.integers(0, 2**16))
def test_random_patterns_match_dense_attention(case, Q, K, tile, seed):
    source, H = case
    run_and_compare(source, H, Q, K, tile=tile, seed=seed)


@pytest.mark.parametrize("Q,K", [(1, 1), (1, 70), (70, 1), (33, 17), (17, 33), (64, 64)])
def test_edges_of_sizes(Q, K):
    run_and_compare("pattern pat() { mask causal & window(5, 0) | sink(2) }", 2, Q, K)


def test_a_group_whose_mask_reads_h_before_another_group():
    # one plan row per head for the first group: the second group's row comes after all three
    run_and_compare("pattern pat() {\n heads 0..3 { mask h == 7 | causal & (h == 1) }\n heads 3..H { mask window(4) }\n}",
                    4, 42, 35, B=2)


def test_grouped_query_attention_and_fp16():
    run_and_compare("pattern pat(w: int = 4) { mask window(w) | global(3) }", 4, 40, 50, D=32, H_kv=2,
                    dtype=torch.float16)


def test_rows_with_nothing_allowed_are_zero_with_lse_minus_inf():
    out, lse = run_and_compare("pattern pat() { mask causal & (j < p - 40) }", 1, 30, 30)
    assert torch.all(out == 0) and torch.all(lse == float("-inf"))


def test_head_dim_not_a_power_of_two_and_batch():
    run_and_compare("pattern pat() { mask block(8) | causal; score softcap(3.0) }", 2, 37, 41, D=24, B=2)


def test_params_reach_the_kernel():
    src = "pattern pat(w: int = 2, g: float = 0.5) { mask window(w, 0); score decay(g) }"
    run_and_compare(src, 1, 40, 40, params={"w": 7, "g": 0.8})


def test_non_contiguous_inputs():
    module = patternc.load_source("pattern pat() { mask causal }", "<test>", stem="t")
    pattern = patternc.check_source("pattern pat() { mask causal }")[0]
    x = torch.randn(1, 20, 2, 16, dtype=torch.float64).float()
    q = k = v = x.transpose(1, 2)  # (1, 2, 20, 16), not contiguous
    out = module.pat(q, k, v)
    ref, _ = reference_attention(pattern, q.double(), k.double(), v.double())
    torch.testing.assert_close(out.double(), ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("scale", [None, 0.3, -0.7])
def test_128_row_tiles_fold_the_scale_unless_it_is_negative(scale):
    # 128-row tiles take the row max of the raw scores and scale it after
    # (FOLD_SCALE): right for scale > 0 only, so a negative scale takes the
    # plain path; 150 rows: a full 128-row tile and a ragged one
    source = "pattern pat() { mask causal | global(3) }"
    module = patternc.load_source(source, "<test>", stem="t")
    pattern = patternc.check_source(source)[0]
    gen = torch.Generator().manual_seed(3)
    # x4: folding a negative scale overflows (NaN), while float32's own rounding of such
    # large scores stays inside the tolerance (x8 gave 3.6e-4 on one CPU, 1e-4 allowed)
    q, k, v = (torch.randn(1, 2, 150, 16, generator=gen) * 4 for _ in range(3))
    os.environ["PATTERNC_TILE"] = "128x32"
    try:
        out, lse = module.pat(q, k, v, scale=scale, return_lse=True)
    finally:
        del os.environ["PATTERNC_TILE"]
    ref, ref_lse = reference_attention(pattern, q.double(), k.double(), v.double(), scale=scale)
    torch.testing.assert_close(out.double(), ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(lse.double(), ref_lse, atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------- backward
def run_backward_and_compare(source, H, Q, K, D=16, H_kv=None, B=1, dtype=torch.float32, seed=0, tile="16x16",
                             lse_grad=True):
    module = patternc.load_source(source, "<test>", stem="t")
    pattern = patternc.check_source(source)[0]
    fn = getattr(module, pattern.name)
    gen = torch.Generator().manual_seed(seed)
    H_kv = H_kv or H
    q = torch.randn(B, H, Q, D, generator=gen).to(dtype).requires_grad_()
    k = torch.randn(B, H_kv, K, D, generator=gen).to(dtype).requires_grad_()
    v = torch.randn(B, H_kv, K, D, generator=gen).to(dtype).requires_grad_()
    os.environ["PATTERNC_TILE"] = tile
    try:
        out, lse = fn(q, k, v, return_lse=True)
    finally:
        del os.environ["PATTERNC_TILE"]
    d_out = torch.randn(out.shape, generator=gen)
    d_lse = torch.randn(lse.shape, generator=gen) * lse_grad
    d_lse = torch.where(torch.isinf(lse), 0.0, d_lse)  # lse = -inf rows: no gradient flows through them
    loss = (out.float() * d_out).sum() + (torch.where(torch.isinf(lse), 0.0, lse) * d_lse).sum()
    got = torch.autograd.grad(loss, (q, k, v))
    ref_inputs = [t.detach().double().requires_grad_() for t in (q, k, v)]
    ref, ref_lse = reference_attention(pattern, *ref_inputs)
    ref_loss = (ref * d_out.double()).sum() + (torch.where(torch.isinf(ref_lse), 0.0, ref_lse) * d_lse.double()).sum()
    want = torch.autograd.grad(ref_loss, ref_inputs)
    tol = 5e-3 if dtype == torch.float16 else 2e-4
    for name, a, b in zip("qkv", got, want):
        assert not torch.isnan(a).any(), f"NaN in d{name}"
        torch.testing.assert_close(a.double(), b, atol=tol, rtol=tol, msg=lambda m: f"d{name}: {m}")


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(pattern_source(), st.integers(1, 70), st.integers(1, 70), st.sampled_from(["16x16", "32x16"]),
       st.integers(1, 2), st.integers(0, 2**16))
def test_random_pattern_gradients_match_dense_attention(case, Q, K, tile, kv_div, seed):
    source, H = case
    H_kv = H // kv_div if H % kv_div == 0 else H
    run_backward_and_compare(source, H, Q, K, H_kv=H_kv, tile=tile, seed=seed)


def test_gradients_grouped_query_softcap_and_empty_rows():
    src = "pattern pat() { mask causal & (j < p - 3) | block(5); score softcap(2.0), alibi }"
    run_backward_and_compare(src, 4, 33, 29, D=24, H_kv=2)


def test_autograd_is_skipped_only_when_nothing_needs_a_gradient():
    # without gradients the kernels run without an autograd Function; one
    # input needing a gradient (here v alone) must still bring the backward
    source = "pattern pat() { mask causal | global(2) }"
    module = patternc.load_source(source, "<test>", stem="t")
    pattern = patternc.check_source(source)[0]
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 2, 37, 16, generator=gen) for _ in range(3))
    assert module.pat(q, k, v).grad_fn is None
    v.requires_grad_()
    with torch.no_grad():
        assert module.pat(q, k, v).grad_fn is None
    out = module.pat(q, k, v)
    assert out.grad_fn is not None
    d_out = torch.randn(out.shape, generator=gen)
    (dv,) = torch.autograd.grad(out, v, d_out)
    ref_v = v.detach().double().requires_grad_()
    ref, _ = reference_attention(pattern, q.double(), k.double(), ref_v)
    (want,) = torch.autograd.grad(ref, ref_v, d_out.double())
    torch.testing.assert_close(dv.double(), want, atol=2e-4, rtol=2e-4)


def test_gradients_of_rows_with_nothing_allowed_are_zero():
    module = patternc.load_source("pattern pat() { mask j > p + 100 }", "<test>", stem="t")
    q, k, v = (torch.randn(1, 1, 20, 16, requires_grad=True) for _ in range(3))
    module.pat(q, k, v).sum().backward()
    for t in (q, k, v):
        assert torch.all(t.grad == 0)


def test_gradcheck_float64_through_the_interpreter():
    module = patternc.load_source("pattern pat() { mask window(3) | global(2); score softcap(4.0) }", "<test>",
                                  stem="t")
    q, k, v = (torch.randn(1, 2, 9, 16, dtype=torch.float64, requires_grad=True) for _ in range(3))
    # float64 is not a kernel dtype: check the float32 kernels against finite differences of themselves
    f32 = lambda q, k, v: module.pat(q.float(), k.float(), v.float()).double()
    assert torch.autograd.gradcheck(f32, (q, k, v), eps=1e-2, atol=5e-3, rtol=5e-3, nondet_tol=1e-5)


@pytest.mark.parametrize("ids,Q,K", [("one document", 50, 64), ("packed", 50, 64), ("unsorted", 50, 64),
                                     ("packed", 270, 300), ("unsorted", 300, 270)])
def test_segments_forward_and_gradients(ids, Q, K):
    """Documents: the per-call device plan (and its transposed tables for dK/dV)
    with several query tiles per key tile; past 16 tiles a side, the plan
    kernel classifies the other side in several chunks."""
    source = "pattern pat() { mask segments & causal | segments & global(3) }"
    module = patternc.load_source(source, "<test>", stem="t")
    pattern = patternc.check_source(source)[0]
    gen = torch.Generator().manual_seed(1)
    B, H, D = 2, 2, 16
    segments = {"one document": torch.zeros((B, K), dtype=torch.int64),
                "packed": torch.sort(torch.randint(0, 4, (B, K), generator=gen)).values,
                "unsorted": torch.randint(0, 3, (B, K), generator=gen)}[ids]
    q, k, v = (torch.randn(B, H, n, D, generator=gen).requires_grad_() for n in (Q, K, K))
    os.environ["PATTERNC_TILE"] = "16x16"
    try:
        out = module.pat(q, k, v, segments=segments)
    finally:
        del os.environ["PATTERNC_TILE"]
    d_out = torch.randn(out.shape, generator=gen)
    got = torch.autograd.grad(out, (q, k, v), d_out)
    ref_in = [t.detach().double().requires_grad_() for t in (q, k, v)]
    ref, _ = reference_attention(pattern, *ref_in, segments=segments)
    want = torch.autograd.grad(ref, ref_in, d_out.double())
    torch.testing.assert_close(out.double(), ref, atol=1e-4, rtol=1e-4)
    for name, a, b in zip("qkv", got, want):
        torch.testing.assert_close(a.double(), b, atol=2e-4, rtol=2e-4, msg=lambda m: f"d{name}: {m}")


def test_captured_segments_build_their_tables_once_and_keep_a_copy():
    """NAME.segments(ids): the same results and gradients as the ids themselves;
    the plan kernel runs on the first call of each tiling only; later changes to
    the ids do not reach the capture."""
    module = patternc.load_source("pattern pat() { mask segments & causal }", "<test>", stem="t")
    gen = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 2, 70, 16, generator=gen) for _ in range(3))
    ids = torch.sort(torch.randint(0, 4, (2, 70), generator=gen)).values.to(torch.int32)
    captured = module.pat.segments(ids)
    assert repr(captured) == "Segments(pat: batch=2, keys=70, device=cpu)"
    builds = []
    original = module._with_segments
    module._with_segments = lambda *a, **kw: builds.append(a) or original(*a, **kw)
    os.environ["PATTERNC_TILE"] = "16x16"
    try:
        direct = [t.clone().requires_grad_() for t in (q, k, v)]
        want_out = module.pat(*direct, segments=ids)
        want = torch.autograd.grad(want_out.sum(), direct)
        assert len(builds) == 2  # forward (dQ shares it) and dK/dV's transposed one, every call
        builds.clear()
        ids[:, :35] = 7  # not seen by the capture
        for _ in range(2):
            inputs = [t.clone().requires_grad_() for t in (q, k, v)]
            out = module.pat(*inputs, segments=captured)
            got = torch.autograd.grad(out.sum(), inputs)
            torch.testing.assert_close(out, want_out.detach(), atol=0, rtol=0)
            for a, b in zip(got, want):
                torch.testing.assert_close(a, b, atol=0, rtol=0)
        assert len(builds) == 2  # the same two, on the first call only
        # built once, they are settled: consecutive tiles run as ranges
        plans = list(captured.plans.entries.values())
        assert plans[0]["full_ranges"]
        unsorted = torch.randint(0, 3, (2, 70), generator=gen)
        torch.testing.assert_close(module.pat(q, k, v, segments=module.pat.segments(unsorted)),
                                   module.pat(q, k, v, segments=unsorted), atol=0, rtol=0)
    finally:
        del os.environ["PATTERNC_TILE"]
        module._with_segments = original
    assert not torch.equal(module.pat(q, k, v, segments=ids), want_out.detach())
    torch.testing.assert_close(module.pat.mask(70, 70, segments=captured),
                               module.pat.mask(70, 70, segments=captured.ids.clone()))
    with pytest.raises(ValueError, match=r"segments must have shape \(2, 70\), got \(2, 69\)"):
        module.pat(q, k, v, segments=module.pat.segments(captured.ids[:, 1:]))
    with pytest.raises(TypeError, match="integer dtype"):
        module.pat.segments(torch.zeros(2, 70))


def test_backward_tiles_follow_the_length_of_rows(monkeypatch):
    """The prior (timed first, alone with PATTERNC_AUTOTUNE=0): long rows (mean
    >= 32 key tiles of 64) take 128-row dQ / 128-key dK/dV tiles on a GPU,
    short rows and unknown lengths (documents) the 64x64 ones."""
    monkeypatch.setenv("PATTERNC_AUTOTUNE", "0")
    module = patternc.load_source("pattern c() { mask causal }\npattern w() { mask causal & window(1023, 0) }",
                                  "<test>", stem="t")
    causal = module._mean_row_tiles(module.c.block_plan(4096, 4096, block_m=64, block_n=64))
    window = module._mean_row_tiles(module.w.block_plan(4096, 4096, block_m=64, block_n=64))
    assert causal == pytest.approx(32.5) and window == pytest.approx(14.875)
    gpu = torch.device("cuda")  # only its type is read: no GPU needed
    choose = module._choose_backward_tiles
    big, small = ((128, 64, 8, 3), (64, 128, 8, 3)), ((64, 64, 4, 2), (64, 64, 4, 2))
    assert choose(128, torch.bfloat16, gpu, None, lambda: causal) == big
    assert choose(128, torch.bfloat16, gpu, None, lambda: window) == small
    assert choose(128, torch.bfloat16, gpu, None, None) == small
    assert choose(64, torch.bfloat16, gpu, None, lambda: causal) == small  # measured at D = 128 only


def test_backward_tiles_are_timed_per_kernel_on_a_gpu(monkeypatch):
    """On a GPU (D <= 128) the forward leaves a _TileTrial: the first backward
    times dQ's candidates, then dK/dV's (they read the rows' terms dQ's runs
    leave), each list with the prior first. PATTERNC_AUTOTUNE=0 keeps the prior."""
    module = patternc.load_source("pattern c() { mask causal }", "<test>", stem="t")
    gpu = torch.device("cuda")  # only its type is read: no GPU needed
    long_rows = lambda: 40.0  # noqa: E731
    pending = module._choose_backward_tiles(128, torch.bfloat16, gpu, None, long_rows)
    assert isinstance(pending, module._TileTrial)
    order = []

    def dq_trial(cfg):
        order.append(("dq", cfg))

    def dkdv_trial(cfg):
        order.append(("dkdv", cfg))

    fastest = {(128, 64, 8, 3): 1.0, (64, 64, 4, 2): 0.9, (64, 128, 8, 3): 2.0, (32, 64, 4, 2): 0.5}

    def fake_fastest(configs, trial):
        for config in configs:
            trial(config)
        return min(configs, key=fastest.get)
    monkeypatch.setattr(module, "_fastest", fake_fastest)
    assert pending.timed(lambda: (dq_trial, dkdv_trial)) == ((64, 64, 4, 2), (32, 64, 4, 2))
    assert order == [("dq", (128, 64, 8, 3)), ("dq", (64, 64, 4, 2)),
                     ("dkdv", (64, 128, 8, 3)), ("dkdv", (64, 64, 4, 2)), ("dkdv", (32, 64, 4, 2))]
    short = module._choose_backward_tiles(128, torch.bfloat16, gpu, None, lambda: 10.0)
    assert short.candidates(0, "dq") == [(64, 64, 4, 2), (128, 64, 8, 3)]
    monkeypatch.setenv("PATTERNC_AUTOTUNE", "0")
    assert module._choose_backward_tiles(128, torch.bfloat16, gpu, None, long_rows) == (
        (128, 64, 8, 3), (64, 128, 8, 3))
    monkeypatch.delenv("PATTERNC_AUTOTUNE")
    assert module._choose_backward_tiles(256, torch.bfloat16, gpu, None, long_rows) == (
        (64, 32, 4, 1), (32, 64, 4, 1))  # not timed: one candidate
    monkeypatch.setenv("PATTERNC_BACKWARD_TILE", "32x16:4:1,16x32:4:1")
    assert module._choose_backward_tiles(128, torch.bfloat16, gpu, None, long_rows) == (
        (32, 16, 4, 1), (16, 32, 4, 1))


def test_bucket_order_backward_takes_a_pair_of_tiles_not_a_trial(monkeypatch):
    """The bucket-order backward launches dQ and dK/dV together and indexes its
    pair of tiles: with a `tile` line on a GPU (the path that falls back to the
    general chooser) it must get the prior pair, never a pending _TileTrial."""
    monkeypatch.delenv("PATTERNC_AUTOTUNE", raising=False)
    module = patternc.load_source("pattern h() { tile q=64, kv=64\n mask causal }", "<test>", stem="t")
    gpu = torch.device("cuda")  # only its type is read: no GPU needed
    assert isinstance(module._choose_backward_tiles(128, torch.bfloat16, gpu, (64, 64)), module._TileTrial)
    assert module._bucket_backward_tiles(128, torch.bfloat16, gpu, (64, 64)) == ((64, 64, 4, 2), (64, 64, 4, 2))


def test_first_backward_times_its_tiles_on_its_own_inputs(monkeypatch):
    """The first backward of a shape runs the trials of several tiles (on the
    interpreter here, standing in for the GPU's timing) before its own kernels:
    the gradients must still be right, and a second backward must not time again."""
    source = "pattern pat() { mask window(9) | global(3) }"
    module = patternc.load_source(source, "<test>", stem="t")
    pattern = patternc.check_source(source)[0]
    timings = []

    def choose(D, dtype, device, hint, row_tiles=None):
        return module._TileTrial(((16, 16, 4, 1), (16, 16, 4, 1)))

    def fake_fastest(configs, trial):
        for config in configs:
            trial(config)
        timings.append(configs)
        return configs[-1]
    monkeypatch.setattr(module, "_choose_backward_tiles", choose)
    monkeypatch.setattr(module, "_fastest", fake_fastest)
    monkeypatch.setattr(module, "_BACKWARD_CANDIDATES", {"dq": [(32, 16, 4, 1)], "dkdv": [(32, 16, 4, 1), (16, 32, 4, 1)]})
    gen = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(2, 2, 53, 16, generator=gen, requires_grad=True) for _ in range(3))
    d_out = torch.randn(2, 2, 53, 16, generator=gen)
    ref_inputs = [t.detach().double().requires_grad_() for t in (q, k, v)]
    want = torch.autograd.grad((reference_attention(pattern, *ref_inputs)[0] * d_out.double()).sum(), ref_inputs)
    monkeypatch.setenv("PATTERNC_TILE", "16x16")
    for call in range(2):
        out = module.pat(q, k, v)
        got = torch.autograd.grad((out * d_out).sum(), (q, k, v))
        for name, a, b in zip("qkv", got, want):
            torch.testing.assert_close(a.double(), b, atol=2e-4, rtol=2e-4, msg=lambda m: f"call {call} d{name}: {m}")
    assert timings == [[(16, 16, 4, 1), (32, 16, 4, 1)], [(16, 16, 4, 1), (32, 16, 4, 1), (16, 32, 4, 1)]]
    assert module.pat__configs.entries[next(key for key in module.pat__configs.entries if key[0] == "backward")] == (
        (32, 16, 4, 1), (16, 32, 4, 1))


def test_nested_blocks_whose_size_reads_the_enclosing_block_count():
    # inside blocks(4), K is the number of 4-blocks: the inner size is K // 3 of those
    run_and_compare("pattern pat() { mask blocks(4) { blocks(max(K // 3, 1)) { causal } | window(1) } }", 2, 45, 61)


def test_generated_value_trees_equal_lower_to_tree():
    """The module builds blockrt's value trees from emitted Python (codegen.python_tree);
    patternc builds them directly (lower.to_tree): the two must agree exactly."""
    import glob

    from patternc.bind import bind
    from patternc.codegen import python_tree
    from patternc.lower import to_tree

    for path in sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples", "*.attn"))):
        for pattern in patternc.check_source(open(path).read(), path):
            H = 4 if any("H" in r.text for r in pattern.requirements) else 8
            env = bind(pattern, {}, 1024, 1024, H)
            for group in pattern.groups:
                emitted = eval(python_tree(group.mask), {"env": env})  # noqa: S307 - our own output
                assert emitted == to_tree(group.mask, env), f"{path}:{pattern.name}"


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(pattern_source(), st.integers(1, 300), st.integers(1, 300))
def test_generated_value_trees_equal_lower_to_tree_on_random_patterns(case, Q, K):
    from patternc.bind import bind
    from patternc.codegen import python_tree
    from patternc.lower import to_tree

    source, H = case
    pattern = patternc.check_source(source)[0]
    env = bind(pattern, {}, Q, K, H)
    for group in pattern.groups:
        assert eval(python_tree(group.mask), {"env": env}) == to_tree(group.mask, env)  # noqa: S307


def test_a_long_global_list_compiles_and_matches_dense_attention():
    """global([...]) is a balanced tree of `or`s in the kernels: 200 positions
    (a chain nested 200 deep, refused as E0507 before) compile, and the listed
    rows and columns, scattered over every tile, come out exactly."""
    positions = ", ".join(str(t) for t in range(1, 400, 2))
    source = f"pattern listed() {{ mask window(2) | global([{positions}]) }}"
    run_and_compare(source, H=2, Q=45, K=45)
    run_backward_and_compare(source, H=2, Q=45, K=45)
