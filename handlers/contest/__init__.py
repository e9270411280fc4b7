"""The CCHC knowledge contest: the contest files (``contests``), taking part (``router``), the
attempts, scores and ranking in the database (``service``) and the officials' commands (``cli``)."""
