"""The officials' dashboard under /admin: broadcasts, the campaign calendar, the
feedback inbox, reports, unanswered questions, "ask as a citizen", content errors, accounts.

``bot.dashboard.auth`` holds accounts, logins and sessions; ``bot.dashboard.web`` the guard
every page goes through; ``bot.dashboard.pages`` the pages; ``bot.dashboard.reports`` the
figures for a period. Accounts are made with ``cchc-bot admin create-user``.
"""
