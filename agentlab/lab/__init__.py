"""The lab: the notebook API (``Lab``, ``LabRun``) and promotion from notebooks to the package."""

from agentlab.lab.draw import GraphPicture, draw
from agentlab.lab.notebook import Lab, LabRun, print_event
from agentlab.lab.promote import Promotion, promote

__all__ = ["GraphPicture", "Lab", "LabRun", "Promotion", "draw", "print_event", "promote"]
