"""Settings every unit test shares: hypothesis keeps nothing on disk and has no per-example deadline."""

from __future__ import annotations

from hypothesis import settings

# Unit tests do no disk I/O: no example database under .hypothesis/. No deadline, because the first
# examples pay for imports and regex compilation, which is not what these tests measure.
settings.register_profile("unit", database=None, deadline=None, max_examples=300)
settings.load_profile("unit")
