"""The officials' commands in conversation: /broadcast, /stats, /reload."""
