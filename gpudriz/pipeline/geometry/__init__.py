"""The output frame, distortion models and shift files."""
