"""Pipelines on a folder of tiny synthetic exposures (gpudriz.demo.tiny_inputs), for the mosaic-mode tests."""

import gpudriz
from gpudriz.demo.tiny_inputs import write_tiny_exposures


def tiny_folder(tmp_path_factory, name, n, *, seed):
    """A new folder holding ``n`` tiny two-amplifier exposures of 24 x 40 pixels."""
    folder = tmp_path_factory.mktemp(name)
    write_tiny_exposures(folder, n, shape=(24, 40), seed=seed)
    return folder


def tiny_multidrizzle(inputs, folder, pars):
    """A Multidrizzle of every exposure of ``inputs``, writing in ``folder`` (made if missing); not built."""
    folder.mkdir(parents=True, exist_ok=True)
    return gpudriz.Multidrizzle(input=str(inputs / "*_flt.fits"), workdir=folder, **pars)
