"""Live agents as MCP tools, served over streamable HTTP at `/mcp`."""
