#!/usr/bin/env bash
# NSMC fine-tuning at a base encoder's size (issue 25, deliverable 3): training steps and inference
# batches of an ElectraForSequenceClassification of KcELECTRA-base's shape (124.5 M parameters,
# random weights), PyTorch + transformers and malmoi side by side in one table (seconds per 1,000
# training reviews, reviews/s, peak RSS, one pass over NSMC's 150,000 training reviews).
#
#   benches/reference/encoder_side_by_side.sh [ARGS FOR THE PYTHON SIDE ...]
#   OUT=/tmp/encoder benches/reference/encoder_side_by_side.sh --steps 2 --warmup 1   # keep the JSON files
#
# 1. The PyTorch side (encoder_side_by_side.py) runs each mode in a fresh process and writes
#    $OUT/pytorch.json; its settings (batch, seq_len, warm-up, steps, threads) are then passed to
#    malmoi unchanged, so both sides time the same shapes.
# 2. The malmoi side (examples/encoder_bench.rs) runs once per mode, each in a fresh process,
#    printing one JSON line of raw measurements; the Python script turns those lines into
#    $OUT/malmoi.json with the same medians and projections, and prints both sides joined on mode.
# `uptime` is recorded before and after each side. Needs `pip install torch transformers tokenizers`.
# At the defaults: about 2.5 min for PyTorch (15 s of it the length statistics), 1 min for malmoi.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py="$root/benches/reference/encoder_side_by_side.py"
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"

echo "== PyTorch + transformers"
python3 "$py" --json "$out/pytorch.json" "$@"
setting() { python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['settings'][sys.argv[2]])" "$out/pytorch.json" "$1"; }
batch=$(setting batch) seq_len=$(setting seq_len) warmup=$(setting warmup) steps=$(setting steps) threads=$(setting threads)
modes=$(python3 -c "import json, sys; print(' '.join(r['mode'] for r in json.load(open(sys.argv[1]))['results']))" "$out/pytorch.json")

# ======================= malmoi side: the ONLY place its command is written =======================
# One mode per process: `malmoi_run MODE` prints one JSON line with the raw fields the Python
# script's --summarise reads (see its docstring: mode, step_s, peak_rss_mb, model_rss_mb, params,
# batch, seq_len; optional losses, real_tokens, load1_*, wall_s).
malmoi_binary="$root/target/release/examples/encoder_bench"
malmoi_build() { (cd "$root" && nice cargo build --release --example encoder_bench --quiet); }
malmoi_run() {
    "$malmoi_binary" --mode "$1" --batch "$batch" --seq-len "$seq_len" --warmup "$warmup" --steps "$steps" \
        --threads "$threads"
}
# ==================================================================================================

echo
malmoi_build
echo "== malmoi"
uptime > "$out/malmoi_uptime_before"
: > "$out/malmoi_raw.jsonl"
for mode in $modes; do
    echo "  $mode" >&2
    if line=$(malmoi_run "$mode" | tail -n 1) && [[ -n $line ]]; then
        echo "$line" >> "$out/malmoi_raw.jsonl"
    else
        printf '{"mode": "%s", "error": "malmoi exited non-zero"}\n' "$mode" >> "$out/malmoi_raw.jsonl"
    fi
done
uptime > "$out/malmoi_uptime_after"
status=0  # a failed mode is reported in the tables and makes the exit status 1
python3 "$py" --summarise "$out/malmoi_raw.jsonl" --like "$out/pytorch.json" --side malmoi \
    --uptimes "$out/malmoi_uptime_before" "$out/malmoi_uptime_after" --json "$out/malmoi.json" || status=1
echo
echo "== side by side (ratio = malmoi reviews/s / PyTorch reviews/s)"
python3 "$py" --compare "$out/pytorch.json" "$out/malmoi.json"
echo "JSON: $out/pytorch.json $out/malmoi.json"
exit $status
