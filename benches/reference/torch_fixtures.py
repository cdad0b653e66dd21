"""Generates the PyTorch (and Keras) comparison fixtures of malmoi-tensor's
tests (crates/tensor/tests/pytorch_*.rs) as small safetensors files in
crates/tensor/tests/fixtures/.

    pip install torch safetensors keras   # CPU wheels from PyPI
    python benches/reference/torch_fixtures.py
    python benches/reference/torch_fixtures.py --bench   # PyTorch timings for docs/performance.md

Each file holds the inputs, the fixed weights (with PyTorch's parameter
names), the outputs and the gradients of a scalar probe loss; the Rust tests
recompute everything from the inputs and weights. Seeds are fixed, so
re-running reproduces the files (up to library versions, recorded in the
metadata).
"""
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file

OUT = Path(__file__).resolve().parents[2] / "crates/tensor/tests/fixtures"
META = {"torch": torch.__version__, "generator": "benches/reference/torch_fixtures.py"}


def save(name, tensors, **extra):
    arrays = {k: v.detach().numpy().astype(np.float32) if torch.is_tensor(v) else np.asarray(v, dtype=np.float32)
              for k, v in tensors.items()}
    path = OUT / f"{name}.safetensors"
    save_file(arrays, path, metadata={**META, **{k: str(v) for k, v in extra.items()}})
    print(f"{path.name}: {path.stat().st_size} bytes")


def packed_run(module, x, lengths, initial):
    """Runs a batch-first RNN over a padded batch as PyTorch users do."""
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, state = module(packed, initial)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, state


def recurrent(kind):
    torch.manual_seed(1 if kind == "lstm" else 2)
    batch, time, inputs, hidden = 3, 5, 4, 6
    cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
    module = cls(inputs, hidden, batch_first=True)
    x = torch.randn(batch, time, inputs, requires_grad=True)
    lengths = torch.tensor([5, 2, 3])
    h0 = torch.randn(1, batch, hidden, requires_grad=True)
    tensors = {"x": x, "lengths": lengths.float(), "h0": h0[0]}
    if kind == "lstm":
        c0 = torch.randn(1, batch, hidden, requires_grad=True)
        out, (h_n, c_n) = packed_run(module, x, lengths, (h0, c0))
        tensors.update({"c0": c0[0], "c_n": c_n[0]})
        states = [h_n, c_n]
    else:
        out, h_n = packed_run(module, x, lengths, h0)
        states = [h_n]
    probes = [torch.randn_like(out)] + [torch.randn_like(s) for s in states]
    loss = sum((p * o).sum() for p, o in zip(probes, [out] + states))
    loss.backward()
    for name in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
        param = getattr(module, f"{name}_l0")
        tensors[name] = param
        tensors[f"grad.{name}"] = param.grad
    tensors.update({"output": out, "h_n": h_n[0], "probe.output": probes[0], "probe.h_n": probes[1][0],
                    "grad.x": x.grad, "grad.h0": h0.grad[0]})
    if kind == "lstm":
        tensors.update({"probe.c_n": probes[2][0], "grad.c0": c0.grad[0]})
    save(kind, tensors)


def attention():
    torch.manual_seed(3)
    batch, heads, tq, dim, dv = 2, 3, 5, 4, 3
    q = torch.randn(batch, heads, tq, dim, requires_grad=True)
    k = torch.randn(batch, heads, tq, dim, requires_grad=True)
    v = torch.randn(batch, heads, tq, dv, requires_grad=True)
    key_padding = torch.tensor([[False] * 5, [False, False, False, True, True]])
    causal = torch.ones(tq, tq, dtype=torch.bool).tril()
    # PyTorch's boolean attn_mask marks keys that MAY be attended to
    allowed = causal[None, None] & ~key_padding[:, None, None, :]
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    probe = torch.randn_like(out)
    (out * probe).sum().backward()
    save("attention", {"q": q, "k": k, "v": v, "key_padding": key_padding.float(), "output": out, "probe": probe,
                       "grad.q": q.grad, "grad.k": k.grad, "grad.v": v.grad})


def composite():
    """Embedding(padding_idx=0) → LSTM over lengths → Linear on h_n → BCE with logits."""
    torch.manual_seed(4)
    vocab, dim, hidden = 12, 5, 7
    embedding = torch.nn.Embedding(vocab, dim, padding_idx=0)
    lstm = torch.nn.LSTM(dim, hidden, batch_first=True)
    head = torch.nn.Linear(hidden, 1)
    ids = torch.tensor([[3, 7, 1, 0, 0], [5, 5, 9, 11, 2], [4, 0, 0, 0, 0], [10, 6, 8, 0, 0]])
    lengths = (ids != 0).sum(1)
    targets = torch.tensor([1.0, 0.0, 1.0, 0.0])
    _, (h_n, _) = packed_run(lstm, embedding(ids), lengths, None)
    logits = head(h_n[0]).squeeze(1)
    loss = F.binary_cross_entropy_with_logits(logits, targets)
    loss.backward()
    params = {"embedding.weight": embedding.weight, "head.weight": head.weight, "head.bias": head.bias}
    for name in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
        params[f"lstm.{name}"] = getattr(lstm, f"{name}_l0")
    tensors = {"ids": ids.float(), "targets": targets, "logits": logits, "loss": loss}
    for name, p in params.items():
        tensors[name] = p
        tensors[f"grad.{name}"] = p.grad
    save("composite", tensors)


def quadratic_loss(w, target, scale):
    """The loss the optimiser fixtures descend: Σ scale·(w − target)² + Σ sin(w)."""
    return (scale * (w - target) ** 2).sum() + torch.sin(w).sum()


def optimizers():
    torch.manual_seed(5)
    w0 = torch.randn(3, 4)
    target = torch.randn(3, 4)
    scale = torch.rand(3, 4) + 0.5
    tensors = {"w0": w0, "target": target, "scale": scale}
    configs = {
        "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        "sgd_dampening": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.3),
        "adam": lambda p: torch.optim.Adam(p, lr=0.02, weight_decay=0.1),
        "adamw": lambda p: torch.optim.AdamW(p, lr=0.02, weight_decay=0.1),
    }
    steps = 6
    for name, make in configs.items():
        w = w0.clone().requires_grad_(True)
        optimizer = make([w])
        for _ in range(steps):
            optimizer.zero_grad()
            quadratic_loss(w, target, scale).backward()
            optimizer.step()
        tensors[f"{name}.final"] = w
    # Keras RMSprop (defaults) on the same loss, through Keras' own optimizer
    import keras
    w = keras.Variable(w0.numpy())
    rmsprop = keras.optimizers.RMSprop()
    for _ in range(steps):
        wt = w.value.detach().clone().requires_grad_(True)
        quadratic_loss(wt, target, scale).backward()
        rmsprop.apply_gradients([(wt.grad, w)])
    tensors["keras_rmsprop.final"] = torch.tensor(np.asarray(w.numpy()))
    save("optimizers", tensors, steps=steps, keras=keras.__version__)


def bench():
    """PyTorch CPU times of the shapes in benches/tensor_kernels.rs (median of 30 runs)."""
    import statistics
    import time

    def median_ms(fn, runs=30):
        for _ in range(5):
            fn()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return 1e3 * statistics.median(times)

    batch, steps, inputs, hidden = 64, 30, 100, 128
    lengths = torch.tensor([1 + (b * 13) % 22 for b in range(batch)])
    print(f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, cls in (("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)):
            module = cls(inputs, hidden, batch_first=True)
            x = torch.randn(batch, steps, inputs, requires_grad=True)

            def full():
                out, _ = module(x)
                out.backward(torch.ones_like(out))

            def masked():
                out, _ = packed_run(module, x, lengths, None)
                out.backward(torch.ones_like(out))

            def forward_only():
                with torch.no_grad():
                    module(x)

            for case, fn in (("forward_backward/full", full), ("forward_backward/masked", masked),
                             ("forward_only/full", forward_only)):
                print(f"{name}/{case}/{threads}t: {median_ms(fn):.2f} ms")
        shape = (8, 4, 128, 64)
        q, k, v = (torch.randn(shape, requires_grad=True) for _ in range(3))

        def attention_step():
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            out.backward(torch.ones_like(out))

        print(f"attention/causal_forward_backward/{threads}t: {median_ms(attention_step):.2f} ms")


if __name__ == "__main__":
    import sys
    if "--bench" in sys.argv:
        bench()
        sys.exit()
    OUT.mkdir(parents=True, exist_ok=True)
    recurrent("lstm")
    recurrent("gru")
    attention()
    composite()
    optimizers()
