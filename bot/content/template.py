"""``{{ office.* }}`` variables in answers and campaign messages.

Deliberately not a template engine: content editors can only insert the office's facts, so a
content file can never run code or reach data it should not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


def variables(text: str) -> list[tuple[str, int]]:
    """Every variable used, with its character offset."""
    return [(m.group(1), m.start()) for m in VARIABLE.finditer(text)]


def render(text: str, values: Mapping[str, str]) -> str:
    """Fill known variables; an unknown one is left visible rather than silently dropped."""
    return VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)
