"""Command line: ``gpudriz demo [DIR]``.

The MultiDrizzle pipeline command (``gpudriz INPUT [name=value ...]``) is not
part of this release; asking for it says so instead of failing obscurely.
"""

from __future__ import annotations

import argparse
import logging
import sys

from gpudriz import __version__


def _parser():
    p = argparse.ArgumentParser(
        prog="gpudriz",
        description="gpudriz: drizzle image combination on the GPU or the CPU.",
    )
    p.add_argument("--version", action="version", version=f"gpudriz {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="drizzle a built-in synthetic dithered field and check it")
    d.add_argument("outdir", nargs="?", default="gpudriz_demo", help="output folder (default: %(default)s)")
    d.add_argument("--size", type=int, default=512, help="input exposure size in pixels (default: %(default)s)")
    d.add_argument("--backend", default=None, choices=("auto", "cpu", "cuda"), help="engine (default: auto)")
    d.add_argument("--kernel", default="square", help="drizzle kernel (default: %(default)s)")
    d.add_argument("--pixfrac", type=float, default=0.8, help="drop size (default: %(default)s)")
    return p


def main(argv=None):
    """Entry point of the ``gpudriz`` command; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="gpudriz: %(message)s")
    if argv and argv[0] not in ("demo", "-h", "--help", "--version"):
        print(
            f"gpudriz: error: '{argv[0]}': the MultiDrizzle pipeline command is not part of "
            "this release yet; 'gpudriz demo' runs the drizzle engine on built-in data.",
            file=sys.stderr,
        )
        return 2
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 0
    from gpudriz.demo import run_demo

    if args.size < 64:
        print("gpudriz: error: --size must be at least 64 pixels.", file=sys.stderr)
        return 2
    try:
        result = run_demo(args.outdir, n_in=args.size, backend=args.backend,
                          kernel=args.kernel, pixfrac=args.pixfrac)  # fmt: skip
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"gpudriz: error: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
