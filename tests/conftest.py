"""Hypothesis profiles: "dev" (default) and "ci" (derandomized, so CI runs repeat);
choose with HYPOTHESIS_PROFILE=ci."""
import os

from hypothesis import settings

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", derandomize=True, max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
