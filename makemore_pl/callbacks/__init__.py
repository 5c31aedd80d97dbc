"""What runs beside training: the dashboard, lecture 3's diagnostics, the loss guard and predict's writer."""

from makemore_pl.callbacks.dashboard import Dashboard
from makemore_pl.callbacks.diagnostics import Diagnostics
from makemore_pl.callbacks.guard import FiniteLossGuard
from makemore_pl.callbacks.writer import SampleWriter

__all__ = ["Dashboard", "Diagnostics", "FiniteLossGuard", "SampleWriter"]
