"""PyTorch reference values for composite autograd cases in malmoi-tensor.

Writes crates/tensor/tests/fixtures/torch_composite.json: for each case the
inputs (float32, row-major), the loss and the gradient of every input, as
computed by PyTorch. crates/tensor/tests/ops_pytorch.rs rebuilds the same
graphs with malmoi-tensor and compares.

    python3 benches/reference/tensor_torch_fixture.py
"""

import json
import pathlib

import torch
import torch.nn.functional as F

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/tensor/tests/fixtures/torch_composite.json"


def mlp_block(p):
    """Linear → GELU → LayerNorm(affine) → Linear → cross-entropy (ignore 2)."""
    h = F.gelu(p["x"] @ p["w1"] + p["b1"])
    h = F.layer_norm(h, (6,), p["ln_w"], p["ln_b"], eps=1e-5)
    logits = h @ p["w2"] + p["b2"]
    targets = torch.tensor([0, 2, 1, 2])
    return F.cross_entropy(logits, targets, ignore_index=2)


def causal_attention(p):
    """Masked, scaled softmax attention with a tanh-GELU feed-forward and MSE."""
    q, k, v = p["q"], p["k"], p["v"]
    scores = q @ k.transpose(-1, -2) / 2.0
    mask = torch.triu(torch.ones(3, 3, dtype=torch.bool), diagonal=1)
    attn = scores.masked_fill(mask, float("-inf")).softmax(-1)
    out = F.gelu(attn @ v, approximate="tanh")
    return F.mse_loss(out, p["target"])


def gates_and_logits(p):
    """Sigmoid/tanh gates, log-softmax, max, concat and BCE-with-logits."""
    a, b = p["a"], p["b"]
    gate = torch.sigmoid(a) * torch.tanh(b) + torch.relu(a - b)
    joined = torch.cat([gate, a.exp().sqrt()], dim=1)
    scores = joined.log_softmax(-1).max(dim=1).values + joined.pow(2.0).mean(dim=1)
    return F.binary_cross_entropy_with_logits(scores, p["labels"])


CASES = {
    "mlp_block": (mlp_block, {"x": (4, 5), "w1": (5, 6), "b1": (6,), "ln_w": (6,), "ln_b": (6,), "w2": (6, 3), "b2": (3,)}),
    "causal_attention": (causal_attention, {"q": (2, 3, 4), "k": (2, 3, 4), "v": (2, 3, 4), "target": (2, 3, 4)}),
    "gates_and_logits": (gates_and_logits, {"a": (3, 4), "b": (3, 4), "labels": (3,)}),
}


def main() -> None:
    torch.manual_seed(0)
    cases = {}
    for name, (fn, shapes) in CASES.items():
        params = {k: torch.randn(*s, dtype=torch.float32) for k, s in shapes.items()}
        if "labels" in params:
            params["labels"] = torch.rand(*shapes["labels"])
        for t in params.values():
            t.requires_grad_(True)
        loss = fn(params)
        loss.backward()
        cases[name] = {
            "loss": loss.item(),
            "inputs": {k: {"shape": list(t.shape), "values": t.detach().flatten().tolist()} for k, t in params.items()},
            "grads": {k: t.grad.flatten().tolist() for k, t in params.items()},
        }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
