"""Keras' legacy text preprocessing, `Tokenizer` and `pad_sequences`, loaded straight from an
unzipped Keras wheel (`pip download keras --no-deps`, unzip): text.py and sequence_utils.py only
need numpy, so no deep-learning backend is imported. Shared by keras_tokenizer_reference.py and
keras_lecture_pipeline.py.
"""
import sys
import types


def load(root):
    """(Tokenizer, pad_sequences) from the Keras wheel unzipped at `root`."""
    api = types.ModuleType("keras.src.api_export")
    api.keras_export = lambda *a, **k: (lambda f: f)
    for name in ["keras", "keras.src"]:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["keras.src.api_export"] = api
    ns = {}
    for source in ["legacy/preprocessing/text.py", "utils/sequence_utils.py"]:
        with open(f"{root}/keras/src/{source}") as f:
            exec(f.read(), ns)
    return ns["Tokenizer"], ns["pad_sequences"]
