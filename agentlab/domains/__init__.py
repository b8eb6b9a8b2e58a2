"""Ready-made agents, each defined the way a user defines theirs (see ``agentlab.Agent``).

``agentlab.domains.support:agent`` is the customer-support agent, and the default agent.
"""
