"""patternc.nn.PatternAttention in a small transformer block and patternc.ops'
custom ops: eager results and gradients against float64 dense attention,
torch.compile(fullgraph=True) tracing with no graph break (the eager and
aot_eager backends, which run on the CPU), the ops' fake shapes and autograd
(torch.library.opcheck), and the module's errors.

Kernels run on the CPU in Triton's interpreter (TRITON_INTERPRET=1 before
triton is imported), with 16x16 tiles so that small inputs span many tiles."""
from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

import pytest  # noqa: E402
import torch  # noqa: E402

import patternc  # noqa: E402
from patternc import ops  # noqa: E402
from patternc.nn import PatternAttention  # noqa: E402
from patternc.semantics import reference_attention  # noqa: E402

pytestmark = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1",
                                reason="CPU kernel tests need TRITON_INTERPRET=1 before triton is imported")

LOCAL = "pattern local(w: int = 4, s: int = 2) { mask causal & window(w, 0) | sink(s) }"


@pytest.fixture(autouse=True)
def small_tiles(monkeypatch):
    monkeypatch.setenv("PATTERNC_TILE", "16x16")


class Block(torch.nn.Module):
    """A pre-norm transformer block whose attention is a patternc pattern."""

    def __init__(self, dim: int = 32, heads: int = 2, **params):
        super().__init__()
        self.heads = heads
        self.norm = torch.nn.LayerNorm(dim)
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.attn = PatternAttention(LOCAL, num_heads=heads, **params)
        self.proj = torch.nn.Linear(dim, dim)

    def forward(self, x):
        B, L, C = x.shape
        q, k, v = self.qkv(self.norm(x)).view(B, L, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        out = self.attn(q, k, v)  # (B, H, L, D)
        return x + self.proj(out.transpose(1, 2).reshape(B, L, C))


def grads(module, x):
    module.zero_grad()
    y = module(x)
    (y * torch.linspace(-1, 1, y.numel()).view(y.shape)).sum().backward()
    return y.detach(), [p.grad.clone() for p in module.parameters()]


def test_pattern_attention_matches_dense_attention():
    torch.manual_seed(0)
    attn = PatternAttention(LOCAL, num_heads=2, w=6)
    q, k, v = (torch.randn(2, 2, 37, 16, requires_grad=True) for _ in range(3))
    out = attn(q, k, v)
    pattern = patternc.check_source(LOCAL)[0]
    ref_in = [t.detach().double().requires_grad_() for t in (q, k, v)]
    ref, _ = reference_attention(pattern, *ref_in, params={"w": 6})
    torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-5)
    d = torch.randn_like(out)
    got = torch.autograd.grad(out, (q, k, v), d)
    want = torch.autograd.grad(ref, ref_in, d.double())
    for a, b in zip(got, want):
        torch.testing.assert_close(a.double(), b, atol=1e-5, rtol=1e-5)
    assert attn.mask(37).shape == (2, 37, 37) and repr(attn).startswith("PatternAttention(pattern=local, num_heads=2")


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_torch_compile_fullgraph_matches_eager(backend):
    torch.manual_seed(0)
    block = Block(w=6)
    x = torch.randn(2, 37, 32)
    y0, g0 = grads(block, x)
    torch._dynamo.reset()
    compiled = torch.compile(block, backend=backend, fullgraph=True)
    y1, g1 = grads(compiled, x)
    torch.testing.assert_close(y1, y0, atol=1e-6, rtol=1e-6)
    for a, b in zip(g1, g0):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_dynamo_sees_one_graph_and_the_custom_op():
    torch._dynamo.reset()
    block = Block()
    explanation = torch._dynamo.explain(block)(torch.randn(1, 20, 32))
    assert explanation.graph_count == 1 and explanation.graph_break_count == 0
    code = explanation.graphs[0].code
    assert "torch.ops.patternc.local_" in code


def test_custom_op_shapes_autograd_and_lse():
    module = patternc.load_source(LOCAL, "<test>", stem="local")
    attention = ops.register(module.local)
    assert ops.register(module.local) is attention  # registered once
    q = torch.randn(1, 4, 21, 16, requires_grad=True)
    k, v = (torch.randn(1, 2, 30, 16, requires_grad=True) for _ in range(2))  # grouped-query heads
    out, lse = attention(q, k, v, w=5, return_lse=True)
    ref_out, ref_lse = module.local(q, k, v, w=5, return_lse=True)
    assert torch.equal(out, ref_out) and torch.equal(lse, ref_lse) and lse.dtype == torch.float32
    d_out, d_lse = torch.randn_like(out), torch.randn_like(lse)
    got = torch.autograd.grad((out * d_out).sum() + (lse * d_lse).sum(), (q, k, v))
    want = torch.autograd.grad((ref_out * d_out).sum() + (ref_lse * d_lse).sum(), (q, k, v))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)
    torch.library.opcheck(attention.op, (q.detach(), k.detach(), v.detach(), None, 5, 2))
    inputs = (q.detach(), k.detach(), v.detach(), out.detach(), lse.detach(), d_out, d_lse, None, 5, 2)
    torch.library.opcheck(attention.backward_op, inputs)
    # the backward op runs the backward kernels alone (no forward rerun): same gradients as autograd
    for a, b in zip(attention.backward_op(*inputs), want):
        torch.testing.assert_close(a, b)
    calls, original = [], module.local__run_forward
    module.local__run_forward = lambda *args: calls.append(1) or original(*args)
    try:
        torch.autograd.grad(attention(q, k, v, w=5).sum(), (q, k, v))
    finally:
        module.local__run_forward = original
    assert len(calls) == 1  # forward and backward through the ops run the forward kernel once
    with torch._subclasses.FakeTensorMode():
        fq = torch.empty(3, 4, 50, 16)
        fk = torch.empty(3, 2, 70, 16)
        fake_out, fake_lse = attention.op(fq, fk, fk, 0.5, 5, 2)
        assert fake_out.shape == (3, 4, 50, 16) and fake_lse.shape == (3, 4, 50)
        assert fake_lse.dtype == torch.float32


def test_segments_through_the_op_and_the_module():
    source = "pattern docs() { mask segments & causal }"
    attn = PatternAttention(source, num_heads=2)
    q, k, v = (torch.randn(2, 2, 24, 16) for _ in range(3))
    segments = torch.tensor([[0] * 10 + [1] * 14, [0] * 24])
    direct = attn.function(q, k, v, segments=segments)
    torch.testing.assert_close(attn(q, k, v, segments=segments), direct)
    torch.testing.assert_close(attn.attention(q, k, v, segments=segments), direct)
    captured = attn.function.segments(segments)  # the op takes its ids; the module passes it on
    torch.testing.assert_close(attn.attention(q, k, v, segments=captured), direct)
    torch.testing.assert_close(attn(q, k, v, segments=captured), direct)
    with pytest.raises(TypeError, match="needs segments="):
        attn.attention(q, k, v)
    torch._dynamo.reset()
    compiled = torch.compile(attn, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(q, k, v, segments=segments), direct)


def test_buckets_through_the_op_and_the_module():
    source = "pattern lsh() { mask buckets(4, rounds=2) & causal }"
    attn = PatternAttention(source, num_heads=2)
    gen = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(1, 2, 40, 16, generator=gen) for _ in range(3))
    rotations = torch.randn(2, 16, 2, generator=gen)
    direct, direct_own = attn.function(q, k, v), attn.function(q, k, v, rotations=rotations)
    assert not torch.equal(direct, direct_own)
    torch.testing.assert_close(attn(q, k, v), direct)
    torch.testing.assert_close(attn(q, k, v, rotations=rotations), direct_own)
    torch.testing.assert_close(attn.attention(q, k, v), direct)
    torch.testing.assert_close(attn.attention(q, k, v, rotations=rotations), direct_own)
    # gradients through the op's backward, with the rotations saved for it
    inputs = [t.clone().requires_grad_() for t in (q, k, v)]
    got = torch.autograd.grad(attn.attention(*inputs, rotations=rotations).sum(), inputs)
    inputs = [t.clone().requires_grad_() for t in (q, k, v)]
    want = torch.autograd.grad(attn.function(*inputs, rotations=rotations).sum(), inputs)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)
    plain = PatternAttention("pattern c() { mask causal }")
    with pytest.raises(TypeError, match="takes no rotations"):
        plain.attention(q, k, v, rotations=rotations)
    torch._dynamo.reset()
    compiled = torch.compile(attn, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(q, k, v, rotations=rotations), direct_own)


def test_module_errors(tmp_path):
    with pytest.raises(TypeError, match="unexpected param 'ww'"):
        PatternAttention(LOCAL, ww=3)
    with pytest.raises(ValueError, match="choose one with pattern="):
        PatternAttention(LOCAL + "\npattern other() { mask full }")
    with pytest.raises(ValueError, match="no pattern 'nope'"):
        PatternAttention(LOCAL, pattern="nope")
    with pytest.raises(FileNotFoundError):
        PatternAttention(str(tmp_path / "missing.attn"))
    path = tmp_path / "local.attn"
    path.write_text(LOCAL)
    attn = PatternAttention(path, num_heads=3)
    with pytest.raises(ValueError, match="q has 2 heads, the module 3"):
        attn(*(torch.randn(1, 2, 8, 16) for _ in range(3)))
    assert PatternAttention(str(path)).pattern == "local"
