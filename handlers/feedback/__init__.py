"""Feedback and complaints: the citizen's flow and the officials' answers (``router``), and what
they share with the dashboard, the report and the periodic check (``service``)."""
