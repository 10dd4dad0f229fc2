"""Pickling chips' and frames' WCS exactly, and cheaply enough to send with every task of a mosaic.

astropy pickles a WCS through its FITS header, whose 12 significant digits
move a pixel by ~1e-7 px: enough for a Dask worker's drizzle to differ from
this process's.  :func:`exact_state` therefore carries the float parameters
(reference pixel and value, CD or PC and CDELT, poles, SIP) as arrays beside
the rest (types, units, PV cards, image size: its header, or astropy's
pickle where lookup tables come with it), and :func:`from_exact_state` sets
them back to the last bit.

Both cost milliseconds (astropy's pickle writes the WCS as a FITS file), and
the mosaic mode sends each chip with every one of its tasks, through the
client, the scheduler and a worker: measured on 128 small chips, three
quarters of the main process's time went there.  So both directions are
memoised:

- the bytes hold a template of the WCS, its exact parameters set to fixed
  values (:func:`_template_header`), so that every chip of one instrument
  travels as the same bytes;
- the bytes are kept per WCS object (weakly) and reused while the
  parts they hold (types, units, projection parameters, image size, lookup
  tables) are unchanged; the exact parameters are taken afresh every time;
- a WCS pickled for the first time whose *kind* (:func:`_kind`: wcslib's own
  header with the exact values left out, which SIP terms it has, its image
  size) was pickled before gets that WCS's bytes, without astropy making a
  header (2.5 ms a chip, in the process that sends the tasks);
- a process unpickles each distinct byte string once, then hands out deep
  copies (tens of microseconds), so that no two holders share a WCS they
  could change.
"""

from __future__ import annotations

import copy
import hashlib
import pickle
import re
import threading
import warnings
import weakref
from collections import OrderedDict

from astropy.io import fits
from astropy.wcs import WCS, WCSHDO_P14, WCSHDO_all, FITSFixedWarning, Sip

__all__ = ["exact_state", "from_exact_state", "ExactWCSPickle"]

#: How many distinct unpickled WCS a process keeps (chips of one mosaic on a worker, frames, tiles), and how
#: many kinds of WCS (:func:`_kind`) it keeps the bytes of.
CACHE_SIZE = 1024

#: Header cards holding the parameters :func:`exact_state` carries exactly (they get template values).
_EXACT_CARD = re.compile(r"^(CRPIX\d|CRVAL\d|CDELT\d|PC\d_\d|CD\d_\d|LONPOLE|LATPOLE|A_\d+_\d+|B_\d+_\d+"
                         r"|AP_\d+_\d+|BP_\d+_\d+)$")
#: The template's values (the matrix is the identity, every other such card 0).
_TEMPLATE_VALUES = {"CDELT1": 1.0, "CDELT2": 1.0, "LONPOLE": 180.0}

#: Starts the bytes of a WCS that travels as its header (no lookup tables), not as astropy's pickle.
_HEADER_MARK = b"gpudriz-wcs-header:"

_lock = threading.Lock()  # a scheduler thread and the main thread may pickle at once
_dumped: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # WCS -> (fingerprint, bytes)
_by_kind: OrderedDict = OrderedDict()  # _kind(w) -> bytes (least recently used first)
_loaded: OrderedDict = OrderedDict()  # digest of bytes -> WCS (least recently used first)

#: The flags astropy's ``to_header(relax=True)`` passes to wcslib (``WCS.to_header``): with the same
#: flags, wcslib's header holds everything astropy's header is made from, but the SIP terms.
_WCSLIB_FLAGS = WCSHDO_P14 | WCSHDO_all


def _fingerprint(w: WCS) -> tuple:
    """What astropy's bytes hold beyond the exact parameters: when it changes, the bytes are remade."""
    p = w.wcs
    tables = tuple(id(t) for t in (w.cpdis1, w.cpdis2, w.det2im1, w.det2im2))
    return (tuple(p.ctype), tuple(str(u) for u in p.cunit), tuple(p.get_pv()), tuple(p.get_ps()),
            p.radesys, float(p.equinox) if p.equinox == p.equinox else None, w.pixel_shape, tables)  # fmt: skip


def _has_tables(w: WCS) -> bool:
    return any(t is not None for t in (w.cpdis1, w.cpdis2, w.det2im1, w.det2im2))


def _kind(w: WCS) -> tuple:
    """What the template bytes of ``w`` (no lookup tables) are made from, in microseconds.

    astropy's ``to_header(relax=True)`` is wcslib's header (the same flags)
    plus the SIP orders and nonzero terms; the template then replaces the
    values of the exact parameters' cards.  So wcslib's header with those
    values left out (the keywords kept: which cards exist matters), the SIP
    arrays' shapes and nonzero patterns, and the image size determine the bytes.
    """
    text = w.wcs.to_header(_WCSLIB_FLAGS)
    cards = [text[i : i + 80] for i in range(0, len(text), 80)]
    header = "".join(c[:8] if _EXACT_CARD.match(c[:8].rstrip()) else c for c in cards)
    sip = None
    if w.sip is not None:
        arrays = (w.sip.a, w.sip.b, w.sip.ap, w.sip.bp)
        sip = tuple(None if a is None else (a.shape, (a != 0.0).tobytes()) for a in arrays)
    return header, sip, w.pixel_shape


def _astropy_bytes(w: WCS) -> bytes:
    key = _fingerprint(w)
    with _lock:
        known = _dumped.get(w)
    if known is not None and known[0] == key:
        return known[1]
    if _has_tables(w):
        data = pickle.dumps(w, protocol=pickle.HIGHEST_PROTOCOL)  # the lookup tables travel as astropy pickles them
    else:
        kind = _kind(w)
        with _lock:
            data = _by_kind.get(kind)
            if data is not None:
                _by_kind.move_to_end(kind)
        if data is None:
            # Without lookup tables its header says it all, at a quarter of the pickle's cost (0.7 against 2.3 ms,
            # paid once per kind of chip by the client); the image size is not in the header.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                text = _template_header(w.to_header(relax=True)).tostring()
            data = _HEADER_MARK + pickle.dumps((text, w.pixel_shape))
            with _lock:
                _by_kind[kind] = data
                while len(_by_kind) > CACHE_SIZE:
                    _by_kind.popitem(last=False)
    with _lock:
        _dumped[w] = (key, data)
    return data


def _template_header(header: fits.Header) -> fits.Header:
    """``header`` with the values :func:`from_exact_state` sets back replaced by fixed ones.

    Reference pixel and value, matrix, poles and SIP coefficients are the
    exact parameters, restored to the last bit after unpickling; the rest
    (types, units, orders, names) is what the bytes must carry.  So every
    chip of one instrument travels as one byte string, unpickled once per
    process and then copied: a worker no longer parses a header per chip
    (3 ms each), nor keeps one WCS per chip of a mosaic in its cache.
    """
    for key in header:
        if not _EXACT_CARD.match(key):
            continue
        if key.startswith(("PC", "CD")) and "_" in key:  # PCi_j, CDi_j: the identity matrix
            header[key] = 1.0 if key[-3] == key[-1] else 0.0
        else:
            header[key] = _TEMPLATE_VALUES.get(key, 0.0)
    return header


def _from_bytes(data: bytes) -> WCS:
    if not data.startswith(_HEADER_MARK):
        return pickle.loads(data)
    text, shape = pickle.loads(data[len(_HEADER_MARK) :])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)  # the header is astropy's own
        w = WCS(fits.Header.fromstring(text))
    w.pixel_shape = shape
    return w


def _astropy_wcs(data: bytes) -> WCS:
    digest = hashlib.sha1(data).digest()
    with _lock:
        w = _loaded.get(digest)
        if w is not None:
            _loaded.move_to_end(digest)
    if w is None:
        w = _from_bytes(data)
        with _lock:
            _loaded[digest] = w
            while len(_loaded) > CACHE_SIZE:
                _loaded.popitem(last=False)
    mine = copy.deepcopy(w)
    with _lock:
        _dumped[mine] = (_fingerprint(mine), data)  # pickled again (a scheduler passing it on): no new bytes
    return mine


def exact_state(w: WCS) -> tuple:
    """``w`` as pickle state that restores its parameters to the last bit (:func:`from_exact_state`)."""
    params = {"crpix": w.wcs.crpix.copy(), "crval": w.wcs.crval.copy()}
    if w.wcs.has_cd():
        params["cd"] = w.wcs.cd.copy()
    else:
        params["cdelt"], params["pc"] = w.wcs.cdelt.copy(), w.wcs.get_pc().copy()
    params["lonpole"], params["latpole"] = float(w.wcs.lonpole), float(w.wcs.latpole)
    sip = None if w.sip is None else (w.sip.a, w.sip.b, w.sip.ap, w.sip.bp, tuple(w.sip.crpix))
    return _astropy_bytes(w), params, sip


def from_exact_state(state) -> WCS:
    """The WCS :func:`exact_state` describes (a WCS of its own: no other holder shares it)."""
    data, params, sip = state
    w = _astropy_wcs(data)
    for name, value in params.items():
        if name == "cd":
            # The bytes hold the matrix as PC (astropy writes headers so), which wcslib uses before
            # CD: the matrix goes into both, with CDELT 1 (a product by 1, exact).
            w.wcs.pc = value
            w.wcs.cdelt = [1.0, 1.0]
        setattr(w.wcs, name, value)
    w.sip = None if sip is None else Sip(*sip)
    w.wcs.set()
    return w


class ExactWCSPickle:
    """Pickles the ``wcs`` attribute of a dataclass exactly (:func:`exact_state`): chips and frames sent to Dask workers."""

    def __getstate__(self):
        state = dict(self.__dict__)
        state["wcs"] = exact_state(self.wcs)
        return state

    def __setstate__(self, state):
        state = dict(state)
        state["wcs"] = from_exact_state(state["wcs"])
        self.__dict__.update(state)  # a frozen dataclass too: no __setattr__ here
