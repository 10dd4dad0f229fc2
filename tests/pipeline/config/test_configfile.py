"""Configuration files: round trips, layout, hand-written files and errors naming the line."""

import io
import re

import pytest

from gpudriz.pipeline.config.configfile import read_config, write_config
from gpudriz.pipeline.config.definitions import PARAMETERS, STEPS
from gpudriz.pipeline.config.mapping import Parameters
from gpudriz.pipeline.config.values import ParameterError, format_value

ODD = {
    "input": ["a_flt.fits", "b_flt.fits"],
    "output": "'quoted'",
    "refimage": 'ref "x".fits',
    "coeffs": "none",
    "context": False,
    "bits": 3458,
    "ra": 0.1 + 0.2,
    "dec": -1e-7,
    "skyuser": "MDRIZSKY",
    "skylower": None,
    "driz_sep_scale": 0.05,
    "final_rot": None,
    "final_fillval": -1e30,
    "combine_nsigma": (4.5, 3.25),
    "driz_cr_snr": (1 / 3, 2.0),
    "final_kernel": "lanczos3",
    "final_wht_type": "ERR",
    "driz_sep_outnx": 2048,
    "backend": "cpu",
}


def _same(a, b):
    assert a == b
    for name in PARAMETERS:
        assert type(a[name]) is type(b[name]), name


def test_config_round_trip_of_defaults_and_odd_values(tmp_path):
    for values in ({}, ODD):
        p = Parameters(values)
        path = tmp_path / "md.cfg"
        write_config(path, p)
        _same(read_config(path), p)
        assert [f.name for f in tmp_path.iterdir()] == ["md.cfg"]  # no temporary left behind
        assert path.stat().st_mode & 0o777 == 0o644


def test_config_file_is_commented_and_grouped():
    buf = io.StringIO()
    write_config(buf, {"final_scale": 0.05})
    text = buf.getvalue()
    lines = text.splitlines()
    for name, p in PARAMETERS.items():
        i = next(k for k, line in enumerate(lines) if line.startswith(f"{name} = "))
        comment = lines[i - 1]
        assert comment.startswith(f"# {p.description}")
        assert f"{p.kind_label}; default {format_value(p.default)}; {p.allowed}" in comment
    assert "combine_nsigma = 4 3" in lines and "final_scale = 0.05" in lines
    assert "driz_sep_scale = INDEF" in lines and "clean = no" in lines
    heads = [line for line in lines if re.fullmatch(r"# .+ \[\w+\]", line)]
    assert heads == [f"# {title} [{step}]" for step, title in STEPS.items()]
    _same(read_config(io.StringIO(text)), Parameters(final_scale=0.05))


def test_hand_written_config(tmp_path):
    path = tmp_path / "hand.cfg"
    path.write_text(
        "# my run\n\n   # indented comment\nFinal-Pixfrac=0.8\n  combine_nsigma = 5,3  \n"
        "final_kernel = 'gaussian'\nskyuser =\nclean = YES\n",
        encoding="utf-8",
    )
    p = read_config(path)
    assert p.changed() == {
        "final_pixfrac": 0.8, "combine_nsigma": (5.0, 3.0), "final_kernel": "gaussian",
        "clean": True,
    }  # fmt: skip


@pytest.mark.parametrize(
    "body, line, message",
    [
        ("bits = 1\nfinal_pixfrac = -1\n", 2,
         "final_pixfrac = '-1' is not valid: expected a number > 0."),
        ("# c\n\nfinal_pixfrc = 1\n", 3,
         "unknown parameter 'final_pixfrc' (did you mean 'final_pixfrac'?)."),
        ("clean yes\n", 1, "expected 'name = value' or a '#' comment, got 'clean yes'."),
        ("= 3\n", 1, "expected 'name = value'"),
        ("bits = 1\n\nbits = 2\n", 3, "bits is set twice (first on line 1)."),
        ("final_kernel = INDEF\n", 1, "final_kernel = 'INDEF' is not valid: expected one of"),
    ],
)
def test_config_errors_name_file_and_line(tmp_path, body, line, message):
    path = tmp_path / "bad.cfg"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ParameterError) as info:
        read_config(path)
    assert str(info.value).startswith(f"{path}, line {line}: {message}")


def test_config_rejects_non_text_and_bad_values_to_write(tmp_path):
    path = tmp_path / "bin.cfg"
    path.write_bytes(b"\xff\xfe\x00bits = 1")
    with pytest.raises(ParameterError, match="not a configuration file"):
        read_config(path)
    with pytest.raises(ParameterError, match="unknown parameter 'final_pixfrc'"):
        write_config(tmp_path / "x.cfg", {"final_pixfrc": 1})
    assert not (tmp_path / "x.cfg").exists()


