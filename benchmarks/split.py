"""Where the time of one call goes, on a GPU: packed documents (the per-call
plan kernel, the forward kernel) and LSH buckets (hashing, counting sort,
bucket-order attention, and the attention under other tiles).

    python benchmarks/split.py [N]

Reads generated modules' internals (`case__run_forward`, `_with_segments`,
`_lsh_hashes`, ...): a measuring tool for this repository, not an API."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import patternc  # noqa: E402
from cases import CASES, document_segments  # noqa: E402
from patternc.benchmark import timed  # noqa: E402
N = int(sys.argv[1]) if len(sys.argv) > 1 else 8192
q, k, v = (torch.randn(1, 16, N, 128, device="cuda", dtype=torch.bfloat16) for _ in range(3))
cases = {c.name: c for c in CASES}
# documents
m = patternc.load_source(cases["documents"].source, "<d>", stem="split_docs")
seg = document_segments(N)
m.case(q, k, v, segments=seg)
cfg = list(m.case__configs.entries.values())[-1]
static = list(m.case__plans.entries.values())[-1]
plan = m._with_segments(static, seg, N, N, cfg[0], cfg[1])
sm = 1 / 128 ** 0.5
print("documents cfg", cfg)
print("documents full call  %.4f ms" % timed(lambda: m.case(q, k, v, segments=seg)))
print("documents plan only  %.4f ms" % timed(lambda: m._with_segments(static, seg, N, N, cfg[0], cfg[1])))
print("documents fwd kernel %.4f ms" % timed(lambda: m.case__run_forward(q, k, v, sm, plan, [], cfg)))
# LSH
m = patternc.load_source(cases["LSH"].source, "<l>", stem="split_lsh")
m.case(q, k, v)
cfg = (64, 64, 4, 3)
rot = m._rotations("case", None, 1, 128, 16, 0, q.device)
qh, kh, counts = m._lsh_hashes(q, k, rot)
tables = m._bucket_tables(qh, kh, counts, 16, k, v)
tables.update(rounds=1, n_buckets=16, hash_args=m._hash_args(qh, kh))
static = dict(list(m.case__plans.entries.values())[-1])
print("LSH cfg", cfg)
print("LSH full call   %.4f ms" % timed(lambda: m.case(q, k, v)))
print("LSH hash only   %.4f ms" % timed(lambda: m._lsh_hashes(q, k, rot)))
print("LSH sort, copies %.4f ms" % timed(lambda: m._bucket_tables(qh, kh, counts, 16, k, v)))
print("LSH attention   %.4f ms" % timed(lambda: m.case__run_sorted_forward(q, k, v, sm, tables, static, [], cfg)))
for c in [(64, 64, 4, 2), (64, 64, 4, 4), (32, 64, 4, 3), (64, 32, 2, 3)]:
    print("LSH attention", c, "%.4f ms" % timed(lambda: m.case__run_sorted_forward(q, k, v, sm, tables, static, [], c)))
