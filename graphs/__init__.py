"""Agents assembled from the agentlab package, as ``langgraph.json`` names them."""
