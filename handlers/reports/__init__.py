"""The periodic report of questions, tickets, satisfaction and announcements, and its CLI."""
