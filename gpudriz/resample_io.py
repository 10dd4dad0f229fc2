"""Host and device outputs of :class:`gpudriz.Drizzle`: NumPy in, NumPy out; CuPy in, CuPy out.

On the CUDA backend the outputs live on the device.  :class:`OutputKinds` remembers whether the
caller works with device arrays (the first array it gives decides), takes the output arrays the
caller gives (used in place when they are of the right kind), keeps the NumPy arrays a device
backend must update after every ``add_image``, and hands each output back as the caller should
see it.
"""

from __future__ import annotations

import numpy as np

from gpudriz.backend.arrays import is_device_array, to_host, to_xp

__all__ = ["OutputKinds"]


class OutputKinds:
    """The kind (host or device) of a :class:`~gpudriz.Drizzle`'s outputs, for array module ``xp``.

    Attributes
    ----------
    xp : module
        The backend's array module.
    device_io : bool or None
        Whether outputs are handed back as device arrays; None until the
        caller gives a first array.
    host_outputs : dict
        NumPy output arrays the caller gave to a device backend, by output
        name (``"out_img"``, ``"out_img2[0]"``, ...), updated by :meth:`sync`.
    """

    def __init__(self, xp):
        self.xp = xp
        self.device_io = None
        self.host_outputs = {}

    def note(self, arr):
        """Outputs follow the kind (host or device) of the first array the caller gives."""
        if self.device_io is None:
            self.device_io = is_device_array(arr)

    def own(self, arr, name, dtype, ndim):
        """An output array from the caller, on the backend, used in place when possible.

        On the CPU a C-contiguous, writeable array of ``dtype`` is used in
        place (as drizzle does).  On a device backend a device array of that
        kind is used in place; a NumPy array of that kind is copied to the
        device and kept to be updated after every ``add_image`` (:meth:`sync`).
        """
        self.note(arr)
        a = arr if is_device_array(arr) else np.asarray(arr)
        ndims = (ndim,) if isinstance(ndim, int) else ndim
        if a.ndim not in ndims:
            want = " or ".join(f"{n}-D" for n in ndims)
            raise ValueError(f"'{name}' must be a {want} array; got {a.ndim} dimension(s).")
        in_place = a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
        if self.xp is np:
            a = to_host(a)
            return a if in_place and isinstance(a, np.ndarray) else np.ascontiguousarray(a, dtype)
        if is_device_array(a) and in_place:
            return a
        if isinstance(a, np.ndarray) and in_place:
            self.host_outputs[name] = a
        return to_xp(a, self.xp, dtype)

    def sync(self, output_by_name):
        """Copy device results into the NumPy output arrays the caller gave (device backend).

        ``output_by_name(name)`` returns the backend's array of that output.
        """
        for name, host in self.host_outputs.items():
            dev = output_by_name(name)
            # A context array that gained planes is no longer the caller's shape.
            if dev is not None and dev.size == host.size:
                host[...] = to_host(dev).reshape(host.shape)

    def give(self, name, arr):
        """An output as the caller should see it: device array, their own array, or a copy."""
        if arr is None or self.xp is np or self.device_io:
            return arr
        host = self.host_outputs.get(name)
        if host is not None and host.size == arr.size:
            return host.reshape(arr.shape)  # the caller's array (a view of it for 2-D context)
        return to_host(arr)
