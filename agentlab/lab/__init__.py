"""The lab: from a notebook to the package (promotion); the notebook API joins it later."""

from agentlab.lab.promote import Promotion, promote

__all__ = ["Promotion", "promote"]
