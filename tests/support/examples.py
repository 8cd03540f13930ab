"""How many examples a property test tries, and how many seeds a randomised simulation runs.

`make test` (and CI) runs each at full strength. `make test-fast`, the edit-test loop, sets
CHATSITE_QUICK_PROPERTIES=1 and tries a fifth as many (at least 5), so a broken property still
shows quickly while the whole unit tier stays well under a minute.
"""

from __future__ import annotations

import os


def examples(full: int) -> int:
    if os.environ.get("CHATSITE_QUICK_PROPERTIES") == "1":
        return max(5, full // 5)
    return full
