"""Ahead-of-time compilation of generated kernels for a GPU target, on any
machine: `triton.compile` with a `GPUTarget` needs no GPU. CI uses it to catch
errors that the interpreter never sees (non-constexpr globals, type errors in
the lowering to TTGIR, shared-memory overflows)."""
from __future__ import annotations

import re

CONSTEXPRS = ("HEAD_DIM", "HEAD_DIM_PAD", "BLOCK_M", "BLOCK_N", "IEEE_DOT", "DILATION", "FULL_RANGES",
              "PARTIAL_RANGES", "MASK_FREE", "ACCUMULATE", "HAS_DLSE", "SAME_BUCKET", "COPIED",
              "FOLD_SCALE")
TENSOR_ARGS = ("q_ptr", "k_ptr", "v_ptr", "out_ptr", "do_ptr", "dq_ptr", "dk_ptr", "dv_ptr", "q_rows_ptr",
               "k_rows_ptr", "v_rows_ptr", "do_rows_ptr")
FLOAT_ARGS = ("lse_ptr", "dlse_ptr", "lse2_ptr", "delta_ptr", "piece_out_ptr", "piece_lse_ptr", "piece_dq_ptr",
              "piece_dk_ptr", "piece_dv_ptr", "lse2_rows_ptr", "delta_rows_ptr")


def signature(kernel, dtype: str = "bf16") -> dict:
    """Triton types of a generated kernel's arguments, from their names."""
    sig = {}
    for name in kernel.arg_names:
        if name in CONSTEXPRS:
            sig[name] = "constexpr"
        elif name in TENSOR_ARGS:
            sig[name] = f"*{dtype}"
        elif name in FLOAT_ARGS:
            sig[name] = "*fp32"
        elif re.fullmatch(r"rand\d+_ptr", name):
            sig[name] = "*u8"
        elif name in ("seg_ptr",):
            sig[name] = "*i64"
        elif name.endswith("_ptr"):
            sig[name] = "*i32"
        elif name == "sm_scale" or re.fullmatch(r"f\d+", name):
            sig[name] = "fp32"
        else:
            sig[name] = "i32"
    return sig


def compile_kernel(kernel, *, head_dim=128, block_m=128, block_n=128, dtype="bf16", num_warps=8, num_stages=3,
                   arch=90, dilation=1, ranges=False, mask_free=True, accumulate=True, same_bucket=None,
                   copied=True):
    """Compile one generated forward kernel for CUDA sm_`arch`; returns triton's CompiledKernel."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    pad = max(16, triton.next_power_of_2(head_dim))
    values = {"HEAD_DIM": head_dim, "HEAD_DIM_PAD": pad, "BLOCK_M": block_m, "BLOCK_N": block_n,
              "IEEE_DOT": dtype == "fp32", "DILATION": dilation, "FULL_RANGES": ranges, "PARTIAL_RANGES": ranges,
              "MASK_FREE": mask_free, "ACCUMULATE": accumulate, "HAS_DLSE": True,
              "SAME_BUCKET": mask_free if same_bucket is None else same_bucket, "FOLD_SCALE": block_m >= 128,
              "COPIED": copied}
    names = kernel.arg_names
    constexprs = {(names.index(n),): v for n, v in values.items() if n in names}
    source = ASTSource(fn=kernel, signature=signature(kernel, dtype), constexprs=constexprs)
    return triton.compile(source, target=GPUTarget("cuda", arch, 32),
                          options={"num_warps": num_warps, "num_stages": num_stages})


# The generated kernels and the tiles the H100 runs them with.
KERNELS = (
    ("forward", dict(block_m=128, block_n=128, num_warps=8, num_stages=3)),
    ("backward_dq", dict(block_m=64, block_n=64, num_warps=4, num_stages=2)),
    ("backward_dkdv", dict(block_m=64, block_n=64, num_warps=4, num_stages=2)),
)
# Patterns of the form `buckets & rest` run these instead (bucket order).
SORTED_KERNELS = (
    ("sorted_forward", dict(block_m=64, block_n=64, num_warps=4, num_stages=3)),
    ("sorted_backward_dq", dict(block_m=64, block_n=64, num_warps=4, num_stages=2)),
    ("sorted_backward_dkdv", dict(block_m=32, block_n=64, num_warps=4, num_stages=3)),
)

# Kernels compiled in more than one form: label -> compile_kernel arguments over the tiles above.
_FORMS = {
    # 128-row tiles fold the scale into the exponent; 64x64 (most sparse patterns) does not
    "forward": {"": {}, " [64x64]": dict(block_m=64, block_n=64, num_warps=4, num_stages=3)},
    # long rows (dense, causal, prefix-LM at D = 128) run the backward on larger tiles
    "backward_dq": {"": {}, " [long rows]": dict(block_m=128, block_n=64, num_warps=8, num_stages=3)},
    "backward_dkdv": {"": {}, " [long rows]": dict(block_m=64, block_n=128, num_warps=8, num_stages=3)},
    # bucket order: one round of `buckets` alone, and any other mask
    **{name: {" [general mask]": dict(same_bucket=False), " [same bucket]": dict(same_bucket=True)}
       for name, _ in SORTED_KERNELS},
}
# ... and a forward without gradients, which gathers k and v instead of reading copies
_FORMS["sorted_forward"][" [gathered]"] = dict(same_bucket=True, copied=False)


def compile_helpers(module) -> list[str]:
    """The generated module's shared kernels (per-call segment plans, LSH
    hashing and sorting), compiled for sm_90 like the
    pattern kernels."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    helpers = {
        "_segment_plan": ({"segments_ptr": "*i64", "base_ptr": "*i8", "anded_ptr": "*i8"},
                          {"BLOCK_M": 128, "BLOCK_N": 128, "TRANSPOSED": True, "CHUNK": 16}),
        "_lsh_hash": ({"q_ptr": "*bf16", "k_ptr": "*bf16", "rot_ptr": "*fp32"},
                      {"HEAD_DIM": 128, "HEAD_DIM_PAD": 128, "CHUNK": 16, "BLOCK": 64, "BY_COLUMN": True,
                       "HALF": 8}),
        "_lsh_hash[dots]": ({"q_ptr": "*bf16", "k_ptr": "*bf16", "rot_ptr": "*fp32"},
                            {"HEAD_DIM": 128, "HEAD_DIM_PAD": 128, "CHUNK": 16, "BLOCK": 64, "BY_COLUMN": False,
                             "HALF": 0}),
        "_merge_round_results": ({"out_rounds_ptr": "*fp32", "lse_rounds_ptr": "*fp32", "out_ptr": "*bf16",
                                  "lse_ptr": "*fp32"}, {"HEAD_DIM": 128, "HEAD_DIM_PAD": 128, "BLOCK": 64}),
        "_bucket_place": ({"k_ptr": "*bf16", "v_ptr": "*bf16", "k_sorted_rows_ptr": "*bf16",
                           "v_sorted_rows_ptr": "*bf16"},
                          {"CHUNK": 64, "BLOCK": 64, "HEAD_DIM": 128, "HEAD_DIM_PAD": 128, "COPY": True}),
    }
    lines = []
    for name, (pointers, constants) in helpers.items():
        kernel = getattr(module, name.partition("[")[0])
        signature = {}
        for arg in kernel.arg_names:
            if arg in constants:
                signature[arg] = "constexpr"
            elif arg in pointers:
                signature[arg] = pointers[arg]
            else:
                signature[arg] = "*i32" if arg.endswith("_ptr") else "i32"
        constexprs = {(kernel.arg_names.index(k),): v for k, v in constants.items()}
        triton.compile(ASTSource(fn=kernel, signature=signature, constexprs=constexprs),
                       target=GPUTarget("cuda", 90, 32))
        lines.append(f"{name}: sm_90 ok")
    return lines


def compile_files(paths, *, head_dims=(128,), dtype="bf16", helpers=True) -> list[str]:
    """Compile every pattern's kernels of the files for sm_90 (and, with
    `helpers`, the shared kernels once); returns report lines."""
    from . import loader
    from .pipeline import check_source

    lines = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            patterns = check_source(f.read(), path)
        if not patterns:
            continue
        module = loader.load(path)
        if helpers:  # once, with the first module
            lines += compile_helpers(module)
            helpers = False
        for p in patterns:
            kernels = SORTED_KERNELS if hasattr(module, f"{p.name}__sorted_forward") else KERNELS
            for d in head_dims:
                for kernel, tiles in kernels:
                    for label, form in _FORMS.get(kernel, {"": {}}).items():
                        compiled = compile_kernel(getattr(module, f"{p.name}__{kernel}"), head_dim=d, dtype=dtype,
                                                  **{**tiles, **form})
                        ptx = compiled.asm["ptx"]
                        lines.append(f"{path}:{p.name}: {kernel}{label} D={d} sm_90 ok, shared "
                                     f"{compiled.metadata.shared} bytes, wgmma {'yes' if 'wgmma' in ptx else 'NO'}")
    return lines


def main(argv=None) -> int:
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m patternc.aot",
                                     description="compile every kernel of .attn files for sm_90, no GPU needed")
    parser.add_argument("files", nargs="+")
    parser.add_argument("--head-dims", default="64,128", help="comma-separated, e.g. 64,128")
    parser.add_argument("--no-helpers", action="store_true",
                        help="skip the shared kernels (segment plans, LSH hashing and sorting)")
    args = parser.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        parser.error("unset TRITON_INTERPRET (it replaces the compiler)")
    try:
        head_dims = tuple(int(d) for d in args.head_dims.split(","))
    except ValueError:
        parser.error(f"--head-dims takes comma-separated integers, got {args.head_dims!r}")
    print("\n".join(compile_files(args.files, head_dims=head_dims, helpers=not args.no_helpers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
