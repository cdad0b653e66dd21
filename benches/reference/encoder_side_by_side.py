"""NSMC fine-tuning at a base encoder's size, PyTorch + transformers side (issue 25).

An ElectraForSequenceClassification of KcELECTRA-base's shape (beomi/KcELECTRA-base's config.json,
commit a6f029f: hidden 768, 12 layers, 12 heads, intermediate 3,072, embedding_size 768, vocabulary
50,135, 512 positions, 2 token types; 2 labels; 124.5 M parameters) with random weights — the
checkpoint cannot be downloaded here, and speed and memory need only the shape:

  train   B reviews of T tokens: forward in training mode (dropout 0.1), cross-entropy over random
          labels, backward, AdamW (lr 5e-5, weight decay 0.01 on matrices and embeddings, none on
          biases and LayerNorms, as transformers' Trainer groups them; fused, Trainer's default
          on torch >= 2.8), zero_grad — timed whole;
  infer   the forward of B reviews in eval mode under torch.inference_mode(), logits out.

Rows are random ids from [5, 50135) (KcELECTRA's [PAD] [UNK] [CLS] [SEP] [MASK] are 0-4); every
fourth row (3, 7, ...) holds only ceil(T/2) real tokens and is padded with [PAD] under the attention
mask, as a batch padded to its longest review is. Attention-probability dropout is off: malmoi
does not implement it (KcELECTRA's config asks for 0.1), and both sides should do the same work.

Each mode runs in a fresh subprocess so ru_maxrss is its own peak. Steady state: `--warmup` steps
discarded, the median of `--steps` timed ones. Derived: seconds per 1,000 reviews (train),
reviews/s (both), and the time of one pass over NSMC's 150,000 training reviews at that rate,
padded to T — and, as an estimate, at the reviews' own lengths (perfect length bucketing, the
same tokens/s).

Lengths come from the data: ratings_train.txt's 150,000 documents encoded by a KcELECTRA-style
WordPiece (BERT normaliser without lowercasing, BertPreTokenizer, [CLS] ... [SEP]) of KcELECTRA's
vocabulary size, 50,135, trained on those documents (hf_tokenizer_fixtures.bert_wordpiece, about
15 s). KcELECTRA's own vocabulary was trained on news comments, so its lengths differ somewhat.

Run:   python benches/reference/encoder_side_by_side.py --json /tmp/encoder_torch.json
Both sides in one table: benches/reference/encoder_side_by_side.sh

The other side (malmoi, examples/encoder_bench.rs) prints, per mode and from its own process, one
JSON line of raw measurements; `--summarise RAW.jsonl --like TORCH.json --json OUT.json` derives
the same figures from it and `--compare A.json B.json` prints both. A raw line holds:
  mode                  "train" | "infer";
  step_s                seconds of every step, the `warmup` discarded ones first;
  peak_rss_mb           the process's peak RSS at the end (VmHWM / ru_maxrss), MiB;
  model_rss_mb          current RSS once the model (and optimizer) exist, MiB;
  params                parameters of the model;
  batch, seq_len        the shape it timed (checked against the settings);
  optional: losses, real_tokens, load1_start, load1_end (/proc/loadavg), wall_s, threads.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from side_by_side_common import (  # noqa: E402
    cell, finish_run, hms, load1, quantiles, rss_now_mb, rss_peak_mb, run_child, run_configs, summarise_other_side,
    uptime)
NSMC_TRAIN = os.path.join(HERE, "../../../shared/data/nsmc/ratings_train.txt")
# beomi/KcELECTRA-base's config.json, commit a6f029f ("Add 848.4k KcELECTRA-base"); the same text is
# KCELECTRA_BASE in examples/encoder_bench.rs.
KCELECTRA_BASE = {
    "architectures": ["ElectraForPreTraining"], "num_hidden_layers": 12, "hidden_size": 768,
    "intermediate_size": 3072, "num_attention_heads": 12, "embedding_size": 768,
    "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "initializer_range": 0.02, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
    "model_type": "electra", "type_vocab_size": 2, "vocab_size": 50135, "pad_token_id": 0,
    "tokenizer_class": "BertTokenizer",
}
SPECIAL_IDS, PAD, LABELS = 5, 0, 2
LR, WEIGHT_DECAY = 5e-5, 0.01
NSMC_REVIEWS = 150_000
MODES = ("train", "infer")
# Published NSMC test accuracies of the real checkpoints (Beomi/KcELECTRA's README table, fine-tuned
# with Beomi/KcBERT-finetune): quoted, not measured here.
PUBLISHED = [("KcELECTRA-base", 91.71), ("KoELECTRA-base-v3", 90.63), ("KoBERT", 89.63),
             ("XLM-RoBERTa-base", 89.49)]


# ----------------------------------------------------------------------------------- lengths --


def data_lengths(seq_len):
    """Token lengths of NSMC's training reviews under a KcELECTRA-size WordPiece trained on them."""
    sys.path.insert(0, HERE)
    from hf_tokenizer_fixtures import bert_wordpiece, documents
    reviews = documents(NSMC_TRAIN)
    tokenizer = bert_wordpiece(reviews, vocab_size=KCELECTRA_BASE["vocab_size"])
    lengths = [len(e.ids) for e in tokenizer.encode_batch(reviews)]
    return {
        "tokenizer": f"bert_wordpiece(ratings_train.txt, vocab {tokenizer.get_vocab_size():,}), [CLS] + [SEP]",
        "reviews": len(reviews),
        "tokens": quantiles(lengths),
        "share_within_seq_len": round(sum(n <= seq_len for n in lengths) / len(lengths), 4),
        "real_tokens_capped": sum(min(n, seq_len) for n in lengths),
    }


# ------------------------------------------------------------------------------------ memory --


# ------------------------------------------------------------------------------------- child --

def row_length(row, seq_len):
    """Real tokens of a row: every fourth row (3, 7, ...) holds half (rounded up); as encoder_bench.rs."""
    return (seq_len + 1) // 2 if row % 4 == 3 else seq_len


def make_batch(batch, seq_len):
    import torch
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(SPECIAL_IDS, KCELECTRA_BASE["vocab_size"], (batch, seq_len), generator=generator)
    mask = torch.zeros(batch, seq_len, dtype=torch.long)
    for row in range(batch):
        mask[row, :row_length(row, seq_len)] = 1
    inputs = {"input_ids": ids.masked_fill(mask == 0, PAD), "attention_mask": mask,
              "token_type_ids": torch.zeros_like(ids)}
    return inputs, torch.randint(0, LABELS, (batch,), generator=generator)


def build_model():
    from transformers import ElectraConfig, ElectraForSequenceClassification
    config = ElectraConfig(**{**KCELECTRA_BASE, "attention_probs_dropout_prob": 0.0}, num_labels=LABELS)
    return ElectraForSequenceClassification(config)


def optimizer_of(model):
    """transformers' Trainer grouping: decay on tensors of two or more dimensions, none on the rest."""
    import torch
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": WEIGHT_DECAY},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=LR, fused=True)


def time_steps(args, step):
    times = []
    for i in range(args["warmup"] + args["steps"]):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
        print(f"step {i + 1}/{args['warmup'] + args['steps']}: {times[-1]:.3f} s", file=sys.stderr)
    return times


def train_config(args):
    """Times training steps; runs inside its own process."""
    import torch.nn.functional as F
    model = build_model().train()
    optimizer = optimizer_of(model)
    inputs, labels = make_batch(args["batch"], args["seq_len"])
    rss_model = rss_now_mb()
    losses = []

    def step():
        loss = F.cross_entropy(model(**inputs).logits, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(round(loss.item(), 4))

    times = time_steps(args, step)
    return model, rss_model, times, losses


def infer_config(args):
    """Times inference batches; runs inside its own process."""
    import torch
    model = build_model().eval()
    inputs, _ = make_batch(args["batch"], args["seq_len"])
    rss_model = rss_now_mb()

    def step():
        with torch.inference_mode():
            logits = model(**inputs).logits
        assert logits.shape == (args["batch"], LABELS), logits.shape

    return model, rss_model, time_steps(args, step), []


def child(config):
    mode, args = config["mode"], config["args"]
    load_start = load1()
    import torch
    import transformers
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(args["threads"])
    torch.manual_seed(0)
    wall = time.perf_counter()
    model, rss_model, times, losses = (train_config if mode == "train" else infer_config)(args)
    print(json.dumps({
        "mode": mode, "step_s": [round(t, 3) for t in times], "losses": losses,
        "params": sum(p.numel() for p in model.parameters()), "batch": args["batch"], "seq_len": args["seq_len"],
        "real_tokens": sum(row_length(row, args["seq_len"]) for row in range(args["batch"])), "model_rss_mb": round(rss_model, 1),
        "peak_rss_mb": round(rss_peak_mb(), 1), "load1_start": load_start, "load1_end": load1(),
        "wall_s": round(time.perf_counter() - wall, 1), "threads": args["threads"],
        "attn_implementation": model.config._attn_implementation,
    }))


# ------------------------------------------------------------------------------------ parent --

def summarise(raw, settings):
    """Adds the derived figures (median, per-review rates, NSMC passes) to one side's raw line."""
    if (raw.get("batch"), raw.get("seq_len")) != (settings["batch"], settings["seq_len"]):
        return {"mode": raw["mode"], "error": f"timed {raw.get('batch')} x {raw.get('seq_len')}, "
                                              f"settings say {settings['batch']} x {settings['seq_len']}"}
    timed = raw["step_s"][settings["warmup"]:]
    if not timed:
        return {"mode": raw["mode"], "error": "no timed steps"}
    median, batch = statistics.median(timed), settings["batch"]
    tokens_per_s = batch * settings["seq_len"] / median
    raw.update({
        "timed_steps": len(timed), "warmup_steps": settings["warmup"],
        "step_s_median": round(median, 3), "step_s_min": round(min(timed), 3),
        "s_per_1k_reviews": round(1000 * median / batch, 2), "reviews_per_s": round(batch / median, 1),
        "tokens_per_s": round(tokens_per_s, 1),
        "nsmc_150k_s": round(math.ceil(NSMC_REVIEWS / batch) * median, 1),
        "nsmc_150k_bucketed_s": round(settings["nsmc_real_tokens"] / tokens_per_s, 1),
    })
    return raw


def run_config(mode, settings):
    raw = run_child(os.path.abspath(__file__), {"mode": mode, "args": settings})
    return raw if "error" in raw else summarise(raw, settings)


def print_table(results):
    print(f"{'mode':<7}{'B x T':>9}{'steps':>7}{'step s':>9}{'s/1k rev':>10}{'rev/s':>8}{'peak RSS':>10}"
          f"{'model RSS':>11}{'params':>13}{'NSMC 150k':>11}{'bucketed':>10}  load1")
    for r in results:
        if "error" in r:
            print(f"{r['mode']:<7}  FAILED: {r['error']}")
            continue
        shape, steps = f"{r['batch']} x {r['seq_len']}", f"{r['warmup_steps']}+{r['timed_steps']}"
        print(f"{r['mode']:<7}{shape:>9}{steps:>7}{r['step_s_median']:>9.3f}{r['s_per_1k_reviews']:>10.1f}"
              f"{r['reviews_per_s']:>8.1f}{r['peak_rss_mb']:>8.0f}MB{r['model_rss_mb']:>9.0f}MB{r['params']:>13,}"
              f"{hms(r['nsmc_150k_s']):>11}{hms(r['nsmc_150k_bucketed_s']):>10}  "
              f"{r.get('load1_start', '?')}->{r.get('load1_end', '?')}")


def print_notes(settings, data):
    print(f"NSMC 150k: one pass over the 150,000 training reviews in batches of {settings['batch']} padded to "
          f"{settings['seq_len']} tokens; bucketed: at the reviews' own lengths ({settings['nsmc_real_tokens']:,} "
          f"tokens, mean {data['tokens']['mean']}) and the same tokens/s, an estimate")


def settings_from(args, data):
    return {"batch": args.batch, "seq_len": args.seq_len, "warmup": args.warmup, "steps": args.steps,
            "threads": args.threads, "nsmc_real_tokens": data["real_tokens_capped"]}


def environment():
    import torch
    import transformers
    return {"side": "pytorch", "torch": torch.__version__, "transformers": transformers.__version__,
            "python": sys.version.split()[0], "model": "ElectraForSequenceClassification, random weights (seed 0)",
            "config": KCELECTRA_BASE, "attention_probs_dropout_prob": 0.0, "num_labels": LABELS,
            "optimizer": f"torch.optim.AdamW(fused=True, lr {LR}, weight decay {WEIGHT_DECAY} on ndim >= 2)"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", help="write the results here")
    p.add_argument("--batch", type=int, default=32, help="reviews per step")
    p.add_argument("--seq-len", type=int, default=64, help="tokens per row (NSMC: 64 holds 99.8 %% whole)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5, help="timed steps per mode (median)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", nargs="*", choices=MODES, help="modes to run (default: both)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--summarise", metavar="RAW_JSONL",
                   help="turn another side's raw lines (one per mode) into a report like --like's")
    p.add_argument("--like", metavar="TORCH_JSON", help="with --summarise: the settings and data to use")
    p.add_argument("--side", default="malmoi", help="with --summarise: the side's name")
    p.add_argument("--uptimes", nargs=2, metavar=("BEFORE", "AFTER"), help="with --summarise: uptime files")
    p.add_argument("--compare", nargs=2, metavar=("TORCH_JSON", "MALMOI_JSON"),
                   help="print both sides' results in one table and exit")
    return p.parse_args()


def main():
    args = parse_args()
    if args.child:
        return child(json.loads(args.child))
    if args.compare:
        return compare(*args.compare)
    if args.summarise:
        return summarise_raw(args)
    started, uptime_before = time.perf_counter(), uptime()
    print(f"uptime: {uptime_before}")
    data = data_lengths(args.seq_len)
    settings = settings_from(args, data)
    print(f"NSMC train tokens ({data['tokenizer']}): {data['tokens']}; "
          f"{100 * data['share_within_seq_len']:.2f} % within {args.seq_len}")
    print(f"batch {args.batch} x {args.seq_len} tokens; {args.warmup} warm-up + {args.steps} timed steps; "
          f"{args.threads} threads")
    modes = [(m,) for m in MODES if not args.only or m in args.only]
    results = run_configs(modes, lambda mode: run_config(mode, settings))
    print()
    print_table(results)
    print_notes(settings, data)
    return finish_run(args, started, uptime_before,
                      {**environment(), "data": data, "settings": settings, "results": results})


# ----------------------------------------------------------------------------------- compare --

def read_raw(line):
    try:
        raw = json.loads(line)
    except json.JSONDecodeError:
        return {"mode": "?", "error": f"not JSON: {line[:200]}"}
    if "error" in raw or {"mode", "step_s", "peak_rss_mb", "model_rss_mb", "params", "batch", "seq_len"} <= raw.keys():
        return raw
    return {"mode": raw.get("mode", "?"), "error": f"missing fields: {line[:200]}"}


def summarise_raw(args):
    """Another side's raw lines, summarised with the PyTorch run's settings (same medians, same projections)."""
    return summarise_other_side(args, read_raw, summarise, print_table)


def compare(torch_json, malmoi_json):
    """One table of both sides, joined on mode; ratio = malmoi reviews/s over PyTorch's."""
    sides = []
    for path in (torch_json, malmoi_json):
        with open(path, encoding="utf-8") as f:
            sides.append(json.load(f))
    index = [{r["mode"]: r for r in side["results"] if "error" not in r} for side in sides]
    settings = sides[0]["settings"]
    for name, side in zip(("pytorch", "malmoi"), sides):
        print(f"{name}: {side.get('uptime_before', '?')}  |  {side.get('uptime_after', '?')}")
    print(f"batch {settings['batch']} x {settings['seq_len']} tokens, {settings['warmup']} warm-up + "
          f"{settings['steps']} timed steps, {settings['threads']} threads")
    print(f"{'mode':<7}{'torch rev/s':>12}{'malmoi rev/s':>13}{'ratio':>7}{'torch s/1k':>12}{'malmoi s/1k':>12}"
          f"{'torch peak':>12}{'malmoi peak':>12}{'torch 150k':>12}{'malmoi 150k':>12}")
    for mode in MODES:
        t, m = (side.get(mode, {}) for side in index)
        if not t and not m:
            continue
        ratio = m["reviews_per_s"] / t["reviews_per_s"] if t and m else None
        print(f"{mode:<7}{cell(t.get('reviews_per_s'), '.1f'):>12}{cell(m.get('reviews_per_s'), '.1f'):>13}"
              f"{cell(ratio, '.2f', 'x'):>7}{cell(t.get('s_per_1k_reviews'), '.1f'):>12}"
              f"{cell(m.get('s_per_1k_reviews'), '.1f'):>12}{cell(t.get('peak_rss_mb'), '.0f', ' MB'):>12}"
              f"{cell(m.get('peak_rss_mb'), '.0f', ' MB'):>12}{hms(t.get('nsmc_150k_s')):>12}"
              f"{hms(m.get('nsmc_150k_s')):>12}")
    print_notes(settings, sides[0]["data"])
    print("published NSMC test accuracy of the real checkpoints (Beomi/KcELECTRA README; not measured here): "
          + ", ".join(f"{name} {acc} %" for name, acc in PUBLISHED))
    return 0


if __name__ == "__main__":
    sys.exit(main())
