"""Demo layer: synthetic data with its truth, the science checks against it, quicklooks, demo commands.

Sits on top of the pipeline and the engine; nothing in them imports it.
"""
