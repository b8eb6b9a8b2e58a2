"""The lab: the notebook API (``Lab``, ``LabRun``) and promotion from notebooks to the package."""

from agentlab.lab.draw import GraphPicture, draw
from agentlab.lab.lab import Lab, print_event
from agentlab.lab.promote import Promotion, promote
from agentlab.lab.run import LabRun

__all__ = ["GraphPicture", "Lab", "LabRun", "Promotion", "draw", "print_event", "promote"]
