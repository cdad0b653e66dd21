"""Tiny random-weight transformers checkpoints with their outputs, for malmoi-transformer's from_pretrained.

Writes crates/transformer/tests/fixtures/hf_models/<name>/ for each model below, each folder holding what a
Hub checkpoint holds: config.json, model.safetensors (or shards + model.safetensors.index.json),
generation_config.json, tokenizer.json + tokenizer_config.json (a BPE of 512 tokens trained on NSMC with
the builders of hf_tokenizer_fixtures.py, saved by PreTrainedTokenizerFast.save_pretrained; the chat
template is kept inside tokenizer_config.json as published checkpoints have it), and

  expected.safetensors  input_ids int64 (2, 9): the first 9 tokens (add_special_tokens=True) of the first
                        two ratings_test.txt reviews that have at least 16 tokens; logits float32
                        (2, 9, 512) = model(input_ids).logits in eval mode, float32 (bf16/f16 folders:
                        the saved half-precision weights upcast to float32, eager attention).
                        llama_rope_dynamic also holds input_ids_len16 / logits_len16 (16 tokens).
  expected.json         prompt_ids (row 0 of input_ids), prompt_text, greedy (new ids of generate with
                        do_sample=False, max_new_tokens=12, min_new_tokens=12), greedy_text, beam (new ids of
                        num_beams=3, max_new_tokens=8, early_stopping=True, length_penalty=1.0, up to and
                        including the first EOS), beam_text, generate_kwargs, versions, notes.
                        *_text = tokenizer.decode(ids) (skip_special_tokens=False).

Every output is computed from the saved folder reloaded with from_pretrained (fresh for each measurement,
so Dynamic-NTK's cached frequencies start clean), so the files agree with what transformers reads.
config.json is rewritten to the layout published checkpoints use (transformers 5 writes `rope_parameters`
and `dtype`; Hub checkpoints carry `rope_theta` / `rope_scaling` / `rotary_pct` / `torch_dtype`), except
llama_rope_yarn which keeps transformers 5's `rope_parameters`; expected.json names the layout. The script
asserts that transformers reads each rewritten config back to the same rope parameters and logits.

Models: gpt2_kogpt2_keys, gpt2_f16, llama, llama_sharded, llama_bf16, llama_rope_linear (tied embeddings),
llama_rope_dynamic (tied), llama_rope_llama3, llama_rope_yarn, qwen2, gpt_neox_parallel, gpt_neox_sequential,
mistral.
Weights: hf_fixtures.randomize (gain 2) so that greedy decoding varies; greedy_min_margin records the
smallest gap between the best and second-best processed logit over the greedy steps.

Run (from anywhere):  python3 benches/reference/hf_model_fixtures.py
"""
import copy
import json
import pathlib
import shutil
import sys

import torch
import tokenizers
import transformers
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (AutoModelForCausalLM, GenerationConfig, GPT2Config, GPT2LMHeadModel, GPTNeoXConfig,
                          GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                          PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM)

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from chat_template_fixtures import TEMPLATES  # noqa: E402
from hf_fixtures import randomize  # noqa: E402
from hf_tokenizer_fixtures import (NSMC, documents, kogpt2_metaspace_bpe, llama2_byte_fallback_bpe,  # noqa: E402
                                   qwen2_byte_level_bpe, special)

ROOT = HERE.parents[1]
OUT = ROOT / "crates/transformer/tests/fixtures/hf_models"
SEED = 20261205
VOCAB = 512
ROWS, PROMPT_LEN, LONG_LEN = 2, 9, 16
GREEDY = dict(do_sample=False, max_new_tokens=12, min_new_tokens=12)
BEAM = dict(do_sample=False, num_beams=3, max_new_tokens=8, early_stopping=True, length_penalty=1.0)

# skt/kogpt2-base-v2 config.json keys (sizes replaced by the tiny ones).
KOGPT2_KEYS = {
    "_num_labels": 1, "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
    "attn_pdrop": 0.1, "author": "Heewon Jeon(madjakarta@gmail.com)", "bos_token_id": 0,
    "created_date": "2021-04-28", "embd_pdrop": 0.1, "eos_token_id": 1, "gradient_checkpointing": False,
    "id2label": {"0": "LABEL_0"}, "initializer_range": 0.02, "label2id": {"LABEL_0": 0}, "layer_norm_epsilon": 1e-05,
    "license": "CC-BY-NC-SA 4.0", "model_type": "gpt2", "pad_token_id": 3, "resid_pdrop": 0.1,
    "summary_activation": None, "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
    "summary_type": "cls_index", "summary_use_proj": True,
    "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}}, "use_cache": True,
}


# ---------------------------------------------------------------- tokenizers (vocab 512)

def neox_byte_level_bpe(texts, vocab_size=VOCAB):
    """GPT-NeoX / polyglot-ko style: NFC, ByteLevel (GPT-2 regex) BPE, <|endoftext|>=0 <|padding|>=1."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    specials = [special("<|endoftext|>"), special("<|padding|>")]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def family_tokenizers(texts):
    """name -> (tokenizers.Tokenizer, PreTrainedTokenizerFast kwargs, extra tokenizer_config.json keys)."""
    qwen_template, _, _ = TEMPLATES["qwen2_5"]
    llama_template, _, _ = TEMPLATES["llama2"]
    return {
        "kogpt2": (kogpt2_metaspace_bpe(texts, VOCAB, limit_alphabet=300),
                   dict(bos_token="</s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>"),
                   {}),
        "llama": (llama2_byte_fallback_bpe(texts, VOCAB, limit_alphabet=150),
                  dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", chat_template=llama_template),
                  {"add_bos_token": True, "add_eos_token": False, "legacy": False}),
        "qwen2": (qwen2_byte_level_bpe(texts, VOCAB),
                  dict(eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=qwen_template),
                  {"add_bos_token": False, "errors": "replace", "split_special_tokens": False}),
        "neox": (neox_byte_level_bpe(texts),
                 dict(bos_token="<|endoftext|>", eos_token="<|endoftext|>", pad_token="<|padding|>"), {}),
    }


def save_tokenizer(tok, kwargs, extra, folder, max_length):
    """save_pretrained, then tokenizer_config.json rewritten as a published checkpoint has it."""
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=max_length, **kwargs)
    fast.save_pretrained(folder, save_jinja_files=False)
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config.pop("backend", None)
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config["clean_up_tokenization_spaces"] = False
    config.update(extra)
    path.write_text(json.dumps(config, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    (folder / "tokenizer.json").write_text(tok.to_str(pretty=False))


# ---------------------------------------------------------------- configs

def llama_config(**overrides):
    args = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6, tie_word_embeddings=False,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, bos_token_id=1, eos_token_id=2,
                pad_token_id=None, attn_implementation="eager")
    args.update(overrides)
    return LlamaConfig(**args)


def rope(kind, **params):
    return {"rope_type": kind, "rope_theta": 10000.0, **params}


def published_layout(config, layout):
    """Rewrites transformers 5's config.json dict to the layout named by `layout`."""
    config = dict(config)
    if "dtype" in config:
        config["torch_dtype"] = config.pop("dtype")
    if layout == "transformers5" or "rope_parameters" not in config:
        return config
    params = dict(config.pop("rope_parameters"))
    theta = params.pop("rope_theta")
    kind = params.pop("rope_type")
    if layout == "gpt_neox":
        config["rotary_pct"] = params.pop("partial_rotary_factor", 1.0)
        config["rotary_emb_base"] = theta
        assert kind == "default" and not params, params
        return config
    config["rope_theta"] = theta
    if kind == "default":
        config["rope_scaling"] = None
    elif layout == "legacy_type":  # Llama-2 era: {"type": "linear", "factor": 2.0}
        config["rope_scaling"] = {"type": kind, **params}
    else:  # Llama-3.1 / Qwen2.5: {"rope_type": ..., ...}
        config["rope_scaling"] = {**params, "rope_type": kind}
    return config


def write_config(folder, layout, extra=None):
    path = folder / "config.json"
    config = published_layout(json.loads(path.read_text()), layout)
    config.update(extra or {})
    path.write_text(json.dumps(config, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------- measurements

def load(folder):
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    return model.eval()


def review_rows(tok, length):
    """The first ROWS ratings_test.txt reviews with at least `length` tokens, cut to `length`."""
    rows, texts = [], []
    for text in documents(NSMC / "ratings_test.txt", 2000):
        ids = tok.encode(text, add_special_tokens=True).ids
        if len(ids) >= length and ids[:length] not in rows:
            rows.append(ids[:length])
            texts.append(text)
        if len(rows) == ROWS:
            return torch.tensor(rows), texts
    raise ValueError("not enough long reviews")


def logits(folder, ids):
    with torch.no_grad():
        return load(folder)(ids).logits.float()


def margins(scores):
    top = [s[0].topk(2).values for s in scores]
    return min(float(t[0] - t[1]) for t in top)


def generate(folder, prompt, **kwargs):
    model = load(folder)
    with torch.no_grad():
        return model.generate(prompt, attention_mask=torch.ones_like(prompt), output_scores=True,
                              return_dict_in_generate=True, **kwargs)


def until_eos(ids, eos):
    eos = set(eos if isinstance(eos, list) else [eos])
    for i, t in enumerate(ids):
        if t in eos:
            return ids[: i + 1]
    return ids


def measure(folder, fast, spec):
    """expected.safetensors and expected.json for a saved folder."""
    ids, texts = review_rows(fast.backend_tokenizer, LONG_LEN)
    short = ids[:, :PROMPT_LEN].contiguous()
    tensors = {"input_ids": short, "logits": logits(folder, short)}
    if spec.get("long_input"):
        tensors["input_ids_len16"] = ids.contiguous()
        tensors["logits_len16"] = logits(folder, ids)
    save_file(tensors, str(folder / "expected.safetensors"),
              metadata={"description": "input_ids (int64) and model(input_ids).logits (float32), eval, eager"})
    generation = GenerationConfig.from_pretrained(folder)
    prompt = short[:1]
    greedy = generate(folder, prompt, **GREEDY)
    beam = generate(folder, prompt, **BEAM)
    greedy_ids = greedy.sequences[0, PROMPT_LEN:].tolist()
    beam_ids = until_eos(beam.sequences[0, PROMPT_LEN:].tolist(), generation.eos_token_id)
    doc = {
        "input_texts": texts, "prompt_ids": prompt[0].tolist(),
        "prompt_text": fast.decode(prompt[0].tolist()),
        "greedy": greedy_ids, "greedy_text": fast.decode(greedy_ids), "greedy_min_margin": margins(greedy.scores),
        "beam": beam_ids, "beam_text": fast.decode(beam_ids),
        "beam_sequence_score": float(beam.sequences_scores[0]),
        "generate_kwargs": {"greedy": GREEDY, "beam": BEAM},
        "generation_config": json.loads((folder / "generation_config.json").read_text()),
        "eos_token_id": generation.eos_token_id, "pad_token_id": generation.pad_token_id,
        "config_layout": spec["layout"],
        "transformers_version": transformers.__version__, "torch_version": torch.__version__,
        "tokenizers_version": tokenizers.__version__,
        "notes": spec.get("notes", []) + [
            "generate() merges generation_config.json with generate_kwargs; attention_mask is all ones.",
            "min_new_tokens masks every EOS id of generation_config for the first 12 steps.",
            "*_text = tokenizer.decode(ids, skip_special_tokens=False).",
        ],
    }
    if spec.get("long_input"):
        doc["logits_lengths"] = {"logits": PROMPT_LEN, "logits_len16": LONG_LEN}
        doc["greedy_no_cache"] = generate(folder, prompt, use_cache=False, **GREEDY).sequences[0, PROMPT_LEN:].tolist()
    (folder / "expected.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    return doc


# ---------------------------------------------------------------- models

def build(config_cls_model, generator):
    config, model_cls, conv1d = config_cls_model
    model = model_cls(config)
    randomize(model, generator, conv1d_prefix=conv1d, gain=2.0)
    return model.eval()


def check_reload(folder, model, dtype):
    """transformers reads the rewritten config back to the same rope parameters and the same logits."""
    reloaded = load(folder)
    def rope_of(m):  # transformers keeps a legacy "type" key next to "rope_type"
        return {k: v for k, v in (getattr(m.config, "rope_parameters", None) or {}).items() if k != "type"}
    assert rope_of(reloaded) == rope_of(model), (rope_of(reloaded), rope_of(model))
    ids = torch.arange(3, 3 + PROMPT_LEN).unsqueeze(0)
    reference = copy.deepcopy(model)
    with torch.no_grad():
        for p in reference.parameters():  # parameters only: rotary inv_freq buffers stay float32
            p.copy_(p.to(dtype).float())
    with torch.no_grad():
        torch.testing.assert_close(reloaded(ids).logits, reference(ids).logits, atol=1e-5, rtol=1e-5)


def save_model(name, model, tokenizer, spec, dtype=torch.float32, shard=None):
    folder = OUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    kwargs = {"max_shard_size": shard} if shard else {}
    copy.deepcopy(model).to(dtype).save_pretrained(folder, **kwargs)
    write_config(folder, spec["layout"], spec.get("extra_config"))
    spec["generation"].save_pretrained(folder)
    tok, fast_kwargs, extra = tokenizer
    save_tokenizer(tok, fast_kwargs, extra, folder, spec["max_length"])
    check_reload(folder, model, dtype)
    fast = PreTrainedTokenizerFast.from_pretrained(folder)
    doc = measure(folder, fast, spec)
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(f"{name}: {size / 1024:.1f} KiB, greedy {doc['greedy']} (margin {doc['greedy_min_margin']:.3f}), "
          f"beam {doc['beam']}")
    return size


def gpt2_model(generator):
    config = GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=2, n_inner=64,
                        bos_token_id=0, eos_token_id=1, pad_token_id=3, attn_implementation="eager")
    return build((config, GPT2LMHeadModel, "transformer.h."), generator)


def llama_model(generator, **overrides):
    return build((llama_config(**overrides), LlamaForCausalLM, None), generator)


def qwen2_model(generator, bos, eos):
    config = Qwen2Config(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         rms_norm_eps=1e-6, tie_word_embeddings=True, rope_parameters=rope("default"),
                         use_sliding_window=False, sliding_window=128, max_window_layers=2, bos_token_id=bos,
                         eos_token_id=eos, attn_implementation="eager")
    return build((config, Qwen2ForCausalLM, None), generator)


def mistral_model(generator):
    # A sliding window longer than every sequence here: attention is full, as malmoi caps the
    # context at the window.
    config = MistralConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                           sliding_window=48, rms_norm_eps=1e-6, tie_word_embeddings=False,
                           rope_parameters=rope("default"), bos_token_id=1, eos_token_id=2,
                           attn_implementation="eager")
    return build((config, MistralForCausalLM, None), generator)


def neox_model(generator, parallel, rotary_pct):
    config = GPTNeoXConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, max_position_embeddings=64, use_parallel_residual=parallel,
                           rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                            "partial_rotary_factor": rotary_pct},
                           tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, pad_token_id=1,
                           attn_implementation="eager")
    return build((config, GPTNeoXForCausalLM, None), generator)


def main():
    generator = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    toks = family_tokenizers(documents(NSMC / "ratings_train.txt"))
    qwen_ids = {t: toks["qwen2"][0].token_to_id(t) for t in ("<|endoftext|>", "<|im_end|>")}
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, tokenizers {tokenizers.__version__}")
    sizes = {}
    kogpt2_gen = GenerationConfig(bos_token_id=0, eos_token_id=1, pad_token_id=3)
    gpt2 = gpt2_model(generator)
    kogpt2_spec = dict(layout="published", generation=kogpt2_gen, max_length=64,
                       extra_config={**KOGPT2_KEYS, "n_ctx": 64})
    sizes["gpt2_kogpt2_keys"] = save_model("gpt2_kogpt2_keys", gpt2, toks["kogpt2"], kogpt2_spec)
    sizes["gpt2_f16"] = save_model("gpt2_f16", gpt2, toks["kogpt2"], dict(kogpt2_spec, notes=[
        "Weights saved in float16; logits from the float16 weights upcast to float32."]), dtype=torch.float16)

    llama_gen = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=0, do_sample=True, temperature=0.6,
                                 top_p=0.9)
    llama_spec = dict(layout="published", generation=llama_gen, max_length=64, notes=[
        "generation_config.json has Llama-2-chat's do_sample/temperature/top_p; do_sample=False overrides them."])
    llama = llama_model(generator)
    sizes["llama"] = save_model("llama", llama, toks["llama"], llama_spec)
    sizes["llama_sharded"] = save_model("llama_sharded", llama, toks["llama"], llama_spec, shard="100KB")
    sizes["llama_bf16"] = save_model("llama_bf16", llama, toks["llama"], dict(llama_spec, notes=[
        "Weights saved in bfloat16; logits from the bfloat16 weights upcast to float32."]), dtype=torch.bfloat16)

    variants = {
        "llama_rope_linear": (dict(rope_parameters=rope("linear", factor=2.0), tie_word_embeddings=True),
                              "legacy_type", ["rope_scaling uses the Llama-2-era key \"type\"; embeddings tied."]),
        "llama_rope_dynamic": (dict(rope_parameters=rope("dynamic", factor=2.0), max_position_embeddings=8,
                                    tie_word_embeddings=True), "legacy_type", [
            "Embeddings tied (keeps the folder, which also holds the length-16 logits, under 300 KB).",
            "Dynamic NTK: max_position_embeddings 8 < input length, so the base is rescaled for every input: "
            "base' = base * (factor * L / 8 - (factor - 1)) ** (head_dim / (head_dim - 2)), L = max(position_ids) + 1.",
            "logits: L = 9; logits_len16: L = 16; each from a freshly loaded model.",
            "greedy/beam use the KV cache: each step's query/key use the frequencies of the length so far, "
            "cached keys keep the frequencies they were computed with (transformers' behaviour); "
            "greedy_no_cache reruns the whole sequence each step (use_cache=False)."]),
        "llama_rope_llama3": (dict(rope_parameters=rope("llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                                        original_max_position_embeddings=64),
                                   max_position_embeddings=128), "published", [
            "head_dim 8: wavelengths 6.3 (kept), 62.8 (smoothed), 628 and 6283 (divided by 8) for original 64."]),
        "llama_rope_yarn": (dict(rope_parameters=rope("yarn", factor=4.0, original_max_position_embeddings=16),
                                 max_position_embeddings=64), "transformers5", [
            "config.json keeps transformers 5's rope_parameters layout (rope_theta inside it)."]),
    }
    for name, (overrides, layout, notes) in variants.items():
        model = llama_model(generator, **overrides)
        spec = dict(llama_spec, layout=layout, notes=llama_spec["notes"] + notes,
                    long_input=name == "llama_rope_dynamic")
        sizes[name] = save_model(name, model, toks["llama"], spec)

    qwen_gen = GenerationConfig(bos_token_id=qwen_ids["<|endoftext|>"], pad_token_id=qwen_ids["<|endoftext|>"],
                                eos_token_id=[qwen_ids["<|im_end|>"], qwen_ids["<|endoftext|>"]], do_sample=True,
                                repetition_penalty=1.05, temperature=0.7, top_p=0.8, top_k=20)
    qwen = qwen2_model(generator, qwen_ids["<|endoftext|>"], qwen_ids["<|im_end|>"])
    sizes["qwen2"] = save_model("qwen2", qwen, toks["qwen2"], dict(
        layout="published", generation=qwen_gen, max_length=128, notes=[
            "generation_config.json is Qwen2.5-Instruct's: repetition_penalty 1.05 applies to greedy and beam "
            "(it sees the prompt); temperature/top_p/top_k do not (do_sample=False); two EOS ids."]))

    neox_gen = GenerationConfig(bos_token_id=0, eos_token_id=0, pad_token_id=1)
    for name, parallel, pct in (("gpt_neox_parallel", True, 0.25), ("gpt_neox_sequential", False, 0.5)):
        sizes[name] = save_model(name, neox_model(generator, parallel, pct), toks["neox"], dict(
            layout="gpt_neox", generation=neox_gen, max_length=64))
    # Last, so the random draws of every fixture above stay what they were.
    sizes["mistral"] = save_model("mistral", mistral_model(generator), toks["llama"], dict(llama_spec, notes=[
        "MistralForCausalLM with sliding_window 48, longer than every sequence here."]))
    print(f"total {sum(sizes.values()) / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
