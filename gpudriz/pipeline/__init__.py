"""The pipeline layer: MultiDrizzle's eight steps over the engine and the backend.

- :mod:`~gpudriz.pipeline.multidrizzle`: :class:`Multidrizzle` (build, run) owns the state and the order;
- :mod:`~gpudriz.pipeline.steps`: one module per manual step, each a task with explicit inputs;
- :mod:`~gpudriz.pipeline.config`: the parameters (definitions, parsing, files, reference text,
  editpars, MDRIZTAB);
- :mod:`~gpudriz.pipeline.io`: FITS helpers, inputs, instruments, products, in-place updates;
- :mod:`~gpudriz.pipeline.geometry`: output frames, distortion models, shift files.
"""
