"""Decoding context images (:mod:`gpudriz.context`); its argument errors are in test_validation."""

import numpy as np

import gpudriz
from gpudriz.context import decode_context


def test_bits_of_every_plane_and_both_dtypes():
    ctx = np.zeros((2, 2, 3), dtype=np.int32)
    ctx[0, 0, 0] = 0b101
    ctx[1, 0, 0] = 1
    ctx[0, 1, 2] = np.array(1 << 31, dtype=np.uint32).view(np.int32)  # image 31: the sign bit
    got = decode_context(ctx, [0, 2, 1], [0, 1, 1])
    assert [g.tolist() for g in got] == [[0, 2, 32], [31], []]
    assert decode_context(ctx.view(np.uint32), 2, 1)[0].tolist() == [31]


def test_round_trip_through_drizzle():
    y, x = np.indices((4, 5), dtype=np.float64)
    d = gpudriz.Drizzle(out_shape=(4, 5), max_ctx_id=40, backend="cpu")
    for k in range(35):
        weight = np.zeros((4, 5), np.float32)
        weight[k % 4, k % 5] = 1.0
        d.add_image(np.ones((4, 5), np.float32), 1.0, np.dstack([x, y]), weight_map=weight)
    ids = decode_context(d.out_ctx, [0, 4], [0, 3])
    assert ids[0].tolist() == [k for k in range(35) if (k % 4, k % 5) == (0, 0)]
    assert ids[1].tolist() == [k for k in range(35) if (k % 4, k % 5) == (3, 4)]
