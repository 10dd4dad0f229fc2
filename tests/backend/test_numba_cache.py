"""Compiled kernels are cached on disk: a second process compiles nothing.

Checked through Numba's dispatcher statistics (cache hits and misses), not
through timings.
"""

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, warnings
    import numpy as np
    import gpudriz
    from gpudriz.fallback import blot, drizzle, pixmap
    from astropy.wcs import WCS

    warnings.simplefilter("ignore")
    data = np.ones((20, 24), np.float32)
    y, x = np.indices(data.shape, dtype=float)
    pm = np.dstack([x + 0.3, y + 0.2])
    d = gpudriz.Drizzle(kernel="square", out_shape=(22, 26), backend="cpu")
    d.add_image(data, 1.0, pm)
    gpudriz.blot_image(d.out_img, pm, interp="poly5", backend="cpu")
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.cdelt = [-1e-5, 1e-5]
    gpudriz.calc_pixmap(w, w, shape=(20, 24), backend="cpu")
    stats = {}
    for mod in (drizzle, blot, pixmap):
        for name in dir(mod):
            f = getattr(mod, name)
            if hasattr(f, "stats") and hasattr(f, "signatures") and f.signatures:
                stats[mod.__name__ + "." + name] = [sum(f.stats.cache_hits.values()),
                                                    sum(f.stats.cache_misses.values())]
    print(json.dumps(stats))
    """
)


def _run(cwd):
    # Run away from the checkout: `python -c` puts the working directory on
    # sys.path, which would import the source tree instead of the package.
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=cwd
    )
    assert out.returncode == 0, f"subprocess failed:\n{out.stderr[-3000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_loads_every_kernel_from_the_cache(tmp_path):
    _run(tmp_path)  # compiles whatever the cache lacks
    stats = _run(tmp_path)
    assert stats, "no compiled dispatcher was found"
    used = {name: hm for name, hm in stats.items() if hm != [0, 0]}
    assert any("bands_square" in n for n in used)
    missed = {name: hm for name, hm in used.items() if hm[1] > 0}
    assert not missed, f"compiled again in a new process: {missed}"
