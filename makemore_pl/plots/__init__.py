"""Pictures: matplotlib figures saved as PNG and logged to TensorBoard (charts, tables, the embedding).

Drawing helpers only; the callbacks (makemore_pl.callbacks) and commands (makemore_pl.cli) decide when to draw.
"""
