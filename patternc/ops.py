"""Compiled patterns as `torch.library` custom ops, so that `torch.compile`
traces models that use them (fullgraph=True: no graph breaks) and treats the
attention as one opaque op with known output shapes.

    module = patternc.load("examples/longformer.attn")
    attention = patternc.ops.register(module.longformer)    # once per pattern
    out = attention(q, k, v, w=256)                          # as module.longformer
    out, lse = attention(q, k, v, w=256, return_lse=True)

Two ops per pattern, `patternc::<name>_<id>` (forward: out and lse) and
`patternc::<name>_<id>_backward` (dq, dk, dv), with fake (meta) versions giving
their shapes: out like q, lse (B, H, Q) float32, gradients like q, k, v.

The forward op saves q, k, v, out and lse; the backward op runs the generated
module's backward kernels on them (`<name>__attend(..., gradients=...)`), so
forward+backward through the ops costs what calling the generated function
does. (A callable that is not a generated pattern has no such entry: its
backward op recomputes the forward under autograd.) PatternAttention
(patternc.nn) calls the function directly in eager mode and the ops only while
being compiled.
"""
from __future__ import annotations

import hashlib
import inspect
import sys

import torch

NAMESPACE = "patternc"
_REQUIRED = object()
_registered: dict = {}


def register(function, name: str | None = None):
    """A callable with the signature of the generated `function` (a pattern of
    a patternc module) that runs it through custom ops. Registering the same
    function again returns the same callable."""
    key = (getattr(function, "__module__", None), getattr(function, "__name__", None))
    if key in _registered:
        return _registered[key]
    specs = param_specs(function)
    tensors = runtime_tensors(function)
    name = name or _op_name(function)
    forward_op, backward_op = _define_ops(function, name, specs, tensors)
    wrapper = _wrapper(function, forward_op, specs, tensors)
    wrapper.op, wrapper.backward_op = forward_op, backward_op
    _registered[key] = wrapper
    return wrapper


def param_specs(function):
    """((name, 'int' | 'float', default or _REQUIRED), ...) of a generated
    pattern function."""
    module = sys.modules.get(function.__module__)
    table = getattr(module, f"{function.__name__}__PARAMS", None)
    signature = inspect.signature(function)
    if table is not None:
        specs = tuple((n, kind, _REQUIRED if default is getattr(module, "_REQUIRED", None) else default)
                      for n, kind, default in table)
    else:  # not a generated module: read the signature (defaults give the types)
        skip = {"scale", "return_lse", "segments", "rotations"}
        specs = tuple((p.name, "float" if isinstance(p.default, float) else "int",
                       _REQUIRED if p.default is inspect.Parameter.empty else p.default)
                      for p in signature.parameters.values()
                      if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in skip)
    return specs


def runtime_tensors(function) -> tuple[str, ...]:
    """The call-time tensors a generated pattern function takes: `segments`
    (required by its mask) and `rotations` (optional, LSH buckets)."""
    parameters = inspect.signature(function).parameters
    return tuple(name for name in ("segments", "rotations") if name in parameters)


def bind_params(pattern: str, specs, given: dict) -> tuple:
    """The values of every param in declaration order, defaults filled in
    (TypeError for unknown, missing or mistyped ones)."""
    known = [n for n, _, _ in specs]
    unknown = [n for n in given if n not in known]
    if unknown:
        raise TypeError(f"{pattern}() got an unexpected param {unknown[0]!r}; its params are "
                        f"{', '.join(known) or '(none)'}")
    values = []
    for n, kind, default in specs:
        value = given.get(n, default)
        if value is _REQUIRED:
            raise TypeError(f"{pattern}() missing required keyword argument {n!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{pattern}(): param {n!r} must be a number, got {type(value).__name__}")
        if kind == "int" and isinstance(value, float):
            if not value.is_integer():
                raise TypeError(f"{pattern}(): param {n!r} must be an int, got {value!r}")
            value = int(value)
        values.append(float(value) if kind == "float" else value)
    return tuple(values)


def _op_name(function) -> str:
    # the module name holds the hash of the source: one op per compiled text
    digest = hashlib.sha256(function.__module__.encode()).hexdigest()[:10]
    return f"{function.__name__}_{digest}"


def _schema(specs, tensors, head: str, returns: str) -> str:
    params = "".join(f", {kind} p_{n}" for n, kind, _ in specs)
    tail = "".join(f", Tensor? {name}" for name in tensors)
    return f"({head}, float? scale{params}{tail}) -> {returns}"


def _define_ops(function, name: str, specs, tensors):
    names = [n for n, _, _ in specs]
    module = sys.modules.get(getattr(function, "__module__", None))
    attend = getattr(module, f"{function.__name__}__attend", None)  # the generated module's own entry

    def split(args):
        """The op's trailing arguments as (params, call-time tensors that were passed)."""
        params = dict(zip(names, args[:len(names)]))
        return params, {t: value for t, value in zip(tensors, args[len(names):]) if value is not None}

    def call(q, k, v, scale, args):
        params, given = split(args)
        return function(q, k, v, scale=scale, return_lse=True, **params, **given)

    def forward_impl(q, k, v, scale, *args):
        with torch.no_grad():  # the op's own autograd formula below applies, not the function's
            out, lse = call(q, k, v, scale, args)
        return out, lse

    def backward_impl(q, k, v, out, lse, dout, dlse, scale, *args):
        if attend is not None:  # the backward kernels alone, on the forward's out and lse
            params, given = split(args)
            return tuple(attend(q, k, v, scale, params, gradients=(out, lse, dout, dlse), **given))
        with torch.enable_grad():  # not a generated pattern: its own backward on a recomputed forward
            inputs = [t.detach().requires_grad_(True) for t in (q, k, v)]
            out, lse = call(*inputs, scale, args)
            dq, dk, dv = torch.autograd.grad((out, lse), inputs, (dout, dlse), allow_unused=True)
        return tuple(torch.zeros_like(t) if g is None else g for g, t in zip((dq, dk, dv), (q, k, v)))

    forward_op = torch.library.custom_op(
        f"{NAMESPACE}::{name}", forward_impl, mutates_args=(),
        schema=_schema(specs, tensors, "Tensor q, Tensor k, Tensor v", "(Tensor, Tensor)"))
    backward_op = torch.library.custom_op(
        f"{NAMESPACE}::{name}_backward", backward_impl, mutates_args=(),
        schema=_schema(specs, tensors,
                       "Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dout, Tensor dlse",
                       "(Tensor, Tensor, Tensor)"))

    @forward_op.register_fake
    def _(q, k, v, scale, *args):
        return q.new_empty(q.shape), q.new_empty(q.shape[:3], dtype=torch.float32)

    @backward_op.register_fake
    def _(q, k, v, out, lse, dout, dlse, scale, *args):
        return q.new_empty(q.shape), k.new_empty(k.shape), v.new_empty(v.shape)

    def setup_context(ctx, inputs, output):
        q, k, v, scale, *args = inputs
        given = args[len(names):]  # the call-time tensors, None where not passed
        ctx.save_for_backward(q, k, v, *output, *(t for t in given if t is not None))
        ctx.scale, ctx.args, ctx.given = scale, tuple(args[:len(names)]), tuple(t is not None for t in given)

    def backward(ctx, dout, dlse):
        q, k, v, out, lse, *rest = ctx.saved_tensors
        if dout is None:
            dout = torch.zeros_like(q)
        if dlse is None:
            dlse = q.new_zeros(q.shape[:3], dtype=torch.float32)
        saved = iter(rest)
        tail = tuple(next(saved) if present else None for present in ctx.given)
        dq, dk, dv = backward_op(q, k, v, out, lse, dout, dlse, ctx.scale, *ctx.args, *tail)
        return (dq, dk, dv, None, *([None] * len(names)), *([None] * len(tensors)))

    forward_op.register_autograd(backward, setup_context=setup_context)
    return forward_op, backward_op


def _wrapper(function, forward_op, specs, tensors):
    pattern = function.__name__

    def attention(q, k, v, /, *, scale=None, return_lse=False, segments=None, rotations=None, **params):
        values = bind_params(pattern, specs, params)
        if "segments" in tensors and segments is None:
            raise TypeError(f"{pattern}() needs segments=: an integer tensor (B, K) of document ids")
        if "segments" not in tensors and segments is not None:
            raise TypeError(f"{pattern}() takes no segments: its mask does not read `segments`")
        if "rotations" not in tensors and rotations is not None:
            raise TypeError(f"{pattern}() takes no rotations: its mask does not use `buckets`")
        if getattr(segments, "_patternc_segments", False):
            segments = segments.ids  # an op takes tensors: its tables are built per call here
        given = {"segments": segments, "rotations": rotations}
        out, lse = forward_op(q, k, v, scale, *values, *(given[t] for t in tensors))
        return (out, lse) if return_lse else out

    attention.__name__ = attention.__qualname__ = pattern
    attention.__doc__ = (f"`{pattern}` through the custom op {forward_op._qualname}; same arguments and "
                         f"results as the generated function:\n\n{function.__doc__ or ''}")
    attention.function = function
    return attention
