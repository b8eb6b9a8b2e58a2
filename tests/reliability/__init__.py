"""Helpers of the reliability suites (crash, race, parallel runs): an agent with an external effect
loaded by file reference, a harness that SIGKILLs ``agentlab`` at a chosen point, and the code
that drives the ``agentlab`` command in subprocesses and reads what it left behind."""
