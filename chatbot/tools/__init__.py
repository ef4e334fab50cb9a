"""Tools: what a tool is (specs), the MCP client and its address guard, and the tool loop."""
