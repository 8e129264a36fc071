"""The terminal view of `agentkit run`: a live tree of tool calls (the `agentkit[cli]` extra).

Nothing here is imported by `import agentkit`; the command itself is `python -m agentkit`.
"""
