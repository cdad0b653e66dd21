"""Tiny random-weight ELECTRA, RoBERTa and XLM-R sequence classifiers with their outputs (issue 25).

Writes crates/transformer/tests/fixtures/hf_encoders/<name>/ for each model below, each folder holding what a
Hub checkpoint holds: config.json, model.safetensors (transformers' save_pretrained), tokenizer.json +
tokenizer_config.json + special_tokens_map.json (the builders of hf_tokenizer_fixtures.py trained on NSMC with
a few English sentences, vocabulary VOCAB), and

  expected.safetensors  input_ids, token_type_ids, attention_mask int64 (5, T): TEXTS encoded with the folder's
                        tokenizer (add_special_tokens=True) and right-padded with its pad id; last_hidden_state
                        float32 (5, T, 32) of the encoder; logits float32 (5, num_labels); roberta also holds
                        position_ids (create_position_ids_from_input_ids) and pooler_output (5, 32).
  expected.json         texts, tokens, ids, num_labels, pad id, notes, versions.

Models (hidden 32, 2 layers, 2 heads, intermediate 64, eager attention, weights redrawn by
hf_fixtures.randomize so that every tensor matters):

  electra      ElectraForSequenceClassification, 3 labels, embedding_size 16 (embeddings_project 16 -> 32),
               KoELECTRA-style WordPiece ([PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4), max_position_embeddings 64.
  roberta      RobertaForSequenceClassification, 2 labels, KLUE-RoBERTa-style: WordPiece with [CLS]=0 [PAD]=1
               [SEP]=2 [UNK]=3 [MASK]=4, pad_token_id 1 (positions start at 2), type_vocab_size 1,
               max_position_embeddings 66, layer_norm_eps 1e-5. model.safetensors also holds
               roberta.pooler.dense.* (as roberta-base and klue/roberta-base do; a classifier ignores them):
               pooler_output is RobertaModel's with that pooler.
  xlm_roberta  XLMRobertaForSequenceClassification, 2 labels, XLM-R-style SentencePiece Unigram
               (<s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=4, Metaspace), max_position_embeddings 66.

The script asserts that each padded row equals the same text run alone, and that the outputs are those of the
folder reloaded with AutoModelForSequenceClassification.

Round trip (a classifier saved by malmoi):

    MALMOI_ENCODER_ROUNDTRIP_DIR=/tmp/rt cargo test -p malmoi-transformer --test encoders
    python3 benches/reference/hf_encoder_fixtures.py --check /tmp/rt

`--check DIR` loads every DIR/<name>/ (a folder malmoi saved, with the fixture's tokenizer files) with
AutoModelForSequenceClassification and AutoTokenizer, encodes the fixture's TEXTS with that tokenizer, and
compares the ids and logits with DIR/<name>.safetensors (malmoi's input_ids and logits); it exits 1 when the
ids differ or a logit differs by more than 1e-4.

Run (from anywhere):  python3 benches/reference/hf_encoder_fixtures.py
"""
import json
import pathlib
import shutil
import sys

import torch
import tokenizers
import transformers
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer, models, processors
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, ElectraConfig,
                          ElectraForSequenceClassification, RobertaConfig, RobertaForSequenceClassification,
                          RobertaModel, XLMRobertaConfig, XLMRobertaForSequenceClassification)

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from hf_fixtures import randomize  # noqa: E402
from hf_model_fixtures import save_tokenizer  # noqa: E402
from hf_tokenizer_fixtures import NSMC, bert_wordpiece, documents, xlmr_unigram  # noqa: E402

ROOT = HERE.parents[1]
OUT = ROOT / "crates/transformer/tests/fixtures/hf_encoders"
SEED = 20261225
VOCAB = 500
MAX_LENGTH = 64  # tokenizer_config.json model_max_length (every model has 64 positions)
TOLERANCE = 1e-4
TEXTS = [
    "이 영화 정말 재밌어요! 강추합니다",
    "The plot was boring, 시간 아깝다",
    "배우들 연기가 great, OST도 좋고 다시 보고 싶은 영화",
    "별로",
    "What a masterpiece 최고의 영화",
]
# English reviews mixed into the training corpus so that Latin letters make the tokenizers' alphabets.
ENGLISH = [
    "The plot was boring and the acting was terrible.",
    "What a masterpiece, a great film with great music.",
    "I would watch it again, the OST is wonderful.",
]
BODY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            attn_implementation="eager")


# ---------------------------------------------------------------- tokenizers

def training_texts():
    return documents(NSMC / "ratings_train.txt") + ENGLISH * 3000


def klue_roberta_wordpiece(texts):
    """KLUE-RoBERTa-style: bert_wordpiece's vocabulary with the specials renumbered [CLS] [PAD] [SEP] [UNK] [MASK]."""
    bert = bert_wordpiece(texts, VOCAB, limit_alphabet=180)
    order = ["[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]"]
    pieces = sorted(bert.get_vocab(with_added_tokens=False).items(), key=lambda kv: kv[1])
    vocab = {t: i for i, t in enumerate(order + [t for t, _ in pieces if t not in order])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", continuing_subword_prefix="##",
                                     max_input_chars_per_word=100))
    tok.normalizer, tok.pre_tokenizer, tok.decoder = bert.normalizer, bert.pre_tokenizer, bert.decoder
    tok.add_special_tokens([bert_special(t) for t in order])
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    return tok


def bert_special(content):
    return tokenizers.AddedToken(content, special=True, normalized=False)


def tokenizers_by_model(texts):
    """name -> (tokenizers.Tokenizer, PreTrainedTokenizerFast kwargs)."""
    bert_tokens = dict(unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                       mask_token="[MASK]")
    return {
        "electra": (bert_wordpiece(texts, VOCAB, limit_alphabet=180), bert_tokens),
        "roberta": (klue_roberta_wordpiece(texts), dict(bert_tokens, bos_token="[CLS]", eos_token="[SEP]")),
        "xlm_roberta": (xlmr_unigram(texts, VOCAB, limit_alphabet=200),
                        dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                             cls_token="<s>", sep_token="</s>", mask_token="<mask>")),
    }


# ---------------------------------------------------------------- models

def electra(vocab, pad):
    config = ElectraConfig(vocab_size=vocab, embedding_size=16, max_position_embeddings=64, num_labels=3,
                           pad_token_id=pad, **BODY)
    return ElectraForSequenceClassification(config)


def roberta(vocab, pad):
    config = RobertaConfig(vocab_size=vocab, max_position_embeddings=66, type_vocab_size=1, layer_norm_eps=1e-5,
                           num_labels=2, pad_token_id=pad, bos_token_id=0, eos_token_id=2, **BODY)
    return RobertaForSequenceClassification(config)


def xlm_roberta(vocab, pad):
    config = XLMRobertaConfig(vocab_size=vocab, max_position_embeddings=66, type_vocab_size=1,
                              layer_norm_eps=1e-5, num_labels=2, pad_token_id=pad, bos_token_id=0,
                              eos_token_id=2, **BODY)
    return XLMRobertaForSequenceClassification(config)


def encode(fast, texts):
    batch = fast(texts, padding=True, return_tensors="pt", return_token_type_ids=True)
    return batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]


def load_classifier(folder):
    return AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager").eval()


def add_pooler(folder, model, generator):
    """Stores roberta.pooler.dense.* beside the classifier's tensors; returns the RobertaModel that has it."""
    base = RobertaModel(model.config, add_pooling_layer=True).eval()
    missing, unexpected = base.load_state_dict(model.roberta.state_dict(), strict=False)
    assert sorted(missing) == ["pooler.dense.bias", "pooler.dense.weight"] and not unexpected, (missing, unexpected)
    randomize(base.pooler, generator)
    tensors = load_file(folder / "model.safetensors")
    tensors.update({f"roberta.pooler.{k}": v.contiguous() for k, v in base.pooler.state_dict().items()})
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return base


def outputs(folder, fast, pooled_base):
    """expected.safetensors' tensors, from the folder reloaded by transformers."""
    model = load_classifier(folder)
    ids, types, mask = encode(fast, TEXTS)
    body = getattr(model, model.base_model_prefix)
    with torch.no_grad():
        logits = model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits
        hidden = body(input_ids=ids, token_type_ids=types, attention_mask=mask).last_hidden_state
        for row in range(len(TEXTS)):
            n = int(mask[row].sum())
            alone = model(input_ids=ids[row:row + 1, :n], token_type_ids=types[row:row + 1, :n]).logits
            torch.testing.assert_close(alone, logits[row:row + 1], atol=1e-5, rtol=1e-5)
    tensors = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask, "last_hidden_state": hidden,
               "logits": logits}
    if pooled_base is not None:
        with torch.no_grad():
            base = pooled_base(input_ids=ids, token_type_ids=types, attention_mask=mask)
        torch.testing.assert_close(base.last_hidden_state, hidden)
        pad = model.config.pad_token_id
        tensors["position_ids"] = body.embeddings.create_position_ids_from_input_ids(ids, pad)
        tensors["pooler_output"] = base.pooler_output
    return tensors


def save_fixture(name, model, tokenizer, generator):
    folder = OUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    randomize(model, generator)
    model.eval().save_pretrained(folder)
    tok, fast_kwargs = tokenizer
    save_tokenizer(tok, fast_kwargs, {}, folder, MAX_LENGTH)
    pooled_base = add_pooler(folder, model, generator) if name == "roberta" else None
    fast = AutoTokenizer.from_pretrained(folder)
    tensors = outputs(folder, fast, pooled_base)
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(folder / "expected.safetensors"),
              metadata={"description": f"{type(model).__name__} of this folder; see expected.json"})
    doc = {
        "architecture": type(model).__name__,
        "texts": TEXTS,
        "tokens": [fast.convert_ids_to_tokens(row[row_mask.bool()].tolist()) for row, row_mask in
                   zip(tensors["input_ids"], tensors["attention_mask"])],
        "num_labels": model.config.num_labels,
        "pad_token_id": fast.pad_token_id,
        "notes": [
            "Rows are right-padded with the tokenizer's pad id; logits of each row equal the text run alone.",
            "last_hidden_state is the encoder's output (padding positions are not meaningful).",
            "ELECTRA's head: dense, gelu (erf), out_proj over the first token; RoBERTa's: dense, tanh, out_proj.",
        ],
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                     "tokenizers": tokenizers.__version__},
    }
    (folder / "expected.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(f"{name}: {size / 1024:.1f} KiB, vocab {tok.get_vocab_size()}, logits {tensors['logits'][0].tolist()}")


# ---------------------------------------------------------------- round trip

def check(directory):
    """Loads the classifiers malmoi saved under `directory` with transformers and compares ids and logits."""
    directory = pathlib.Path(directory)
    worst, failed, checked = 0.0, False, 0
    for folder in sorted(p for p in directory.iterdir() if (p / "config.json").is_file()):
        ours = load_file(directory / f"{folder.name}.safetensors")
        texts = json.loads((OUT / folder.name / "expected.json").read_text())["texts"]
        model = load_classifier(folder)
        ids, types, mask = encode(AutoTokenizer.from_pretrained(folder), texts)
        same_ids = torch.equal(ids, ours["input_ids"].long()) and torch.equal(mask, ours["attention_mask"].long())
        with torch.no_grad():
            logits = model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits
        diff = (logits - ours["logits"]).abs().max().item() if logits.shape == ours["logits"].shape else float("inf")
        print(f"{folder.name}: {type(model).__name__} ({model.config.model_type}, {model.config.num_labels} labels), "
              f"ids {'equal' if same_ids else 'DIFFER'}, max |transformers - malmoi| logit = {diff:.3e}")
        worst, checked = max(worst, diff), checked + 1
        failed |= not same_ids or diff > TOLERANCE
    print(f"{checked} folders, largest logit difference {worst:.3e} (tolerance {TOLERANCE})")
    if failed or checked == 0:
        sys.exit(1)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
        return
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, tokenizers {tokenizers.__version__}")
    toks = tokenizers_by_model(training_texts())
    for name, build in (("electra", electra), ("roberta", roberta), ("xlm_roberta", xlm_roberta)):
        tok = toks[name][0]
        pad = tok.token_to_id(toks[name][1]["pad_token"])
        save_fixture(name, build(tok.get_vocab_size(), pad), toks[name], generator)


if __name__ == "__main__":
    main()
