"""Built-in strategies, working and broken on purpose."""
