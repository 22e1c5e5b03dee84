"""The generated modules' launch path (_launch / _Launcher): the first launch
of each specialisation goes through Triton, later ones call the kept compiled
kernel directly, and anything Triton would specialise differently (an int's
value, a tensor's dtype or alignment, a constexpr) goes through Triton again.
A GPU is not needed: a stand-in kernel records what the launcher does."""
from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

import pytest  # noqa: E402
import torch  # noqa: E402

import patternc  # noqa: E402

SOURCE = "pattern causal_case() { mask causal }"


@pytest.fixture(scope="module")
def module():
    return patternc.load_source(SOURCE, "<launch>", stem="launch_test")


class FakeCompiled:
    def __init__(self, log):
        self.log = log
        self.function, self.packed_metadata = "function", "metadata"

    def run(self, *launch):
        self.log.append(("direct",) + launch)


class FakeKernel:
    """Stands for a JITFunction: kernel[grid](*args, **constants) logs a
    Triton launch; its binder returns the arguments then the constexprs."""

    def __init__(self, constexpr_names=("BLOCK",)):
        self.log = []
        self.constexpr_names = constexpr_names

        def binder(*args, **constants):
            bound = {f"a{i}": a for i, a in enumerate(args)}
            bound.update({name: constants[name] for name in constexpr_names})
            return bound, None, None
        self.device_caches = {0: ({}, {}, None, None, binder)}

    def __getitem__(self, grid):
        def launch(*args, **constants):
            self.log.append(("triton", grid, args, constants))
            return FakeCompiled(self.log)
        return launch


class FakeDriver:
    class active:
        @staticmethod
        def get_current_device():
            return 0

        @staticmethod
        def get_current_stream(device):
            return 1234


@pytest.fixture
def launcher(module, monkeypatch):
    monkeypatch.setattr(module, "_driver", FakeDriver)
    kernel = FakeKernel()
    return kernel, module._Launcher(kernel)


def test_first_launch_through_triton_then_direct(launcher):
    kernel, launch = launcher
    x = torch.zeros(64)
    launch[(3,)](x, 5, 0.5, BLOCK=16, num_warps=4)
    launch[(7, 2)](x, 5, 0.25, BLOCK=16, num_warps=4)
    assert [entry[0] for entry in kernel.log] == ["triton", "direct"]
    # grid, stream, function, metadata, no launch metadata or hooks, the args (tensors as their
    # addresses: Triton's launcher takes ints without asking the driver), then the constexprs
    assert kernel.log[1][1:] == (7, 2, 1, 1234, "function", "metadata", None, None, None, x.data_ptr(), 5, 0.25, 16)
    assert kernel.log[0][2][0] is x  # Triton's own path still gets the tensor, to specialise on


def test_direct_launch_passes_addresses_of_every_tensor(launcher):
    kernel, launch = launcher
    x, w = torch.zeros(64), torch.nn.Parameter(torch.ones(32))  # a subclass too
    for _ in range(2):
        launch[(1,)](x, w, 3, True, BLOCK=16)
    direct = kernel.log[1]
    assert direct[0] == "direct" and direct[10:] == (x.data_ptr(), w.data_ptr(), 3, True, 16)
    assert not any(isinstance(a, torch.Tensor) for a in direct[10:])


@pytest.mark.parametrize("change", ["int value", "dtype", "alignment", "constexpr", "option"])
def test_a_new_specialisation_goes_through_triton(launcher, change):
    kernel, launch = launcher
    x = torch.zeros(64)
    launch[(3,)](x, 32, BLOCK=16, num_warps=4)
    args, constants = [x, 32], dict(BLOCK=16, num_warps=4)
    if change == "int value":
        args[1] = 33  # Triton specialises ints on divisibility by 16
    elif change == "dtype":
        args[0] = torch.zeros(64, dtype=torch.float64)
    elif change == "alignment":
        args[0] = x[1:]  # 4 bytes past a 16-byte boundary
    elif change == "constexpr":
        constants["BLOCK"] = 32
    else:
        constants["num_warps"] = 8
    launch[(3,)](*args, **constants)
    launch[(3,)](*args, **constants)
    assert [entry[0] for entry in kernel.log] == ["triton", "triton", "direct"]


def test_unhashable_arguments_and_hooks_take_triton_path(launcher, monkeypatch):
    import triton

    kernel, launch = launcher
    for _ in range(2):
        launch[(1,)]([1, 2], BLOCK=16)  # a list: no key, Triton's path every time
    assert [entry[0] for entry in kernel.log] == ["triton", "triton"]
    launch[(1,)](7, BLOCK=16)
    hook = triton.knobs.runtime.launch_enter_hook
    monkeypatch.setattr(hook, "calls", [lambda metadata: None])
    launch[(1,)](7, BLOCK=16)  # a profiler's hook must see the launch
    monkeypatch.setattr(hook, "calls", [])
    launch[(1,)](7, BLOCK=16)
    assert [entry[0] for entry in kernel.log] == ["triton"] * 4 + ["direct"]


def test_unexpected_internals_fall_back_for_good(launcher):
    kernel, launch = launcher
    kernel.device_caches = {}  # not this Triton's layout
    for _ in range(3):
        launch[(1,)](7, BLOCK=16)
    assert [entry[0] for entry in kernel.log] == ["triton"] * 3


def test_interpreter_and_switch_use_triton_itself(module, monkeypatch):
    kernel = FakeKernel()
    assert module._launch(kernel) is kernel  # TRITON_INTERPRET=1 in these tests: the CPU, no devices
    monkeypatch.setattr(module, "_on_interpreter", lambda: False)
    monkeypatch.setattr(module, "_driver", FakeDriver)
    monkeypatch.setenv("PATTERNC_LAUNCH", "triton")
    other = FakeKernel()
    for _ in range(2):
        module._launch(other)[(1,)](7, BLOCK=16)
    assert [entry[0] for entry in other.log] == ["triton", "triton"]
    monkeypatch.delenv("PATTERNC_LAUNCH")
    third = FakeKernel()
    for _ in range(2):
        module._launch(third)[(1,)](7, BLOCK=16)
    assert [entry[0] for entry in third.log] == ["triton", "direct"]
    assert module._launch(third) is module._launch(third)  # one launcher per kernel


class OnSecondDevice(torch.Tensor):
    """A tensor that says it lives on CUDA device 1."""

    def get_device(self):
        return 1


@pytest.mark.parametrize("direct", [True, False])
def test_launches_on_the_device_of_the_tensors(module, monkeypatch, direct):
    """Triton launches on the current device: with the call's tensors on
    another one, the launcher makes theirs current around the launch."""
    current = {"device": 0}
    seen = []

    class Driver:
        class active:
            @staticmethod
            def get_current_device():
                return current["device"]

            @staticmethod
            def get_current_stream(device):
                return 1000 + device

    class Switch:
        def __init__(self, device):
            self.device = device

        def __enter__(self):
            self.before, current["device"] = current["device"], self.device

        def __exit__(self, *exc):
            current["device"] = self.before

    kernel = FakeKernel()
    kernel.device_caches[1] = kernel.device_caches[0]  # Triton keeps one binder per device
    real_getitem = kernel.__getitem__
    monkeypatch.setattr(module, "_driver", Driver)
    monkeypatch.setattr(module.torch.cuda, "device", Switch)
    monkeypatch.setattr(FakeKernel, "__getitem__",
                        lambda self, grid: (seen.append(current["device"]), real_getitem(grid))[1])
    launch = module._Launcher(kernel, direct)
    x = torch.zeros(64).as_subclass(OnSecondDevice)
    launch[(1,)](x, 3, BLOCK=16)
    launch[(1,)](x, 3, BLOCK=16)
    launch[(1,)](torch.zeros(64), 3, BLOCK=16)  # a CPU tensor (-1): no switch
    assert current["device"] == 0  # restored
    if direct:
        assert seen == [1, 0]  # Triton's path for the first launch of each key
        assert kernel.log[1][:5] == ("direct", 1, 1, 1, 1001)  # the second: device 1's stream
    else:
        assert seen == [1, 1, 0]


@pytest.fixture
def kept(module, monkeypatch):
    """A generated module off the interpreter, with a stand-in driver: _launch
    makes _Launchers, so kept launches (_Replay) replay directly."""
    monkeypatch.setattr(module, "_on_interpreter", lambda: False)
    monkeypatch.setattr(module, "_driver", FakeDriver)
    monkeypatch.delenv("PATTERNC_LAUNCH", raising=False)
    kernel = FakeKernel()
    module._LAUNCHERS.pop(id(kernel), None)
    yield kernel
    module._LAUNCHERS.pop(id(kernel), None)


def test_kept_launch_replays_with_the_new_head_and_the_kept_tail(module, kept):
    kernel = kept
    plan = {"replays": {}}
    x, table = torch.zeros(64), torch.ones(16, dtype=torch.int32)
    module._launch_kept(plan, "key", kernel, (5,), (x, 0.5), (table, 7), dict(BLOCK=16, num_warps=4))
    y = torch.zeros(64)
    assert module._replayed(plan, "key", (y, 0.25))
    assert not module._replayed(plan, "other key", (y, 0.25))
    assert [entry[0] for entry in kernel.log] == ["triton", "direct"]
    assert kernel.log[0][2] == (x, 0.5, table, 7)
    # the new head's address and scale, then the kept tail (the table's address) and the constexpr
    assert kernel.log[1][1:] == (5, 1, 1, 1234, "function", "metadata", None, None, None,
                                 y.data_ptr(), 0.25, table.data_ptr(), 7, 16)


def test_kept_launch_holds_no_tensor_of_the_call_that_made_it(module, kept):
    import weakref

    plan = {"replays": {}}
    x = torch.zeros(64)
    module._launch_kept(plan, "key", kept, (1,), (x,), (3,), dict(BLOCK=16))
    kept.log.clear()  # the stand-in logs its arguments
    gone = weakref.ref(x)
    del x
    assert gone() is None  # q, k, v, out of a call must not live on in the plan


def test_kept_launch_with_a_misaligned_tensor_goes_through_triton(module, kept):
    kernel = kept
    plan = {"replays": {}}
    x = torch.zeros(64)
    module._launch_kept(plan, "key", kernel, (1,), (x,), (3,), dict(BLOCK=16))
    module._replayed(plan, "key", (x[1:],))  # 4 bytes past a 16-byte boundary: Triton specialises anew
    assert [entry[0] for entry in kernel.log] == ["triton", "triton"]
    assert kernel.log[1][2][0].data_ptr() == x[1:].data_ptr()


def test_per_call_plans_keep_no_launch(module, kept):
    kernel = kept
    plan = {"replays": None}  # tables of one call (segments, hashes)
    module._launch_kept(plan, "key", kernel, (1,), (torch.zeros(4),), (3,), dict(BLOCK=16))
    assert not module._replayed(plan, "key", (torch.zeros(4),))
    assert plan["replays"] is None and [entry[0] for entry in kernel.log] == ["triton"]


def test_kept_launch_under_a_hook_goes_through_triton(module, kept, monkeypatch):
    import triton

    kernel = kept
    plan = {"replays": {}}
    module._launch_kept(plan, "key", kernel, (1,), (torch.zeros(4),), (3,), dict(BLOCK=16))
    monkeypatch.setattr(triton.knobs.runtime.launch_enter_hook, "calls", [lambda metadata: None])
    module._replayed(plan, "key", (torch.zeros(4),))
    assert [entry[0] for entry in kernel.log] == ["triton", "triton"]


def test_a_replayed_call_computes_with_its_own_inputs(module):
    """In the interpreter the second call of a shape goes through its static
    plan's kept launches (head and tail put back together): each call's result
    is its own inputs' attention."""
    sdpa = torch.nn.functional.scaled_dot_product_attention
    for call in range(2):
        q, k, v = (torch.randn(1, 2, 40, 16) for _ in range(3))
        assert torch.allclose(module.causal_case(q, k, v), sdpa(q, k, v, is_causal=True), atol=1e-4), call
        assert any(plan["replays"] for plan in module.causal_case__plans.entries.values())


def test_per_call_segments_are_never_replayed():
    """Segments passed as a tensor build the call's tables on the device, in a
    copy of the static plan's dict: were the copy to share the static plan's
    kept launches, the next call would run on the last call's documents."""
    docs = patternc.load_source("pattern docs() { mask segments & causal }", "<launch docs>", stem="launch_docs")
    q, k, v = (torch.randn(1, 2, 48, 16) for _ in range(3))
    for ids in ([0] * 20 + [1] * 28, [0] * 5 + [1] * 30 + [2] * 13):
        segments = torch.tensor([ids])
        mask = docs.docs.mask(48, 48, 2, segments=segments)
        want = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        assert torch.allclose(docs.docs(q, k, v, segments=segments), want, atol=1e-4), ids
