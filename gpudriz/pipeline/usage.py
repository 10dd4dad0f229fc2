"""The manual's ``multidrizzle.help()``: how to run the pipeline, then every parameter."""

from __future__ import annotations

from gpudriz.pipeline.config import parameters as P

__all__ = ["help", "USAGE"]


def help():  # noqa: A001 - the manual's name: multidrizzle.help()
    """Print how to run the pipeline and every parameter (the manual's ``multidrizzle.help()``)."""
    print(USAGE)
    print(P.help_text())


USAGE = """gpudriz: MultiDrizzle on the GPU (and the CPU).

    >>> import gpudriz
    >>> md = gpudriz.Multidrizzle(input='flt.fits', output=None, editpars=False, **pars)
    >>> md.build()      # inputs, instrument model, output frames (inspect md.chips, md.final_frame)
    >>> md.run()        # static, skysub, driz_separate, median, blot, driz_cr, driz_combine
    >>> md.help()

Command line:  gpudriz INPUT [name=value ...]   (gpudriz --help for more)
"""
