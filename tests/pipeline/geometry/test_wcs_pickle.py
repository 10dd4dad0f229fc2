"""Pickling a chip's WCS exactly and cheaply (gpudriz.pipeline.geometry.wcs_pickle)."""

import pickle
import warnings

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, DistortionLookupTable, FITSFixedWarning
from helpers.paths import WCS_DIR

from gpudriz.pipeline.geometry.wcs_pickle import exact_state, from_exact_state


def _acs_hrc():
    """A real ACS/HRC chip WCS (SIP order 4), its lookup tables read from the file."""
    with fits.open(WCS_DIR / "j8bt06nyq_sip_flt.fits") as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        w = WCS(hdul[1].header, hdul)
    w.pixel_shape = (1024, 1024)
    return w


def _pixels(w):
    y, x = np.mgrid[0:1024:97, 0:1024:89]
    return np.stack(w.all_pix2world(x.ravel(), y.ravel(), 0))


def test_a_round_trip_keeps_every_parameter_to_the_last_bit():
    w = _acs_hrc()
    w.wcs.crpix += 1.0 / 3.0  # digits that a 12-digit header would round away
    again = pickle.loads(pickle.dumps(exact_state(w)))
    back = from_exact_state(again)
    np.testing.assert_array_equal(back.wcs.crpix, w.wcs.crpix)
    np.testing.assert_array_equal(back.wcs.cd, w.wcs.cd)
    np.testing.assert_array_equal(back.sip.a, w.sip.a)
    # World coordinates to the last bit or two (astropy's own pickle differs by as much).
    np.testing.assert_array_max_ulp(_pixels(back), _pixels(w), maxulp=2)


def test_astropy_bytes_are_made_once_per_wcs_and_remade_when_it_changes():
    w = _acs_hrc()
    first = exact_state(w)[0]
    assert exact_state(w)[0] is first  # the same WCS pickled again: no new bytes
    w.wcs.crpix += 0.25  # an exact parameter: taken afresh, the bytes stay
    state = exact_state(w)
    assert state[0] is first and state[1]["crpix"][0] == w.wcs.crpix[0]
    w.pixel_shape = (512, 512)  # part of what the bytes hold: made again
    assert exact_state(w)[0] is not first
    assert from_exact_state(exact_state(w)).pixel_shape == (512, 512)


def test_every_unpickled_wcs_is_its_own():
    state = pickle.loads(pickle.dumps(exact_state(_acs_hrc())))
    a, b = from_exact_state(state), from_exact_state(state)
    assert a is not b
    a.wcs.crval = [0.0, 0.0]
    a.wcs.set()
    assert b.wcs.crval[0] != 0.0
    # A copy pickled again (a scheduler passing a task on) reuses the bytes it came from.
    assert exact_state(b)[0] is state[0]


def test_a_wcs_without_sip_stays_without():
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval, w.wcs.crpix, w.wcs.cdelt = [10.0, 20.0], [5.0, 5.0], [-1e-5, 1e-5]
    back = from_exact_state(pickle.loads(pickle.dumps(exact_state(w))))
    assert back.sip is None
    np.testing.assert_array_equal(back.wcs.cdelt, w.wcs.cdelt)


def test_lookup_tables_travel_with_the_wcs():
    w = _acs_hrc()
    table = np.linspace(-0.02, 0.03, 64, dtype=np.float32).reshape(1, 64)
    w.det2im1 = DistortionLookupTable(table, (1.0, 1.0), (1.0, 1.0), (16.0, 1.0))
    back = from_exact_state(pickle.loads(pickle.dumps(exact_state(w))))
    np.testing.assert_array_equal(back.det2im1.data, table)
    np.testing.assert_array_max_ulp(_pixels(back), _pixels(w), maxulp=2)


def test_chips_that_differ_only_in_their_exact_parameters_travel_as_one_byte_string():
    """Reference pixel and value, matrix and SIP coefficients travel exactly beside the bytes: one string per kind
    of WCS, unpickled once per process (a worker does not parse a header per chip, nor cache one WCS per chip)."""
    a = _acs_hrc()
    for name in ("cpdis1", "cpdis2", "det2im1", "det2im2"):
        setattr(a, name, None)  # a WCS with lookup tables travels as astropy's pickle
    b = a.deepcopy()
    b.wcs.crpix += [3.25, -7.5]
    b.wcs.crval += [1e-3, -2e-3]
    b.wcs.cd = b.wcs.cd @ np.array([[np.cos(0.1), -np.sin(0.1)], [np.sin(0.1), np.cos(0.1)]])
    b.sip.a[2, 0] *= 1.5
    b.wcs.set()
    state_a, state_b = exact_state(a), exact_state(b)
    assert state_a[0] == state_b[0]
    for w, state in ((a, state_a), (b, state_b)):
        back = from_exact_state(pickle.loads(pickle.dumps(state)))
        np.testing.assert_array_equal(_pixels(back), _pixels(w))


def _tableless_hrc():
    w = _acs_hrc()
    for name in ("cpdis1", "cpdis2", "det2im1", "det2im2"):
        setattr(w, name, None)
    return w


def test_a_second_chip_of_a_kind_gets_the_bytes_without_astropy_making_a_header(monkeypatch):
    """The template bytes of a kind of WCS are made once: a mosaic's chips share them (astropy's header, 2.5 ms each,
    was most of the client's work in sending the tasks)."""
    a, b = _tableless_hrc(), _tableless_hrc()
    b.wcs.crpix += [0.5, 0.25]
    b.wcs.crval += [2e-3, 1e-3]
    b.sip.a[2, 0] *= 1.1
    b.wcs.set()
    first = exact_state(a)[0]
    made = []
    original = WCS.to_header
    monkeypatch.setattr(WCS, "to_header", lambda self, *args, **kw: made.append(1) or original(self, *args, **kw))
    state = exact_state(b)
    assert state[0] is first and not made
    np.testing.assert_array_equal(_pixels(from_exact_state(pickle.loads(pickle.dumps(state)))), _pixels(b))


def test_a_wcs_that_differs_beyond_its_exact_parameters_gets_bytes_of_its_own():
    """Whatever the bytes hold (types, dates, image size) comes back as the WCS had it, whichever kind went first."""
    a = _tableless_hrc()
    exact_state(a)
    changes = {
        "date": lambda w: setattr(w.wcs, "mjdobs", 53000.25),
        "projection": lambda w: setattr(w.wcs, "ctype", ["RA---SIN-SIP", "DEC--SIN-SIP"]),
        "size": lambda w: setattr(w, "pixel_shape", (512, 1024)),
        "frame": lambda w: setattr(w.wcs, "radesys", "FK5"),
    }
    for what, change in changes.items():
        b = _tableless_hrc()
        change(b)
        b.wcs.set()
        back = from_exact_state(pickle.loads(pickle.dumps(exact_state(b))))
        assert back.pixel_shape == b.pixel_shape, what
        assert list(back.wcs.ctype) == list(b.wcs.ctype), what
        assert back.wcs.radesys == b.wcs.radesys, what
        assert back.wcs.mjdobs == b.wcs.mjdobs or (np.isnan(b.wcs.mjdobs) and np.isnan(back.wcs.mjdobs)), what
        np.testing.assert_array_max_ulp(_pixels(back), _pixels(b), maxulp=2)
