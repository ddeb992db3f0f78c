"""Running a lecture: smoke mode and the networks vendored under data/networks/."""

from __future__ import annotations

import os
from pathlib import Path

NETWORKS_DIR = Path(__file__).resolve().parents[1] / "data" / "networks"


def smoke_mode(smoke: bool) -> bool:
    """True when the notebook should run its quick variant.

    Papermill sets the `SMOKE` parameter; people running a notebook by hand can set
    `COURSE_SMOKE=1` in the environment instead.
    """
    return bool(smoke) or os.environ.get("COURSE_SMOKE", "") not in ("", "0", "false", "False")


def load_bundled_network(name: str):
    """Load a bnlearn network vendored under `data/networks/<name>.bif` (survey, sachs), offline.

    The `.bif` files are exact copies of the ones bundled in pgmpy 1.1.2 (see
    `data/networks/README.md`). Reading our own copy with `BIFReader` avoids
    `pgmpy.utils.get_example_model`, which is deprecated (removal in pgmpy 1.3) and whose
    replacement downloads from a hub; an upgrade of pgmpy therefore cannot take the data away.
    """
    from pgmpy.readwrite import BIFReader

    path = NETWORKS_DIR / f"{name}.bif"
    if not path.is_file():
        available = sorted(p.stem for p in NETWORKS_DIR.glob("*.bif"))
        raise FileNotFoundError(f"no vendored network {name!r} in {NETWORKS_DIR}; available: {available}")
    return BIFReader(path=str(path)).get_model()
