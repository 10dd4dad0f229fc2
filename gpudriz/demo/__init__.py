"""Demo layer: synthetic data with its truth, the science checks against it, quicklooks, demo commands.

- :mod:`~gpudriz.demo.synthetic`: the synthetic ACS/WFC association (:func:`make_association`), over
  :mod:`~gpudriz.demo.instrument` (chip geometry, pixel areas, detector), :mod:`~gpudriz.demo.scene`
  (stars and galaxies, rendered through any WCS) and :mod:`~gpudriz.demo.truth` (what was simulated);
- :mod:`~gpudriz.demo.tiny_inputs`: many tiny exposures, for scaling tests and benchmarks;
- :mod:`~gpudriz.demo.science`: a run's figures against the truth;
- :mod:`~gpudriz.demo.quicklook`: PNG quicklooks;
- :mod:`~gpudriz.demo.pipeline_demo`, :mod:`~gpudriz.demo.drizzle_demo`: ``gpudriz demo`` and
  ``gpudriz demo --drizzle-only``.

Sits on top of the pipeline and the engine; nothing in them imports it.
"""
