"""Every generated kernel compiles for the H100 (sm_90) on this CPU machine,
with the tensor-core instructions we expect (wgmma). Runs in child processes:
the rest of the suite uses the interpreter, which replaces triton's compiler
in the process that imports triton with TRITON_INTERPRET=1. The examples are
split into a few chunks, one test each, so that parallel test workers
(pytest -n) share the minutes of compilation."""
from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.attn")))
CHUNKS = 4
ODD = ("pattern odd() { mask causal | global(4) | blocks(8) { random(1) }; score alibi, softcap(30) }\n"
       "pattern lsh_local() { mask buckets(8) | window(16) }\n")  # buckets tested inline
# kernels that must be among a file's compiled ones, by file name
EXPECTED = {
    "reformer.attn": [":reformer: sorted_forward"],  # bucket order
    "odd.attn": [":lsh_local: forward"],
    "causal.attn": [":causal: backward_dkdv [long rows]",  # 64x128, 8 warps
                    ":causal: forward [64x64]"],  # scale not folded
}
HELPERS = ("_segment_plan", "_lsh_hash", "_lsh_hash[dots]", "_bucket_place", "_merge_round_results")


def run_aot(paths, helpers):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    # D = 128 only: each kernel takes seconds to compile, and the CPU tests cover other head dims
    return subprocess.run([sys.executable, "-m", "patternc.aot", "--head-dims", "128",
                           *([] if helpers else ["--no-helpers"]), *paths],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)


def test_every_chunk_has_examples_and_the_expected_files_exist():
    assert len(EXAMPLES) >= CHUNKS
    assert {os.path.basename(path) for path in EXAMPLES} >= set(EXPECTED) - {"odd.attn"}


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_examples_compile_for_sm90(tmp_path, chunk):
    paths = EXAMPLES[chunk::CHUNKS]
    if chunk == CHUNKS - 1:
        extra = tmp_path / "odd.attn"
        extra.write_text(ODD)
        paths = paths + [str(extra)]
    helpers = chunk == 0  # the shared kernels, once
    result = run_aot(paths, helpers)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    kernels = [line for line in lines if "wgmma" in line]
    assert kernels and all("sm_90 ok" in line and "wgmma yes" in line for line in kernels), result.stdout
    for path in paths:
        assert any(line.startswith(path) for line in kernels), f"nothing compiled for {path}:\n{result.stdout}"
        for kernel in EXPECTED.get(os.path.basename(path), []):
            assert any(line.startswith(path) and kernel in line for line in kernels), (kernel, result.stdout)
    for helper in HELPERS:
        assert any(line.startswith(f"{helper}: sm_90 ok") for line in lines) == helpers, (helper, result.stdout)
