"""LSH `buckets` (Reformer) through the generated kernels under the Triton
interpreter: out, lse and gradients against float64 dense attention masked
with the hashes of the same call; the hashes against their definition; the
counting sort against torch.sort; bad runtime tensors.

Patterns of the form `buckets & rest` run in bucket order (sorted kernels, one
round at a time, rounds merged by lse); any other use of `buckets` runs the
static kernels with the bucket test inline. Both are drawn below."""
from __future__ import annotations

import os
from unittest import mock

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import patternc  # noqa: E402
from patternc import blockrt  # noqa: E402
from patternc.semantics import reference_attention  # noqa: E402

pytestmark = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1",
                                reason="CPU kernel tests need TRITON_INTERPRET=1 before triton is imported")

SORTED_FORMS = [
    "buckets({n}, rounds={r}, seed={s})",
    "causal & buckets({n}, rounds={r}, seed={s})",
    "buckets({n}, rounds={r}, seed={s}) & window({w})",
    "buckets({n}, rounds={r}, seed={s}) & segments",
    "buckets({n}, rounds={r}, seed={s}) & !global(2) & blocks(8) {{ random(1) }}",
]
INLINE_FORMS = [
    "buckets({n}, rounds={r}, seed={s}) | window({w})",
    "!buckets({n}, rounds={r}, seed={s}) & causal",
    "(buckets({n}, rounds={r}, seed={s}) != causal) | sink(1)",
]
MODIFIERS = ["", "; score softcap(2.5)", "; score alibi"]


def load(source):
    module = patternc.load_source(source, "<test>", stem="t")
    pattern = patternc.check_source(source)[0]
    return module, pattern, getattr(module, pattern.name)


def compare(source, B, H, H_kv, Q, K, D, seed, tile="16x16", rotations=None):
    module, pattern, fn = load(source)
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, Q, D, generator=gen)
    k = torch.randn(B, H_kv, K, D, generator=gen)
    v = torch.randn(B, H_kv, K, D, generator=gen)
    extra = {}
    if "segments" in pattern.runtime_inputs:
        extra["segments"] = torch.sort(torch.randint(0, 3, (B, K), generator=gen)).values
    if rotations is not None:
        extra["rotations"] = rotations
    q, k, v = (t.requires_grad_() for t in (q, k, v))
    with mock.patch.dict(os.environ, PATTERNC_TILE=tile):
        out, lse = fn(q, k, v, return_lse=True, **extra)
        with torch.no_grad():  # no backward to come: keys and values gathered in place, not copied first
            gathered, gathered_lse = fn(q, k, v, return_lse=True, **extra)
    torch.testing.assert_close(gathered, out.detach(), atol=0, rtol=0)
    torch.testing.assert_close(gathered_lse, lse.detach(), atol=0, rtol=0)
    hashes = fn.hashes(q.detach(), k.detach(), rotations=rotations)
    ref_in = [t.detach().double().requires_grad_() for t in (q, k, v)]
    ref, ref_lse = reference_attention(pattern, *ref_in, segments=extra.get("segments"), hashes=hashes)
    torch.testing.assert_close(out.double(), ref, atol=1e-4, rtol=1e-4)
    assert torch.equal(torch.isinf(lse), torch.isinf(ref_lse))
    finite = torch.isfinite(ref_lse)
    torch.testing.assert_close(lse.double()[finite], ref_lse[finite], atol=1e-4, rtol=1e-4)
    d_out, d_lse = torch.randn(out.shape, generator=gen), torch.randn(lse.shape, generator=gen)
    got = torch.autograd.grad((out * d_out).sum() + (lse.masked_fill(~finite, 0) * d_lse).sum(), (q, k, v))
    want = torch.autograd.grad((ref * d_out.double()).sum() + (ref_lse.masked_fill(~finite, 0) * d_lse.double()).sum(),
                               ref_in)
    for a, b in zip(got, want):
        torch.testing.assert_close(a.double(), b, atol=2e-4, rtol=2e-4)
    return module, fn, out, hashes


@settings(max_examples=14, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(SORTED_FORMS + INLINE_FORMS), st.sampled_from(MODIFIERS), st.sampled_from([2, 4, 6]),
       st.integers(1, 3), st.integers(0, 9), st.integers(1, 8), st.integers(1, 90), st.integers(1, 90),
       st.sampled_from([(1, 1, 1), (2, 2, 1), (1, 4, 2)]), st.sampled_from(["16x16", "32x16", "16x32"]),
       st.integers(0, 2**16))
def test_buckets_match_dense_attention(form, modifier, n, rounds, seed, w, Q, K, heads, tile, data_seed):
    B, H, H_kv = heads
    mask = form.format(n=n, r=rounds, s=seed, w=w)
    module, _, _, _ = compare(f"pattern lsh() {{ mask {mask}{modifier} }}", B, H, H_kv, Q, K, 16, data_seed, tile)
    # the forms above are sorted exactly when they are `buckets & rest`
    assert hasattr(module, "lsh__sorted_forward") == (form in SORTED_FORMS)


def test_rounds_merge_when_rows_span_many_blocks():
    # sizes past the counting sort's block of 64 rows, several rounds, grouped heads
    compare("pattern lsh() { mask buckets(8, rounds=3, seed=4) & causal }", 2, 4, 2, 150, 170, 32, 1, "32x32")


def test_one_bucket_tiles_skip_the_mask():
    # four buckets and a tile of 16 rows: most tiles lie in one bucket (the mask-free path)
    compare("pattern lsh() { mask buckets(4) }", 1, 2, 2, 160, 160, 16, 3)


@pytest.mark.parametrize("modifier", ["", "; score alibi, softcap(2.5)"])
def test_one_round_of_buckets_alone_compares_sorted_buckets(modifier):
    # one round of `buckets` alone: the kernels test equal sorted bucket ids
    # (SAME_BUCKET), reading positions only for the modifiers; grouped heads,
    # Q != K, sizes past the counting sort's block, tiles of 32 rows
    source = f"pattern lsh() {{ mask buckets(6){modifier} }}"
    assert "SAME_BUCKET=True and rounds == 1" in patternc.compile_source(source)
    compare(source, 2, 4, 2, 150, 131, 16, 5, "32x32")


def test_strided_inputs_give_the_contiguous_results():
    # q, k, v as views of (B, N, H, D) tensors: the bucket-order copies and
    # the gradients' layouts must not assume contiguous inputs
    _, _, fn = load("pattern lsh() { mask buckets(4, rounds=2) & causal }")
    gen = torch.Generator().manual_seed(6)
    q, k, v = (torch.randn(1, 70, 2, 16, generator=gen) for _ in range(3))
    strided = [t.transpose(1, 2).requires_grad_() for t in (q.clone(), k.clone(), v.clone())]
    dense = [t.transpose(1, 2).contiguous().requires_grad_() for t in (q, k, v)]
    assert not strided[1].is_contiguous()
    d_out = torch.randn(1, 2, 70, 16, generator=gen)
    outs = [fn(*inputs) for inputs in (strided, dense)]
    torch.testing.assert_close(outs[0], outs[1], atol=0, rtol=0)
    with torch.no_grad():  # gathered through the strides, not copied
        torch.testing.assert_close(fn(*strided), outs[1], atol=0, rtol=0)
    for a, b in zip(torch.autograd.grad(outs[0], strided, d_out), torch.autograd.grad(outs[1], dense, d_out)):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_rotations_default_to_the_seeded_draw_and_can_be_passed():
    source = "pattern lsh(n: int = 6) { mask buckets(n, rounds=2, seed=7) }"
    module, _, fn = load(source)
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 40, 16, generator=gen) for _ in range(3))
    drawn = blockrt.make_rotations(2, 16, 6, 7)
    assert torch.equal(fn(q, k, v), fn(q, k, v, rotations=drawn))
    other = torch.randn(2, 16, 3, generator=gen, dtype=torch.float64)  # any floating dtype
    assert not torch.equal(fn.hashes(q, k)[0], fn.hashes(q, k, rotations=other)[0])
    compare(source, 1, 2, 2, 40, 40, 16, 5, rotations=other)
    # the pattern's params reach the hashing: n = 4 buckets, rotations (2, 16, 2)
    assert fn.hashes(q, k, n=4)[0].max() < 4
    with pytest.raises(ValueError, match=r"rotations must have shape \(rounds=2, D=16, n/2=2\)"):
        fn(q, k, v, n=4, rotations=other)


@pytest.mark.parametrize("n", [8, 200])
def test_hashes_follow_their_definition(n):
    """hash_r(x) = argmax([x Rot_r, -x Rot_r]), the kernel's float32 against float64,
    wherever the best two values are not a near tie (200 buckets: the rotation
    is read in several column chunks, the counts in several bucket chunks)."""
    _, _, fn = load(f"pattern lsh() {{ mask buckets({n}, rounds=3, seed=2) }}")
    gen = torch.Generator().manual_seed(1)
    q, k = torch.randn(2, 3, 130, 24, generator=gen), torch.randn(2, 1, 70, 24, generator=gen)
    query, key = fn.hashes(q, k)
    assert query.shape == (3, 2, 3, 130) and key.shape == (3, 2, 1, 70) and query.dtype == torch.int32
    rotations = blockrt.make_rotations(3, 24, n, 2).double()
    for x, got in ((q, query), (k, key)):
        projected = torch.einsum("bhld,rde->rbhle", x.double(), rotations)
        both = torch.cat([projected, -projected], dim=-1)
        top = both.topk(2, dim=-1).values
        clear = (top[..., 0] - top[..., 1]) > 1e-4
        assert clear.float().mean() > 0.9
        assert torch.equal(got.long()[clear], both.argmax(-1)[clear])


@pytest.mark.parametrize("n", [6, 150])
def test_counting_sort_matches_a_stable_sort(n):
    module, _, fn = load(f"pattern lsh() {{ mask buckets({n}, rounds=2) }}")
    gen = torch.Generator().manual_seed(2)
    q, k = torch.randn(1, 2, 333, 16, generator=gen), torch.randn(1, 2, 65, 16, generator=gen)
    rotations = blockrt.make_rotations(2, 16, n, 0)
    query, key, counts = module._lsh_hashes(q, k, rotations)
    v = torch.randn(1, 2, 65, 16, generator=gen).transpose(2, 3).contiguous().transpose(2, 3)  # any strides
    tables = module._bucket_tables(query, key, counts, n, k, v)
    # the keys and values copied into each round's bucket order
    order = tables["k_order"].long().view(2, 1, 2, 65)
    for name, x in (("k_rows", k), ("v_rows", v)):
        assert tables[name].shape == (2, 1, 2, 65, 16)
        for r in range(2):
            want = torch.gather(x, 2, order[r][..., None].expand(-1, -1, -1, 16))
            assert torch.equal(tables[name][r], want)
    for side, hashes in (("q", query), ("k", key)):
        rows = hashes.reshape(-1, hashes.shape[-1]).long()
        values, order = torch.sort(rows, dim=-1, stable=True)

        def table(name, width):  # flat, row after row (padded past the end to 16 bytes)
            flat = tables[side + name]
            assert flat.dim() == 1 and flat.data_ptr() % 16 == 0
            return flat[:rows.shape[0] * width].view(rows.shape[0], width).long()
        assert torch.equal(table("_order", rows.shape[1]), order)
        assert torch.equal(table("_sorted", rows.shape[1]), values)
        starts = torch.stack([torch.searchsorted(r, torch.arange(n + 1)) for r in values])
        assert torch.equal(table("_start", n + 1), starts)
    # without copies (a forward that needs no gradients) the same order, and no k_rows or v_rows
    plain = module._bucket_tables(query, key, counts, n, k, v, copy=False)
    assert plain["k_rows"] is None and plain["v_rows"] is None
    for name in ("q_order", "k_order", "q_start", "k_start"):
        assert torch.equal(plain[name], tables[name])


def test_mask_of_a_call_and_empty_inputs():
    _, _, fn = load("pattern lsh() { mask causal & buckets(4) }")
    gen = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 2, 30, 16, generator=gen) for _ in range(3))
    query, key = fn.hashes(q, k)
    mask = fn.mask(30, 30, 2, hashes=(query, key))
    same = (query[0][..., :, None] == key[0][..., None, :])
    assert torch.equal(mask, same & torch.ones(30, 30, dtype=torch.bool).tril())
    empty = fn(q[:, :, :0], k, v)
    assert empty.shape == (2, 2, 0, 16)


def test_bad_runtime_tensors_get_clear_errors():
    _, _, fn = load("pattern lsh() { mask buckets(4, rounds=2) }")
    q = k = v = torch.randn(1, 2, 20, 16)
    cases = [
        (dict(rotations=torch.randn(2, 16, 3)), ValueError, r"rotations must have shape \(rounds=2, D=16, n/2=2\)"),
        (dict(rotations=torch.ones(2, 16, 2, dtype=torch.int64)), TypeError, "rotations must be a floating tensor"),
        (dict(rotations=[[1.0]]), TypeError, "rotations must be a torch.Tensor, got list"),
        (dict(rotations=torch.randn(2, 16, 2, device="meta")), ValueError, "rotations is on meta"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            fn(q, k, v, **kwargs)
    with pytest.raises(TypeError, match=r"mask\(\) needs hashes="):
        fn.mask(20, 20, 2)
    query, key = fn.hashes(q, k)
    with pytest.raises(ValueError, match="query hashes must have shape"):
        fn.mask(20, 20, 2, hashes=(query[:1], key))
    with pytest.raises(ValueError, match="key hashes must have shape"):
        fn.mask(20, 21, 2, hashes=(query[:, :, :, :20], key))
    with pytest.raises(ValueError, match=r"hashes must lie in 0\.\.3"):
        fn.mask(20, 20, 2, hashes=(query + 4, key))
    with pytest.raises(TypeError, match="hashes must be a pair of tensors"):
        fn.mask(20, 20, 2, hashes=query)
