"""The command line (Typer + Rich); see ``agentlab.cli.app``."""
