#!/usr/bin/env bash
# KoChatGPT at KoGPT2's size (issue 22, part 4): SFT, reward-model, DPO and GRPO steps and greedy
# rollouts of a 125 M GPT-2 (KoGPT2's shape, random weights), LoRA and full, PyTorch + PEFT and
# malmoi side by side in one table (tokens/s, peak RSS, projected 12,000-pair epoch).
#
#   benches/reference/kochatgpt_side_by_side.sh [ARGS FOR THE PYTHON SIDE ...]
#   OUT=/tmp/kochatgpt benches/reference/kochatgpt_side_by_side.sh --steps 3   # keep the JSON files
#
# 1. The PyTorch side (kochatgpt_side_by_side.py) runs every configuration in a fresh process and
#    writes $OUT/pytorch.json; its settings (batch, group, T, P, warm-up, steps, ...) are then
#    passed to malmoi unchanged, so both sides time the same shapes.
# 2. The malmoi side runs once per (step, mode), each in a fresh process, printing one JSON line
#    of raw measurements; the Python script turns those lines into $OUT/malmoi.json with the same
#    medians and projections, and prints both sides joined on (step, mode).
# Needs `pip install torch transformers peft tokenizers`. About 10 min per side on two cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py="$root/benches/reference/kochatgpt_side_by_side.py"
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"

echo "== PyTorch + PEFT"
python3 "$py" --json "$out/pytorch.json" "$@"
setting() { python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['settings'][sys.argv[2]])" "$out/pytorch.json" "$1"; }
batch=$(setting batch) group=$(setting group) seq_len=$(setting seq_len) prompt_len=$(setting prompt_len)
warmup=$(setting warmup) steps=$(setting steps) gen_runs=$(setting gen_runs) threads=$(setting threads)
configs=$(python3 -c "import json, sys; print(' '.join(r['step'] + ':' + r['mode'] for r in json.load(open(sys.argv[1]))['results']))" "$out/pytorch.json")

# ======================= malmoi side: the ONLY place its command is written =======================
# One configuration per process: `malmoi_run STEP MODE` prints one JSON line with the raw fields the
# Python script's --summarise reads (see its docstring: step, mode, step_s, reference_s,
# peak_rss_mb, model_rss_mb, trainable_params, total_params; optional losses, load1_*, wall_s).
malmoi_source="$root/examples/chat_bench.rs"
malmoi_binary="$root/target/release/examples/chat_bench"
malmoi_build() { (cd "$root" && nice cargo build --release --example chat_bench --quiet); }
malmoi_run() {
    "$malmoi_binary" --step "$1" --mode "$2" --batch "$batch" --group "$group" --seq-len "$seq_len" \
        --prompt-len "$prompt_len" --warmup "$warmup" --steps "$steps" --gen-runs "$gen_runs" --threads "$threads"
}
# ==================================================================================================

echo
if [[ ! -f "$malmoi_source" ]]; then
    echo "== malmoi side skipped: $malmoi_source does not exist yet (PyTorch figures above, $out/pytorch.json)"
    exit 0
fi
malmoi_build
if [[ ! -x "$malmoi_binary" ]]; then
    echo "== malmoi side skipped: $malmoi_binary was not built"
    exit 1
fi
echo "== malmoi"
uptime > "$out/malmoi_uptime_before"
: > "$out/malmoi_raw.jsonl"
for config in $configs; do
    step=${config%%:*} mode=${config##*:}
    echo "  $step/$mode" >&2
    if line=$(malmoi_run "$step" "$mode" | tail -n 1) && [[ -n $line ]]; then
        echo "$line" >> "$out/malmoi_raw.jsonl"
    else
        printf '{"step": "%s", "mode": "%s", "error": "malmoi exited non-zero"}\n' "$step" "$mode" >> "$out/malmoi_raw.jsonl"
    fi
done
uptime > "$out/malmoi_uptime_after"
status=0  # a failed configuration is reported in the tables and makes the exit status 1
python3 "$py" --summarise "$out/malmoi_raw.jsonl" --like "$out/pytorch.json" --side malmoi \
    --uptimes "$out/malmoi_uptime_before" "$out/malmoi_uptime_after" --json "$out/malmoi.json" || status=1
echo
echo "== side by side (ratio = malmoi tokens/s / PyTorch tokens/s)"
python3 "$py" --compare "$out/pytorch.json" "$out/malmoi.json"
echo "JSON: $out/pytorch.json $out/malmoi.json"
exit $status
