"""The officials' commands in conversation: /stats, /reload."""
