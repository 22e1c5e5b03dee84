"""Hypothesis profiles: "dev" (default) and "ci" (derandomized, so CI runs repeat);
choose with HYPOTHESIS_PROFILE=ci. Tests marked slow run first."""
import os

from hypothesis import settings

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", derandomize=True, max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_configure(config):
    # with parallel workers (pytest -n, pytest-xdist), hand out tests two at a
    # time, not in chunks of a quarter of each worker's share: the slow ones,
    # first in the order, then start on different workers
    if getattr(config.option, "maxschedchunk", "no xdist") is None:
        config.option.maxschedchunk = 1


def pytest_collection_modifyitems(items):
    # the slow tests (minutes of compilation each) first: with parallel workers
    # (pytest -n) they then run beside the many short ones instead of after them
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
