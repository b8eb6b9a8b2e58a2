"""``python -m agentlab``: the same command line as ``agentlab``."""

from agentlab.cli.app import main

main()
