"""Train and evaluate the presentation-attack models bundled with lipauth from the shared
recordings, through their recipes (configs/avsync.yaml, configs/liveness.yaml: the same as
`lipauth train --config ...`), and print their metrics tables (docs/pad.md holds the last
run's).

    python benchmarks/pad_models.py [--data ../shared/data] [--out runs/pad] [--only sync|liveness]
                                    [--sync-epochs N] [--liveness-epochs N] [--install]

--install copies the models to lipauth/assets/.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from lipauth.corpora.shared import default_data_root
from lipauth.recipes import read_recipe, run_recipe

ROOT = Path(__file__).resolve().parents[1]
PARTS = {"sync": ("avsync.yaml", "avsync.pt"), "liveness": ("liveness.yaml", "liveness.pt")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_root())
    ap.add_argument("--out", type=Path, default=Path("runs/pad"))
    ap.add_argument("--only", choices=tuple(PARTS))
    ap.add_argument("--sync-epochs", type=int, default=None, help="override the recipe's epochs")
    ap.add_argument("--liveness-epochs", type=int, default=None, help="override the recipe's epochs")
    ap.add_argument("--install", action="store_true", help="copy the models into lipauth/assets/")
    args = ap.parse_args()
    for name, (recipe, file) in PARTS.items():
        if args.only and args.only != name:
            continue
        raw = read_recipe(ROOT / "configs" / recipe)
        epochs = args.sync_epochs if name == "sync" else args.liveness_epochs
        if epochs is not None:
            raw.setdefault("train", {})["epochs"] = epochs
        made = run_recipe(raw, args.data, args.out, where=recipe)
        print(f"\n## {name}\n\n{made['report']['table']}\n", flush=True)
        if args.install:
            shutil.copy(made["model"], ROOT / "lipauth" / "assets" / file)


if __name__ == "__main__":
    main()
