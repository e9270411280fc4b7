"""Fuzzing every parser of outside data: a quick count here, the full count in
``uv run python bench/fuzz.py``. ``CCHC_FUZZ_EXAMPLES`` sets the inputs per target."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import BACKENDS, PG_URL, _reset_postgres
from tests.fuzz_targets import TARGETS, Harness

EXAMPLES = int(os.environ.get("CCHC_FUZZ_EXAMPLES", "60"))


@pytest.fixture(scope="module", params=BACKENDS)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    url = _reset_postgres(PG_URL) if request.param == "postgresql" and PG_URL else None
    with Harness(database_url=url) as h:
        yield h


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_fuzz(harness: Harness, target: str) -> None:
    TARGETS[target](harness, EXAMPLES)
    assert harness.counts[target] >= EXAMPLES  # hypothesis ran every input
