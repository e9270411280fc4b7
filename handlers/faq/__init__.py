"""Answering questions: the start and help menu, browsing by topic, the welcome screen, free-text
questions and their votes."""
