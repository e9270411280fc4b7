"""Work done in a short-lived child Python process, so that what it imports and the garbage it
leaves never enter the long-running server: migrations, loading a big content pack.

Arguments travel on stdin, not the command line, where ``ps`` would show them (a database
password). The child can import ``bot`` wherever the parent was started from.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)  # where ``bot`` is importable from


def run_python(code: str, *args: str, stdin: str) -> int:
    """Run ``code`` in a child Python with ``args`` in its argv and ``stdin`` as its input;
    its output and errors go where the parent's go. Returns the exit code."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-c", code, *args], input=stdin, text=True, env=env,
                          check=False).returncode
