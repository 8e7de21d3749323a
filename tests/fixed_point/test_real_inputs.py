"""Issue 21 (smaller findings): quantize refuses what is not a real number, as
predict_quantized does: no string parsing, no dropped imaginary parts, no datetimes."""

from __future__ import annotations

import datetime
import re

import numpy as np
import pytest

from kappa import quantize

T = "ap_fixed<8,3,AP_RND,AP_SAT>"


@pytest.mark.parametrize("bad, dtype", [
    (["1.5", "2"], "<U3"),
    ([1 + 2j, 0.5], "complex128"),
    (np.array(["2024-01-01"], dtype="datetime64[D]"), "datetime64[D]"),
    ([datetime.datetime(2024, 1, 1)], "object"),
    ([object()], "object"),
    ([[1.0, 2.0], [3.0]], None),
])
def test_quantize_refuses_non_real_values(bad, dtype):
    with pytest.raises(ValueError, match=rf"got dtype {re.escape(dtype)}:" if dtype else "not an array of numbers"):
        quantize(bad, T)


def test_quantize_still_takes_real_numbers():
    # ap_fixed<8,3>: lsb 2**-5; 1.51 rounds to 48/32, True is 1, int 2 stays 2
    assert quantize([1.51, True, 2], T).tolist() == [1.5, 1.0, 2.0]
    assert quantize(np.float32(0.3), T).tolist() == 10 / 32  # 0.3 * 32 = 9.6 rounds to 10
