"""Where things are in the checkout the tests run from."""

from pathlib import Path

#: The repository root (the folder holding ``pyproject.toml``).
REPO = Path(__file__).resolve().parents[2]
#: CUDA sources, documentation and benchmark scripts of the checkout.
KERNELS_DIR = REPO / "kernels"
DOCS_DIR = REPO / "docs"
BENCHMARKS_DIR = REPO / "benchmarks"
#: Real instrument WCS headers, in the shared folder beside the checkout.
WCS_DIR = REPO.parent / "shared" / "data" / "wcs"
