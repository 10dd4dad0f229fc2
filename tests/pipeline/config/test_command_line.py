"""Parameter settings from command-line arguments."""

import pytest

from gpudriz.pipeline.config.command_line import parse_cli
from gpudriz.pipeline.config.values import ParameterError


def test_cli_forms():
    got = parse_cli([
        "final_pixfrac=0.8", "--final-scale", "0.05", "--combine_nsigma=4 3", "--clean", "yes",
        "skyuser=", "--final-rot", "-45", "Final_Kernel=Lanczos3", "bits=4", "--bits", "8",
    ])  # fmt: skip
    assert got == {
        "final_pixfrac": 0.8, "final_scale": 0.05, "combine_nsigma": (4.0, 3.0), "clean": True,
        "skyuser": None, "final_rot": -45.0, "final_kernel": "lanczos3", "bits": 8,
    }  # fmt: skip
    assert list(got)[-1] == "bits"  # a later setting wins
    assert parse_cli([]) == {}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--final-pixfrac"], "option '--final-pixfrac' needs a value"),
        (["--clean", "--build", "no"], "option '--clean' needs a value"),
        (["final_pixfrc=1"], "unknown parameter 'final_pixfrc' (did you mean 'final_pixfrac'?)."),
        (["--final-pixfrc", "1"],
         "unknown parameter 'final-pixfrc' (did you mean 'final_pixfrac'?)."),
        (["final_pixfrac=abc"], "final_pixfrac = 'abc' is not valid: expected a number > 0."),
        (["extra.fits"], "'extra.fits' is not a parameter setting: expected name=value"),
        (["=3"], "'=3' is not a parameter setting"),
    ],
)
def test_cli_errors(args, message):
    with pytest.raises(ParameterError) as info:
        parse_cli(args)
    assert str(info.value).startswith(message)


