"""agentlab: a lab and runtime for production-grade LLM agents."""
