"""Exporting a trained model to a file that needs no torch: ONNX (onnx.py), with the recurrent cells unrolled
into plain operators (onnx_rnn.py). The command is makemore_pl.cli.export."""
