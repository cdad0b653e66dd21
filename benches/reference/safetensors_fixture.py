"""Writes crates/tensor/tests/fixtures/python_written.safetensors with the
Python `safetensors` package, for malmoi-tensor's round-trip test
(tests/checkpoint.rs), and checks a file written by malmoi if one is given.

    pip install numpy safetensors
    python benches/reference/safetensors_fixture.py            # write the fixture
    python benches/reference/safetensors_fixture.py FILE       # print a malmoi-written file

The values are simple formulas so the Rust test can recompute them.
"""
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file
from safetensors import safe_open

OUT = Path(__file__).resolve().parents[2] / "crates/tensor/tests/fixtures/python_written.safetensors"


def main():
    if len(sys.argv) > 1:
        with safe_open(sys.argv[1], framework="numpy") as f:
            print("metadata:", f.metadata())
        for name, array in load_file(sys.argv[1]).items():
            print(name, array.dtype, array.shape, array.ravel()[:6])
        return
    tensors = {
        # value[i, j] = i * 10 + j * 0.5
        "encoder.weight": (np.arange(3)[:, None] * 10 + np.arange(4)[None, :] * 0.5).astype(np.float32),
        "encoder.bias": np.array([-1.5, 0.0, 2.25], dtype=np.float32),
        "scalar": np.array(3.5, dtype=np.float32),
        "position_ids": np.arange(5, dtype=np.int64),
        "half": np.ones((2, 2), dtype=np.float16),
    }
    save_file(tensors, OUT, metadata={"format": "pt", "written_by": "python safetensors"})
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
