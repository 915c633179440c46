"""Run the penguins example: ``PYTHONPATH=examples python -m penguins``.

Each flavor's classifier is trained on the same split, registered, tested
with ``model-tests.yaml``, made the champion of its model when its required
tests pass, and packaged into ``--output``/FLAVOR. Flavors whose library is
not installed are skipped with a note.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from penguins.run import available_flavors, run
from penguins.trainers import TRAINERS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m penguins", description=__doc__)
    parser.add_argument(
        "--flavors",
        default=",".join(TRAINERS),
        help=f"comma-separated flavors to build (default: {','.join(TRAINERS)})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("packages"),
        help="folder that receives one serving package per flavor",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    requested = [f.strip() for f in args.flavors.split(",") if f.strip()]
    unknown = sorted(set(requested) - set(TRAINERS))
    if unknown:
        print(
            f"error: unknown flavor {unknown[0]!r}; use some of {', '.join(TRAINERS)}",
            file=sys.stderr,
        )
        return 2
    flavors, missing = available_flavors(requested)
    for flavor in missing:
        print(f"skipping {flavor}: its library is not installed", file=sys.stderr)
    results = run(flavors, args.output)
    print(f"{'flavor':<10} {'version':<26} {'accuracy':>8}  tests   champion  package")
    for result in results:
        accuracy = f"{result.accuracy:.3f}" if result.accuracy is not None else "n/a"
        print(
            f"{result.flavor:<10} {result.uri:<26} {accuracy:>8}  "
            f"{'passed' if result.passed else 'FAILED':<7} "
            f"{'yes' if result.champion else 'no':<9} {result.package or '-'}"
        )
    return 0 if all(r.champion for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
