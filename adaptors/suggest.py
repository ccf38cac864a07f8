"""'Did you mean' hints for a name that is not one of the known ones (settings, arguments, metrics)."""
from __future__ import annotations

import difflib
from typing import Sequence


def did_you_mean(name: str, known: Sequence[str], otherwise: str = "") -> str:
    """"; did you mean 'x'?" for the known name closest to `name`, else `otherwise` (e.g. the list of known ones)."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else otherwise
