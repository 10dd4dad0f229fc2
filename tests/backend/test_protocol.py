"""Both backends implement the operation protocol, with the same signatures."""

import inspect

import numpy as np
import pytest

from gpudriz.backend import cpu
from gpudriz.backend.cuda.ops import KernelOps
from gpudriz.backend.protocol import OPERATIONS, Operations


def _protocol_signature(name):
    sig = inspect.signature(getattr(Operations, name))
    return sig.replace(parameters=list(sig.parameters.values())[1:])  # without self


def test_the_protocol_lists_every_operation():
    assert set(OPERATIONS) == {
        "drizzle_add", "blot", "interpolate_pixmap", "interpolate_pixmap_tables", "combine",
        "driz_cr", "sample_moments", "window_histogram", "free_bytes", "check_memory",
    }  # fmt: skip


@pytest.mark.parametrize("name", OPERATIONS)
def test_cpu_and_cuda_have_the_protocols_signature(name):
    want = _protocol_signature(name)
    assert inspect.signature(getattr(cpu, name)) == want, f"gpudriz.backend.cpu.{name}"
    ops = KernelOps(get_module=None, xp=np)
    assert inspect.signature(getattr(ops, name)) == want, f"KernelOps.{name}"


def test_both_satisfy_the_protocol():
    assert isinstance(cpu, Operations)
    assert isinstance(KernelOps(get_module=None, xp=np), Operations)


def test_the_backends_offer_nothing_else():
    """Every public operation of either backend is in the protocol (no backend-only extras)."""
    ops = KernelOps(get_module=None, xp=np)
    cuda_ops = {n for n in dir(ops) if not n.startswith("_") and callable(getattr(ops, n))}
    assert cuda_ops - set(OPERATIONS) == {"launch", "grid_for"}  # the launcher's own plumbing
    assert set(cpu.__all__) == set(OPERATIONS)
