"""A reward model made by transformers, for malmoi to load: the "there and back" of the RM.

Writes crates/rlhf/tests/fixtures/rm-tiny/: a random one-label GPT2ForSequenceClassification
(2 layers, 2 heads, n_embd 32, n_positions 32, vocab 300, pad_token_id 0) in save_pretrained's
safetensors layout, a byte-level BPE tokenizer.json of 300 tokens (<|endoftext|> = 0) from
Hugging Face `tokenizers`, and expected.json: right-padded rows ending in <|endoftext|> and the
scores transformers gives them (read at the rightmost token that is not the padding id).
crates/rlhf/tests/trainers.rs loads the folder with RewardModel::from_pretrained and compares.

Run:  python benches/reference/rlhf_rm_fixture.py
"""
import json
import pathlib

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2ForSequenceClassification

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/rlhf/tests/fixtures/rm-tiny"
TEXTS = ["영화가 정말 재밌다", "배우들 연기가 너무 어색해서 몰입이 안 됨", "최고의 영화", "노잼"] * 20


def tokenizer():
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(TEXTS, trainer)
    return bpe


def main():
    torch.manual_seed(0)
    bpe = tokenizer()
    vocab = bpe.get_vocab_size()
    config = GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=32, vocab_size=vocab, num_labels=1,
                        pad_token_id=0, bos_token_id=0, eos_token_id=0, attn_implementation="eager")
    model = GPT2ForSequenceClassification(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(0.3 * torch.randn_like(p) + (1.0 if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight") else 0.0))
    model.eval()
    OUT.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(OUT, safe_serialization=True)
    bpe.save(str(OUT / "tokenizer.json"))
    rows = [bpe.encode(t).ids + [0] for t in ["영화가 정말 재밌다", "노잼", "최고의 영화"]]
    width = max(len(r) for r in rows)
    padded = [r + [0] * (width - len(r)) for r in rows]
    with torch.no_grad():
        scores = model(torch.tensor(padded)).logits[:, 0]
        alone = [float(model(torch.tensor([r])).logits[0, 0]) for r in rows]
    assert all(abs(a - float(s)) < 1e-5 for a, s in zip(alone, scores)), "padding changed a score"
    expected = {"rows": rows, "scores": [round(float(s), 6) for s in scores]}
    (OUT / "expected.json").write_text(json.dumps(expected))
    print(f"wrote {OUT}: vocab {vocab}, scores {expected['scores']}")


if __name__ == "__main__":
    main()
