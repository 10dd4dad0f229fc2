"""The shared FITS helpers: InputError, reason and open_fits."""

import bz2
import gzip

import numpy as np
import pytest
from astropy.io import fits

from gpudriz.pipeline.io import inputs
from gpudriz.pipeline.io.fits import InputError, is_compressed, open_fits, reason


def _two_hdus(path, nextend=None):
    primary = fits.PrimaryHDU()
    if nextend is not None:
        primary.header["NEXTEND"] = nextend
    fits.HDUList([primary, fits.ImageHDU(np.ones((4, 5), np.float32), name="SCI")]).writeto(path)
    return path


def test_input_error_is_the_one_inputs_exports():
    assert inputs.InputError is InputError and issubclass(InputError, ValueError)


@pytest.mark.parametrize(
    "exc, text",
    [
        (OSError("Header missing END card.  The file may be truncated."), "Header missing END card"),
        (ValueError("  many\n  lines. second"), "many lines"),
        (KeyError(), "KeyError"),
        (ValueError("ends with a stop."), "ends with a stop"),
    ],
)
def test_reason_is_the_first_sentence_on_one_line(exc, text):
    assert reason(exc) == text


def test_open_fits_reads_every_header(tmp_path):
    path = _two_hdus(tmp_path / "a.fits", nextend=1)
    with open_fits(path, "exposure") as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCI"] and hdul[1].data.shape == (4, 5)


def test_open_fits_refuses_missing_and_non_fits_files(tmp_path):
    with pytest.raises(InputError, match=r"^exposure '.*nothing\.fits' does not exist\.$"):
        open_fits(tmp_path / "nothing.fits", "exposure")
    junk = tmp_path / "junk.fits"
    junk.write_text("not a FITS file")
    with pytest.raises(InputError, match=r"^IVM file '.*junk\.fits' is not a readable FITS file \(.+\)\.$"):
        open_fits(junk, "IVM file")


@pytest.mark.parametrize("change", ["cut", "pad"])
def test_open_fits_refuses_truncated_or_padded_files(tmp_path, change):
    path = _two_hdus(tmp_path / "a.fits")
    raw = path.read_bytes()
    path.write_bytes(raw[:-100] if change == "cut" else raw + b"\0" * 2880)
    with pytest.raises(InputError, match="is truncated or corrupt"):
        open_fits(path, "exposure")


def test_open_fits_checks_nextend(tmp_path):
    path = _two_hdus(tmp_path / "a.fits", nextend=3)
    with pytest.raises(InputError, match="NEXTEND = 3 extensions but the file holds 1"):
        open_fits(path, "exposure")


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress])
def test_compressed_files_are_read_whatever_their_size(tmp_path, compress):
    raw = _two_hdus(tmp_path / "a.fits").read_bytes()
    path = tmp_path / "a.fits.z"
    path.write_bytes(compress(raw))
    assert is_compressed(path) and not is_compressed(tmp_path / "a.fits")
    with open_fits(path, "exposure") as hdul:
        assert len(hdul) == 2
