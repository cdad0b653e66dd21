"""Real-size checkpoints with random weights, side by side with transformers (issue: real checkpoints).

KoGPT2 (skt/kogpt2-base-v2) and Qwen2.5-0.5B cannot be downloaded here, so this script builds
folders of their exact shape with random weights, in the layout `huggingface-cli download`
gives, and times transformers on them the way `cargo run --release --example gpt -- --timings`
times malmoi:

  * kogpt2: GPT-2, 12 x 768, vocab 51,200, with KoGPT2's published config.json keys and a
    KoGPT2-style tokenizer (NFKC + Metaspace BPE, trained here on NSMC), float32 weights;
  * qwen2.5-0.5b: Qwen2, 24 layers x 896, 14 heads / 2 key-value heads, SwiGLU 4,864, vocab
    151,936, tied embeddings, bfloat16 weights as Qwen ships them, a byte-level BPE tokenizer.

Run:
  python benches/reference/real_size_checkpoints.py make /tmp/real          # writes both folders
  python benches/reference/real_size_checkpoints.py time /tmp/real/kogpt2 --prompt "영화가"
  python benches/reference/real_size_checkpoints.py time /tmp/real/qwen2.5-0.5b --prompt "영화가"

`time` runs in its own process, 2 torch threads: load seconds (from_pretrained + tokenizer),
greedy tokens/s over --new tokens (KV cache on, the default), peak RSS (ru_maxrss), and the greedy
text, which `gpt --model DIR --greedy` must reproduce.
"""
import argparse
import json
import os
import resource
import sys
import time

NSMC = os.path.join(os.path.dirname(__file__), "../../../shared/data/nsmc/ratings_train.txt")

KOGPT2_KEYS = {
    "_num_labels": 1,
    "author": "Heewon Jeon(madjakarta@gmail.com)",
    "created_date": "2021-04-28",
    "license": "CC-BY-NC-SA 4.0",
    "gradient_checkpointing": False,
    "n_ctx": 1024,
    "bos_token_id": 0,
    "eos_token_id": 1,
    "pad_token_id": 3,
    "summary_activation": None,
    "summary_first_dropout": 0.1,
    "summary_proj_to_labels": True,
    "summary_type": "cls_index",
    "summary_use_proj": True,
    "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
    "use_cache": True,
}


def reviews(limit=150_000):
    with open(NSMC, encoding="utf-8") as f:
        next(f)
        return [line.split("\t")[1] for line in f][:limit]


def kogpt2_tokenizer(vocab_size):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    specials = ["<s>", "</s>", "<usr>", "<pad>", "<sys>", "<unk>", "<mask>", "<d>", "</d>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False)
    tok.train_from_iterator(reviews(), trainer)
    return tok


def qwen_tokenizer(vocab_size):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    pattern = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(pattern), behavior="isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(reviews(), trainer)
    return tok


def make(out):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    folder = os.path.join(out, "kogpt2")
    model = GPT2LMHeadModel(GPT2Config(vocab_size=51200, n_positions=1024, n_embd=768, n_layer=12, n_head=12))
    model.save_pretrained(folder)
    tok = kogpt2_tokenizer(51200)
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="</s>", eos_token="</s>", unk_token="<unk>",
                            pad_token="<pad>", mask_token="<mask>").save_pretrained(folder)
    path = os.path.join(folder, "config.json")
    config = json.load(open(path))
    config.update(KOGPT2_KEYS)
    json.dump(config, open(path, "w"), indent=2)

    folder = os.path.join(out, "qwen2.5-0.5b")
    config = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                         num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                         rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    tok = qwen_tokenizer(32000)
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>").save_pretrained(folder)
    for name in ("kogpt2", "qwen2.5-0.5b"):
        size = sum(os.path.getsize(os.path.join(out, name, f)) for f in os.listdir(os.path.join(out, name)))
        print(f"{name}: {size / 1e6:.0f} MB in {os.path.join(out, name)}")


def time_folder(folder, prompt, new, threads):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    load = time.perf_counter() - start
    model.eval()
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        model.generate(ids, do_sample=False, max_new_tokens=4, min_new_tokens=4)  # warm-up
        start = time.perf_counter()
        out = model.generate(ids, do_sample=False, max_new_tokens=new, min_new_tokens=new)
        seconds = time.perf_counter() - start
    generated = out[0, ids.shape[1]:]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        "folder": folder, "parameters": params, "f32_weight_mb": params * 4 / 2**20,
        "load_s": round(load, 3), "tokens_per_s": round(new / seconds, 2), "peak_rss_mb": round(rss, 1),
        "threads": threads, "greedy_text": tokenizer.decode(generated, skip_special_tokens=True),
        "greedy_ids": generated.tolist(),
    }, ensure_ascii=False))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make")
    m.add_argument("out")
    t = sub.add_parser("time")
    t.add_argument("folder")
    t.add_argument("--prompt", default="영화가")
    t.add_argument("--new", type=int, default=64)
    t.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.command == "make":
        make(args.out)
    else:
        time_folder(args.folder, args.prompt, args.new, args.threads)


if __name__ == "__main__":
    sys.exit(main())
