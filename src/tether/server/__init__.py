"""The team server: the store's operations over HTTP, token auth, workspaces and the web UI."""
