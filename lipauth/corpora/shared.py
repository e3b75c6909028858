"""Where the real recordings live: $LIPAUTH_DATA, else `../shared/data` beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_root() -> Path:
    env = os.environ.get("LIPAUTH_DATA")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2]
    return checkout.parent / "shared" / "data"
