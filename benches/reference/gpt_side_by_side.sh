#!/usr/bin/env bash
# Issue 23's GPT speed figures, both sides in one run, back to back on the same machine: a training
# step of nanoGPT's character shape (6 x 384, 6 heads, vocab 65, batch 8 x 256: forward, backward,
# AdamW) and greedy generation of 128 tokens with and without the key/value cache, PyTorch +
# transformers (gpt_torch.py) then malmoi (examples/gpt_step_profile, `cargo bench --bench gpt`'s
# generation group), with the ratios. The GPT-2 124 M shape (batch 4 x 256, LoRA and full) is the
# SFT row of kochatgpt_side_by_side.sh.
#
#   benches/reference/gpt_side_by_side.sh [THREADS] [REPEATS]      # defaults: 2 threads, 10 repeats
#
# Needs `pip install torch transformers`. About 3 minutes on two cores; run it on an idle machine
# (the load average is printed before and after each side).
set -euo pipefail
threads=${1:-2}
repeats=${2:-10}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
(cd "$root" && cargo build --release --example gpt_step_profile --quiet)
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "== PyTorch (load $(load), $(date -u +%H:%M:%S) UTC)"
python3 "$root/benches/reference/gpt_torch.py" --threads "$threads" --repeats "$repeats" | tee "$out/torch.log"
echo "== malmoi (load $(load), $(date -u +%H:%M:%S) UTC)"
"$root/target/release/examples/gpt_step_profile" --threads "$threads" --steps "$repeats" --warmup 2 | tee "$out/malmoi.log"
(cd "$root" && RAYON_NUM_THREADS=$threads cargo bench --bench gpt -- gpt_generate 2>/dev/null) | tee "$out/bench.log"
echo "== done (load $(load), $(date -u +%H:%M:%S) UTC)"

# criterion prints `thrpt:  [low mid high]` under each benchmark; the middle value, in elem/s
criterion_rate() {
    awk -v name="gpt_generate/$1" '$1 == name { found = 1 } found && /thrpt:/ {
        v = $4; unit = $5; gsub(/\[/, "", v)
        if (unit ~ /^Kelem/) v *= 1e3
        print v; exit }' "$out/bench.log"
}
torch_train=$(sed -n 's/^train step .*ms, \([0-9,]*\) tokens\/s/\1/p' "$out/torch.log" | tr -d ,)
torch_cached=$(sed -n 's/^generate cached: \([0-9,]*\) tokens\/s.*/\1/p' "$out/torch.log" | tr -d ,)
torch_recompute=$(sed -n 's/^generate recompute: \([0-9,]*\) tokens\/s.*/\1/p' "$out/torch.log" | tr -d ,)
malmoi_train=$(sed -n 's/^tokens\/s: \([0-9]*\)/\1/p' "$out/malmoi.log")
malmoi_cached=$(criterion_rate cached)
malmoi_recompute=$(criterion_rate recompute)
echo
printf '%-28s %12s %12s %8s\n' "" "PyTorch" "malmoi" "ratio"
row() { awk -v n="$1" -v t="$2" -v m="$3" 'BEGIN { printf "%-28s %12.0f %12.0f %7.2fx\n", n, t, m, m / t }'; }
row "train step, tokens/s" "$torch_train" "$malmoi_train"
row "generate cached, tokens/s" "$torch_cached" "$malmoi_cached"
row "generate recompute, tokens/s" "$torch_recompute" "$malmoi_recompute"
rm -rf "$out"
