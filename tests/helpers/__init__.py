"""Test helpers: the slow NumPy twins of every kernel (``naive_*``), the host shim that compiles
the CUDA sources with g++ (``cuda_host``), the repository's paths and shared test data.

``pyproject.toml`` puts ``tests/`` on pytest's ``pythonpath``, so test modules import these as
``helpers.<name>`` wherever they sit in the tree.
"""
