"""KoChatGPT at KoGPT2's size, PyTorch + PEFT side (issue 22, part 4).

The SFT, reward-model, DPO and GRPO steps of a 125 M GPT-2 of KoGPT2's shape (12 x 768, 12 heads,
vocab 51,200, n_positions 1024, random weights: KoGPT2 cannot be downloaded here, and speed and
memory at real size need only the real shape), each with LoRA (PEFT: r 8, alpha 16, c_attn +
c_proj + c_fc, AdamW on the adapters) and fully tuned (AdamW on every weight):

  sft       B pairs, rows of T tokens (P prompt + T-P answer); causal-LM loss masked to the answer;
  rm        B comparisons = 2B rows (chosen, rejected) through the trunk + a scalar head read at
            the last token (GPT2ForSequenceClassification, 1 label); loss -log sigmoid(r_c - r_r);
  dpo       B comparisons: reference forward (no grad) over the 2B rows, then the policy's
            forward + backward; summed answer log-probs; sigmoid loss, beta 0.1. The reference is
            the base with its adapters switched off (PEFT's `disable_adapter()`) in LoRA mode, a
            frozen copy of the policy in full mode;
  grpo      one prompt, G sampled answers = G rows of T tokens (sampling excluded, timed in
            `generate`): reference forward (beta 0.04), policy forward + backward, TRL's loss
            (token-level ratio against the detached log-probs: one pass per rollout, eps 0.2,
            k3 KL, group-scaled advantages of random rewards, loss_type "dapo");
  generate  greedy decoding (KV cache) of G rows from a P-token prompt to T tokens: a GRPO
            rollout's cost, as tokens/s.

Every step is forward + backward + AdamW step + zero_grad, timed whole (for dpo and grpo the
reference pass is inside the time and is also reported alone). Each (step, mode) runs in a fresh
subprocess so ru_maxrss is that configuration's own peak. Steady state: `--warmup` steps
discarded, the median of `--steps` timed ones. tokens/s counts the trained rows' tokens
(rows x T) per second of a whole step.

Lengths come from the data at hand (../shared/data/kochatgpt): the 12,000 KoChatGPT prompts
(kochatgpt_3_PPO.jsonl) rendered with the tutorial template, and the 1,756 chatbot turns of
kochatgpt_1_SFT_conversation.jsonl as answers (the 12,000-pair SFT file is not here), tokenised
with the project's KoGPT2-style tokenizer (real_size_checkpoints.py: NFKC + Metaspace BPE,
vocab 51,200, trained on NSMC; or --tokenizer tokenizer.json). The prompt length P is the
median templated prompt; rows fill the context T (256) with answer, so a step's shape is that of
a batch padded to the context. The SFT epoch is projected two ways: 12,000 rows of T tokens, and
the 12,000 pairs' estimated real tokens at the same rate (perfect length bucketing).

Run:   python benches/reference/kochatgpt_side_by_side.py --json /tmp/kochatgpt_torch.json
Both sides in one table: benches/reference/kochatgpt_side_by_side.sh

The other side (malmoi) prints, per configuration and from its own process, one JSON line of raw
measurements; `--summarise RAW.jsonl --like TORCH.json --json OUT.json` derives the same figures
from it (median after the warm-up, tokens/s, 12,000-unit epochs) and `--compare A.json B.json`
prints both. A raw line holds:
  step, mode            "sft" | "rm" | "dpo" | "grpo" | "generate", "lora" | "full";
  step_s                seconds of every step, the `warmup` discarded ones first (generate: the
                        `gen_runs` timed decodes only, its short warm-up decode not listed);
  reference_s           (optional) the reference pass's share of each step_s (dpo, grpo);
  peak_rss_mb           ru_maxrss of the process at the end, MiB;
  model_rss_mb          current RSS once the model, reference and optimizer exist, MiB;
  trainable_params, total_params;
  optional: import_rss_mb, losses, load1_start, load1_end (/proc/loadavg), wall_s.
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from side_by_side_common import (  # noqa: E402
    cell, finish_run, hms, load1, quantiles, rss_now_mb, rss_peak_mb, run_child, run_configs, summarise_other_side,
    uptime)
DATA = os.path.join(HERE, "../../../shared/data/kochatgpt")
TEMPLATE = "### Instruction(명령어):\n{prompt}\n\n### Response(응답):"
SHAPE = {"vocab_size": 51200, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12}
SPECIAL_IDS = 9  # KoGPT2's specials <s> </s> <usr> <pad> <sys> <unk> <mask> <d> </d>: ids 0-8
EOS, PAD = 1, 3
LORA = {"r": 8, "lora_alpha": 16, "target_modules": ["c_attn", "c_proj", "c_fc"], "lora_dropout": 0.0}
LR = {"lora": 1e-4, "full": 1e-5}
DPO_BETA, GRPO_BETA, GRPO_EPS = 0.1, 0.04, 0.2
EPOCH_UNITS = 12_000
STEPS = ("sft", "rm", "dpo", "grpo", "generate")
MODES = ("lora", "full")
UNIT = {"sft": "pair", "rm": "comparison", "dpo": "comparison", "grpo": "prompt", "generate": "prompt"}


# ----------------------------------------------------------------------------------- lengths --


def load_texts():
    with open(os.path.join(DATA, "kochatgpt_3_PPO.jsonl"), encoding="utf-8") as f:
        prompts = [r["prompt"] for r in json.load(f) if r["prompt"].strip()]
    answers = []
    with open(os.path.join(DATA, "kochatgpt_1_SFT_conversation.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("<챗봇>:"):
                answers.append(line[len("<챗봇>:"):].strip())
    return prompts, answers


def load_tokenizer(path):
    if path:
        from tokenizers import Tokenizer
        return Tokenizer.from_file(path), path
    sys.path.insert(0, HERE)
    from real_size_checkpoints import kogpt2_tokenizer
    return kogpt2_tokenizer(SHAPE["vocab_size"]), "real_size_checkpoints.kogpt2_tokenizer (NSMC-trained, 51,200)"


def data_lengths(tokenizer_path, seq_len):
    """Token lengths of the data at hand and the 12,000-pair SFT set's estimated real tokens."""
    prompts, answers = load_texts()
    tokenizer, name = load_tokenizer(tokenizer_path)
    prompt_tokens = [len(e.ids) for e in tokenizer.encode_batch([TEMPLATE.format(prompt=p) for p in prompts])]
    answer_tokens = [len(e.ids) + 1 for e in tokenizer.encode_batch(answers)]  # + </s>
    pairs = [min(seq_len, prompt_tokens[i % len(prompt_tokens)] + answer_tokens[i % len(answer_tokens)])
             for i in range(EPOCH_UNITS)]
    return {
        "tokenizer": name,
        "prompt_source": "kochatgpt_3_PPO.jsonl (templated)",
        "answer_source": "kochatgpt_1_SFT_conversation.jsonl <챗봇> turns (+ </s>)",
        "prompt_tokens": quantiles(prompt_tokens),
        "answer_tokens": quantiles(answer_tokens),
        "template_tokens": len(tokenizer.encode(TEMPLATE.format(prompt="")).ids),
        "sft_pair_tokens_capped": quantiles(pairs),
        "sft_12k_real_tokens": sum(pairs),
    }


# ------------------------------------------------------------------------------------ memory --


# ------------------------------------------------------------------------------------ models --

def gpt2_config(dropout, **extra):
    from transformers import GPT2Config
    return GPT2Config(**SHAPE, resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
                      bos_token_id=0, eos_token_id=EOS, pad_token_id=PAD, **extra)


def build_model(step, mode, dropout):
    """The step's model, wrapped in PEFT's LoRA in `lora` mode."""
    from transformers import GPT2ForSequenceClassification, GPT2LMHeadModel
    if step == "rm":
        model = GPT2ForSequenceClassification(gpt2_config(dropout, num_labels=1))
    else:
        model = GPT2LMHeadModel(gpt2_config(dropout))
    if mode == "lora":
        from peft import LoraConfig, get_peft_model
        task = "SEQ_CLS" if step == "rm" else "CAUSAL_LM"  # SEQ_CLS also trains the score head
        model = get_peft_model(model, LoraConfig(task_type=task, fan_in_fan_out=True, **LORA))
    return model


def frozen_copy(model):
    import copy
    reference = copy.deepcopy(model).eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    return reference


def reference_context(model, reference):
    """How the reference model is reached: adapters off (LoRA) or the frozen copy (full)."""
    import contextlib
    if reference is None:
        return lambda: model.disable_adapter(), model
    return contextlib.nullcontext, reference


# ------------------------------------------------------------------------------------- steps --

def answer_logprobs(model, ids, prompt_len):
    """Per-token log-probabilities of the answer tokens (positions prompt_len..T-1), (rows, T-P)."""
    import torch
    logits = model(input_ids=ids).logits[:, prompt_len - 1:-1].float()
    targets = ids[:, prompt_len:].unsqueeze(-1)
    return (torch.gather(logits, -1, targets) - torch.logsumexp(logits, -1, keepdim=True)).squeeze(-1)


def reference_logprobs(model, reference, ids, prompt_len):
    import torch
    context, net = reference_context(model, reference)
    with context(), torch.no_grad():
        return answer_logprobs(net, ids, prompt_len)


def sft_step(model, batch, prompt_len):
    ids = batch["ids"]
    labels = ids.clone()
    labels[:, :prompt_len] = -100
    loss = model(input_ids=ids, labels=labels).loss
    loss.backward()
    return loss, 0.0


def rm_step(model, batch, prompt_len):
    import torch.nn.functional as F
    scores = model(input_ids=batch["ids"]).logits.squeeze(-1)
    chosen, rejected = scores.chunk(2)
    loss = -F.logsigmoid(chosen - rejected).mean()
    loss.backward()
    return loss, 0.0


def dpo_step(model, batch, prompt_len, reference):
    import torch.nn.functional as F
    start = time.perf_counter()
    ref = reference_logprobs(model, reference, batch["ids"], prompt_len).sum(-1)
    ref_s = time.perf_counter() - start
    policy = answer_logprobs(model, batch["ids"], prompt_len).sum(-1)
    pc, pr = policy.chunk(2)
    rc, rr = ref.chunk(2)
    loss = -F.logsigmoid(DPO_BETA * ((pc - rc) - (pr - rr))).mean()
    loss.backward()
    return loss, ref_s


def group_advantages(rewards):
    """TRL's scale_rewards="group": (r - mean) / (std + 1e-4) over the group (one prompt here)."""
    return (rewards - rewards.mean()) / (rewards.std() + 1e-4)


def grpo_step(model, batch, prompt_len, reference):
    import torch
    start = time.perf_counter()
    ref = reference_logprobs(model, reference, batch["ids"], prompt_len)
    ref_s = time.perf_counter() - start
    logp = answer_logprobs(model, batch["ids"], prompt_len)
    advantages = group_advantages(batch["rewards"]).unsqueeze(1)
    ratio = torch.exp(logp - logp.detach())  # num_iterations 1: old log-probs are the detached ones
    clipped = torch.clamp(ratio, 1 - GRPO_EPS, 1 + GRPO_EPS)
    per_token = -torch.min(ratio * advantages, clipped * advantages)
    per_token = per_token + GRPO_BETA * (torch.exp(ref - logp) - (ref - logp) - 1)  # k3
    mask = batch["mask"]
    loss = (per_token * mask).sum() / mask.sum()  # loss_type "dapo"
    loss.backward()
    return loss, ref_s


def make_batch(step, rows, seq_len, prompt_len):
    import torch
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(SPECIAL_IDS, SHAPE["vocab_size"], (rows, seq_len), generator=generator)
    batch = {"ids": ids}
    if step == "grpo":
        batch["rewards"] = torch.rand(rows, generator=generator)
        batch["mask"] = torch.ones(rows, seq_len - prompt_len)
    return batch


def rows_of(step, args):
    return {"sft": args["batch"], "rm": 2 * args["batch"], "dpo": 2 * args["batch"],
            "grpo": args["group"], "generate": args["group"]}[step]


def units_per_step(step, args):
    return {"sft": args["batch"], "rm": args["batch"], "dpo": args["batch"], "grpo": 1, "generate": 1}[step]


# ------------------------------------------------------------------------------------- child --

def train_config(step, mode, args):
    """Times one training configuration; runs inside its own process."""
    import torch
    model = build_model(step, mode, args["dropout"])
    reference = frozen_copy(model) if mode == "full" and step in ("dpo", "grpo") else None
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=LR[mode])
    batch = make_batch(step, rows_of(step, args), args["seq_len"], args["prompt_len"])
    rss_model = rss_now_mb()
    step_fn = {"sft": sft_step, "rm": rm_step}.get(step)
    times, ref_times, losses = [], [], []
    for _ in range(args["warmup"] + args["steps"]):
        start = time.perf_counter()
        if step_fn:
            loss, ref_s = step_fn(model, batch, args["prompt_len"])
        else:
            loss, ref_s = {"dpo": dpo_step, "grpo": grpo_step}[step](model, batch, args["prompt_len"], reference)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
        ref_times.append(ref_s)
        losses.append(round(loss.item(), 4))
    return {
        "trainable_params": sum(p.numel() for p in trainable),
        "total_params": sum(p.numel() for p in {id(p): p for p in model.parameters()}.values()),
        "model_rss_mb": round(rss_model, 1),
        "step_s": [round(t, 3) for t in times], "reference_s": [round(t, 3) for t in ref_times],
        "losses": losses,
    }


def generate_config(mode, args):
    """Greedy decoding of `group` rows from a prompt_len-token prompt up to seq_len tokens."""
    import torch
    model = build_model("generate", mode, args["dropout"]).eval()
    new = args["seq_len"] - args["prompt_len"]
    prompt = torch.randint(SPECIAL_IDS, SHAPE["vocab_size"], (args["group"], args["prompt_len"]),
                           generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(prompt)
    rss_model = rss_now_mb()
    run = lambda n: model.generate(input_ids=prompt, attention_mask=mask, do_sample=False, max_new_tokens=n,
                                   min_new_tokens=n, pad_token_id=PAD, eos_token_id=EOS)
    times = []
    with torch.no_grad():
        run(8)  # warm-up
        for _ in range(args["gen_runs"]):
            start = time.perf_counter()
            out = run(new)
            times.append(time.perf_counter() - start)
    assert out.shape[1] == args["seq_len"], out.shape
    return {"trainable_params": 0, "total_params": sum(p.numel() for p in model.parameters()),
            "model_rss_mb": round(rss_model, 1), "step_s": [round(t, 3) for t in times],
            "reference_s": [0.0] * len(times), "losses": []}


def child(config):
    step, mode, args = config["step"], config["mode"], config["args"]
    load_start = load1()
    import torch
    import transformers
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(args["threads"])
    torch.manual_seed(0)
    rss_import = rss_now_mb()
    wall = time.perf_counter()
    result = generate_config(mode, args) if step == "generate" else train_config(step, mode, args)
    result.update({"step": step, "mode": mode, "import_rss_mb": round(rss_import, 1),
                   "peak_rss_mb": round(rss_peak_mb(), 1), "load1_start": load_start, "load1_end": load1(),
                   "wall_s": round(time.perf_counter() - wall, 1)})
    print(json.dumps(result))


# ------------------------------------------------------------------------------------ parent --

def summarise(raw, args):
    """Adds the derived figures (median, tokens/s, epoch projections) to one child's result."""
    step = raw["step"]
    skip = 0 if step == "generate" else args["warmup"]
    timed = raw["step_s"][skip:]
    refs = (raw.get("reference_s") or [0.0] * len(raw["step_s"]))[skip:]
    median = statistics.median(timed)
    rows = rows_of(step, args)
    tokens = rows * (args["seq_len"] - args["prompt_len"] if step == "generate" else args["seq_len"])
    raw.update({
        "rows": rows, "seq_len": args["seq_len"], "prompt_len": args["prompt_len"],
        "tokens_per_step": tokens, "timed_steps": len(timed),
        "warmup_steps": 0 if step == "generate" else args["warmup"],
        "step_s_median": round(median, 3), "reference_s_median": round(statistics.median(refs), 3),
        "tokens_per_s": round(tokens / median, 1), "step_s_min": round(min(timed), 3),
        "tokens_per_s_best": round(tokens / min(timed), 1),
        "unit": UNIT[step], "units_per_step": units_per_step(step, args),
        "epoch_12k_s": round(EPOCH_UNITS / units_per_step(step, args) * median, 1),
    })
    policy_s = median - raw["reference_s_median"]
    if raw["reference_s_median"] > 0:
        raw["tokens_per_s_without_reference"] = round(tokens / policy_s, 1)
    if step == "sft":
        raw["epoch_12k_real_tokens_s"] = round(args["sft_12k_real_tokens"] / raw["tokens_per_s"], 1)
    return raw


def run_config(step, mode, args):
    raw = run_child(os.path.abspath(__file__), {"step": step, "mode": mode, "args": args})
    return raw if "error" in raw else summarise(raw, args)


def print_table(results):
    head = (f"{'step':<9}{'mode':<6}{'rows x T':>10}{'steps':>7}{'step s':>9}{'ref s':>7}{'tokens/s':>10}"
            f"{'peak RSS':>10}{'model RSS':>11}{'trainable':>12}{'12k epoch':>11}  load1")
    print(head)
    for r in results:
        if "error" in r:
            print(f"{r['step']:<9}{r['mode']:<6}  FAILED: {r['error']}")
            continue
        steps = f"{r['warmup_steps']}+{r['timed_steps']}"
        print(f"{r['step']:<9}{r['mode']:<6}{r['rows']:>4} x {r['tokens_per_step'] // r['rows']:<3}{steps:>7}"
              f"{r['step_s_median']:>9.2f}{r['reference_s_median']:>7.2f}{r['tokens_per_s']:>10.1f}"
              f"{r['peak_rss_mb']:>8.0f}MB{r.get('model_rss_mb', float('nan')):>9.0f}MB{r['trainable_params']:>12,}"
              f"{hms(r['epoch_12k_s']):>11}  {r.get('load1_start', '?')}->{r.get('load1_end', '?')}")


def print_notes(results, settings):
    by = {(r["step"], r["mode"]): r for r in results if "error" not in r}
    for mode in MODES:
        sft, grpo, gen = by.get(("sft", mode)), by.get(("grpo", mode)), by.get(("generate", mode))
        if sft:
            print(f"SFT {mode}: one epoch of the 12,000-pair set: {hms(sft['epoch_12k_s'])} padded to "
                  f"{settings['seq_len']} tokens, {hms(sft['epoch_12k_real_tokens_s'])} at the pairs' estimated "
                  f"real lengths ({settings['sft_12k_real_tokens']:,} tokens) and the same rate")
        if grpo and gen:
            print(f"GRPO {mode}: 12,000 prompts x {settings['group']} answers: train {hms(grpo['epoch_12k_s'])} "
                  f"+ greedy rollouts {hms(gen['epoch_12k_s'])} = {hms(grpo['epoch_12k_s'] + gen['epoch_12k_s'])}")


def settings_from(args, lengths):
    prompt_len = args.prompt_len or lengths["prompt_tokens"]["p50"]
    return {"batch": args.batch, "group": args.group, "seq_len": args.seq_len, "prompt_len": prompt_len,
            "warmup": args.warmup, "steps": args.steps, "gen_runs": args.gen_runs, "threads": args.threads,
            "dropout": args.dropout, "sft_12k_real_tokens": lengths["sft_12k_real_tokens"]}


def environment():
    import peft
    import torch
    import transformers
    return {"side": "pytorch", "torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__, "python": sys.version.split()[0], "attn_implementation": "sdpa",
            "optimizer": "torch.optim.AdamW (defaults: betas 0.9/0.999, weight_decay 0.01)", "lr": LR,
            "lora": LORA, "dpo_beta": DPO_BETA, "grpo": {"beta": GRPO_BETA, "epsilon": GRPO_EPS,
                                                          "loss_type": "dapo", "scale_rewards": "group"},
            "model_shape": SHAPE, "weights": "random (seed 0), float32"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", help="write the results here")
    p.add_argument("--tokenizer", help="a tokenizer.json (default: train the KoGPT2-style one, ~6 s)")
    p.add_argument("--batch", type=int, default=4, help="SFT pairs / RM and DPO comparisons per step")
    p.add_argument("--group", type=int, default=4, help="GRPO answers per prompt (one prompt per step)")
    p.add_argument("--seq-len", type=int, default=256, help="tokens per row (the context)")
    p.add_argument("--prompt-len", type=int, default=0, help="prompt tokens per row (default: the data's median)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5, help="timed steps per configuration (median)")
    p.add_argument("--gen-runs", type=int, default=1, help="timed greedy decodes per mode")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--only", nargs="*", help="configurations to run, as step:mode (default: all)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--summarise", metavar="RAW_JSONL",
                   help="turn another side's raw lines (one per configuration) into a report like --like's")
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
    lengths = data_lengths(args.tokenizer, args.seq_len)
    settings = settings_from(args, lengths)
    print(f"tokens ({lengths['tokenizer']}): templated prompt {lengths['prompt_tokens']}, "
          f"answer {lengths['answer_tokens']}")
    print(f"rows of T = {settings['seq_len']} tokens: P = {settings['prompt_len']} prompt + "
          f"{settings['seq_len'] - settings['prompt_len']} answer; batch {args.batch}, GRPO group {args.group}; "
          f"{args.warmup} warm-up + {args.steps} timed steps ({args.gen_runs} timed decodes); "
          f"{args.threads} threads; dropout {args.dropout}")
    wanted = [(s, m) for s in STEPS for m in MODES if not args.only or f"{s}:{m}" in args.only]
    results = run_configs(wanted, lambda step, mode: run_config(step, mode, settings))
    print()
    print_table(results)
    print_notes(results, settings)
    return finish_run(args, started, uptime_before,
                      {**environment(), "data": lengths, "settings": settings, "results": results})


# ----------------------------------------------------------------------------------- compare --

def read_raw(line):
    try:
        raw = json.loads(line)
        return raw if "error" in raw or {"step", "mode", "step_s", "peak_rss_mb"} <= raw.keys() else \
            {"step": raw.get("step", "?"), "mode": raw.get("mode", "?"), "error": f"missing fields: {line[:200]}"}
    except json.JSONDecodeError:
        return {"step": "?", "mode": "?", "error": f"not JSON: {line[:200]}"}


def summarise_raw(args):
    """Another side's raw lines, summarised with the PyTorch run's settings (same medians, same projections)."""
    return summarise_other_side(args, read_raw, summarise, print_table, print_notes)


def compare(torch_json, malmoi_json):
    """One table of both sides, joined on (step, mode); ratio = malmoi tokens/s over PyTorch's."""
    sides = [json.load(open(path, encoding="utf-8")) for path in (torch_json, malmoi_json)]
    index = [{(r["step"], r["mode"]): r for r in side["results"] if "error" not in r} for side in sides]
    for name, side in zip(("pytorch", "malmoi"), sides):
        print(f"{name}: {side.get('uptime_before', '?')}  |  {side.get('uptime_after', '?')}")
    print(f"{'step':<9}{'mode':<6}{'torch tok/s':>12}{'malmoi tok/s':>13}{'ratio':>7}"
          f"{'torch peak':>12}{'malmoi peak':>12}{'torch 12k':>11}{'malmoi 12k':>11}")
    for key in [(s, m) for s in STEPS for m in MODES]:
        t, m = (side.get(key, {}) for side in index)
        if not t and not m:
            continue
        ratio = m["tokens_per_s"] / t["tokens_per_s"] if t and m else None
        print(f"{key[0]:<9}{key[1]:<6}{cell(t.get('tokens_per_s'), '.1f'):>12}{cell(m.get('tokens_per_s'), '.1f'):>13}"
              f"{cell(ratio, '.2f', 'x'):>7}{cell(t.get('peak_rss_mb'), '.0f', ' MB'):>12}"
              f"{cell(m.get('peak_rss_mb'), '.0f', ' MB'):>12}{hms(t.get('epoch_12k_s')):>11}"
              f"{hms(m.get('epoch_12k_s')):>11}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
