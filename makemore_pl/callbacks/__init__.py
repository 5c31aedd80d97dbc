"""What runs beside training: the dashboard, lecture 3's diagnostics, the loss guard, safe Ctrl-C, the writer,
late dropout."""

from makemore_pl.callbacks.dashboard import Dashboard
from makemore_pl.callbacks.diagnostics import Diagnostics
from makemore_pl.callbacks.guard import FiniteLossGuard
from makemore_pl.callbacks.interrupt import SafeInterrupt
from makemore_pl.callbacks.late_dropout import LateDropout
from makemore_pl.callbacks.writer import SampleWriter

__all__ = ["Dashboard", "Diagnostics", "FiniteLossGuard", "LateDropout", "SafeInterrupt", "SampleWriter"]
