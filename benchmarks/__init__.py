"""agentkit's benchmark harness: `python -m benchmarks` (see `benchmarks.__main__`).

Never imported by agentkit or by its tests. The package has no dependency beyond agentkit's
own: the fake server (`_server`) and the raw httpx contenders (`_raw`) never import agentkit,
so they measure the same with any checkout of it.
"""
