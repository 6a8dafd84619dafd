"""Instructions a whole child process executes, counted by valgrind's callgrind.

The same program and inputs give the same count whatever else the machine is doing, so
two versions of the code can be compared on a shared VM. Scripts run a child twice (a
base run and one with more work) and divide the difference: start-up cancels out.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys


def instructions(script: str, *args: str) -> int:
    """Instructions of `python script args...` under callgrind (hash seed fixed: dict layouts repeat)."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, script, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run failed ({' '.join(args)}):\n{out.stderr[-2000:]}")
    return int(found.group(1))
