"""Generates crates/tensor/tests/fixtures/recurrent_torch.safetensors.

For each of a 2-layer bidirectional LSTM, GRU and tanh RNN (batch_first, input 5, hidden 4)
with fixed random weights: the weights under PyTorch's names (prefixed "lstm." / "gru." /
"rnn."), an input batch of 3 sequences of 6 steps with lengths 6, 4 and 1 (padded steps hold
garbage, which must not matter), and PyTorch's outputs for the packed sequence: the padded
output sequence and h_n. Then one step of an RNNCell(5, 4): its weights (prefixed
"rnn_cell."), an input "rnn_cell.x" (3, 5), a state "rnn_cell.h" (3, 4) and the next state
"rnn_cell.h_next".

The LSTM and GRU tensors come first and are drawn exactly as before the RNN ones were added,
so they are unchanged from the fixture's first version.

Run from the repository root: python benches/reference/seq_torch_fixtures.py
"""
import torch
from safetensors.torch import save_file

torch.manual_seed(1234)
lengths = torch.tensor([6, 4, 1])
x = torch.randn(3, 6, 5)
tensors = {"x": x, "lengths": lengths.float()}

for name, cls in [("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU), ("rnn", torch.nn.RNN)]:
    layer = cls(5, 4, num_layers=2, bidirectional=True, batch_first=True)
    for pname, p in layer.named_parameters():
        tensors[f"{name}.{pname}"] = p.detach().clone()
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, state = layer(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=6)
    h_n = state[0] if name == "lstm" else state
    tensors[f"{name}.output"] = out.detach()
    tensors[f"{name}.h_n"] = h_n.detach()
    if name == "lstm":
        tensors["lstm.c_n"] = state[1].detach()

cell = torch.nn.RNNCell(5, 4)
for pname, p in cell.named_parameters():
    tensors[f"rnn_cell.{pname}"] = p.detach().clone()
cell_x, cell_h = torch.randn(3, 5), torch.randn(3, 4)
tensors["rnn_cell.x"] = cell_x
tensors["rnn_cell.h"] = cell_h
tensors["rnn_cell.h_next"] = cell(cell_x, cell_h).detach()

save_file({k: v.contiguous() for k, v in tensors.items()}, "crates/tensor/tests/fixtures/recurrent_torch.safetensors")
print("wrote", len(tensors), "tensors")
