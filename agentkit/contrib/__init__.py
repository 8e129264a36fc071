"""Integrations with other systems, each installed with its own extra (`agentkit[temporal]`)."""
