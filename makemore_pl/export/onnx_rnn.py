"""Exporting ``nn.RNN`` (tanh) to ONNX with a dynamic length: the one recurrence torch.onnx leaves static.

torch 2.13's ONNX export keeps a GRU's and an LSTM's length dynamic (pytorch/pytorch#184872): while
``torch.export`` captures the graph, it swaps their default decompositions, which step through the
sequence in Python and so freeze its length, for ones built on ``while_loop``; onnxscript then
writes the ONNX ``GRU`` and ``LSTM`` ops. ``aten::rnn_tanh`` got neither: its length is frozen at the
example's, and with no translation of its own it is unrolled step by step. Here it gets both, the
same way: a ``while_loop`` decomposition for the capture (``capturing_rnn_tanh``) and a translation
to the ONNX ``RNN`` op (``TRANSLATIONS``), whose tanh recurrence ``h_t = tanh(W x_t + b_W + R h_t-1 +
b_R)`` is PyTorch's exactly. The tests check onnxruntime against torch at several lengths.

It uses torch's own helpers for the two RNNs it patches (``torch.export._patches``), private API:
the Makefile pins torch==2.13.0, the version this was written and tested against.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from onnxscript import opset18 as op
from torch import Tensor
from torch._decomp.decompositions import _rnn_helper, gather_params
from torch._higher_order_ops.while_loop import while_loop
from torch.export._patches import _clone_tensors_that_alias, _register_rnn_while_loop_decomposition


def _one_layer(inp: Tensor, hidden: Tensor, params: list[Tensor], has_biases: bool, reverse: bool = False):
    """One tanh layer over ``inp`` (seq, batch, features) as a ``while_loop``: the length stays symbolic."""
    ih_weight, hh_weight = params[0], params[1]
    ih_bias, hh_bias = (params[2], params[3]) if has_biases else (None, None)
    inputs = F.linear(inp, ih_weight, ih_bias)
    inputs = inputs.flip(0) if reverse else inputs
    hh_weight, hh_bias = _clone_tensors_that_alias((hh_weight, hh_bias))
    outputs = torch.empty(inputs.size(0), *hidden.shape, dtype=hidden.dtype, device=hidden.device)

    def more(i: Tensor, outputs: Tensor, h: Tensor) -> Tensor:
        return i < inputs.size(0)

    def step(i: Tensor, outputs: Tensor, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        t = i.item()
        torch._check(t >= 0)
        torch._check(t < inputs.size(0))
        h = torch.tanh(inputs[t] + F.linear(h, hh_weight, hh_bias))
        outputs = outputs.clone()
        outputs[t] = h
        return i + 1, outputs, h

    _, outputs, last = while_loop(more, step, [torch.tensor(0), outputs, hidden])
    return (outputs.flip(0) if reverse else outputs), last


def _rnn_tanh(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    """``aten::rnn_tanh.input`` as torch's own decomposition computes it, each layer a ``while_loop``."""
    params = gather_params(params, has_biases, False)
    args = (has_biases, num_layers, dropout, train, bidirectional, batch_first, _one_layer)
    output, last = _rnn_helper(input, list(hx.unbind(0)), params, *args)
    return output, torch.stack(last, 0)


RECURRENCES = (torch.ops.aten.rnn_tanh.input, torch.ops.aten.gru.input, torch.ops.aten.lstm.input)


def _forget_kernels() -> None:
    # The decompositions are swapped in by assigning an op's py_kernels, which leaves the op's
    # cache of the kernel it dispatched to last: a second export in one process then met the
    # Python-loop decomposition again, and froze the length (seen with torch 2.13's GRU).
    for recurrence in RECURRENCES:
        recurrence._dispatch_cache.clear()


@contextmanager
def dynamic_length_recurrences() -> Iterator[None]:
    """While it lasts, ``torch.export`` keeps an RNN's, GRU's and LSTM's length dynamic (see the docstring).

    torch.onnx swaps the GRU's and LSTM's decompositions itself, inside this; here the RNN's too,
    and every swap starts and ends with the ops' dispatch caches emptied.
    """
    _forget_kernels()
    try:
        with _register_rnn_while_loop_decomposition(torch.ops.aten.rnn_tanh.input, _rnn_tanh):
            _forget_kernels()
            yield
    finally:
        _forget_kernels()


def onnx_rnn_tanh(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    """``aten::rnn_tanh.input`` as ONNX ``RNN`` ops, one per layer (forward, tanh: what makemore-pl builds)."""
    if bidirectional:
        raise NotImplementedError("a bidirectional RNN has no export here (makemore-pl's models read left to right)")
    x = op.Transpose(input, perm=[1, 0, 2]) if batch_first else input
    per_layer = 4 if has_biases else 2
    last = []
    for layer in range(num_layers):
        weights = params[layer * per_layer : (layer + 1) * per_layer]
        W, R = op.Unsqueeze(weights[0], [0]), op.Unsqueeze(weights[1], [0])
        # ONNX's bias is [W_b, R_b] concatenated, PyTorch's the two: b_ih, b_hh.
        B = op.Unsqueeze(op.Concat(weights[2], weights[3], axis=0), [0]) if has_biases else None
        start = op.Slice(hx, [layer], [layer + 1], axes=[0])
        Y, Y_h = op.RNN(x, W, R, B, None, start, hidden_size=hx.shape[2], activations=["Tanh"])
        x = op.Squeeze(Y, [1])  # (seq, directions = 1, batch, hidden) -> (seq, batch, hidden)
        last.append(Y_h)
    output = op.Transpose(x, perm=[1, 0, 2]) if batch_first else x
    return output, op.Concat(*last, axis=0)


TRANSLATIONS = {torch.ops.aten.rnn_tanh.input: onnx_rnn_tanh}
