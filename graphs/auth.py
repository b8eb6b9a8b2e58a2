"""Who may call the graphs of ``langgraph.json``: bearer tokens of agentlab's data directory.

``agentlab tokens create --principal NAME`` makes one; a client sends it as ``Authorization:
Bearer <token>``, and the runs it starts act for NAME (see ``agentlab.serving.langgraph_auth``).
"""

from agentlab.serving.langgraph_auth import server_auth

auth = server_auth()
