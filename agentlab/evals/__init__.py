"""evals: arrives with its own issue; nothing here yet."""
