"""agentkit: agentic tool calling over the Gemini Interactions API (being assembled)."""
