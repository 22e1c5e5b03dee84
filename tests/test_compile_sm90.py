"""Every generated forward kernel compiles for the H100 (sm_90) on this CPU
machine, with the tensor-core instructions we expect (wgmma). Runs in a child
process: the rest of the suite uses the interpreter, which replaces triton's
compiler in the process that imports triton with TRITON_INTERPRET=1."""
from __future__ import annotations

import glob
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..")


def run_aot(paths):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    # D = 128 only: each kernel takes seconds to compile, and the CPU tests cover other head dims
    return subprocess.run([sys.executable, "-m", "patternc.aot", "--head-dims", "128", *paths],
                          capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=900)


def test_examples_compile_for_sm90(tmp_path):
    extra = tmp_path / "odd.attn"
    extra.write_text("pattern odd() { mask causal | global(4) | blocks(8) { random(1) }; score alibi, softcap(30) }\n"
                     "pattern lsh_local() { mask buckets(8) | window(16) }\n")  # buckets tested inline
    paths = sorted(glob.glob(os.path.join(ROOT, "examples", "*.attn"))) + [str(extra)]
    result = run_aot(paths)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith(str(extra)) for line in lines)
    kernels = [line for line in lines if "wgmma" in line]
    assert kernels and all("sm_90 ok" in line and "wgmma yes" in line for line in kernels), result.stdout
    assert any(line.startswith("_segment_plan: sm_90 ok") for line in lines), result.stdout
    for helper in ("_lsh_hash", "_lsh_hash[dots]", "_bucket_place", "_merge_round_results"):
        assert any(line.startswith(f"{helper}: sm_90 ok") for line in lines), result.stdout
    assert any(":reformer: sorted_forward" in line for line in kernels), result.stdout  # bucket order
    assert any(":lsh_local: forward" in line for line in kernels), result.stdout
    assert any(":causal: backward_dkdv [long rows]" in line for line in kernels), result.stdout  # 64x128, 8 warps
    assert any(":causal: forward [64x64]" in line for line in kernels), result.stdout  # scale not folded
