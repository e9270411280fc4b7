"""Fakes of the remote platforms (Telegram's Bot API, Zalo's OA API, Meta's Graph API for
Messenger) that the tests and the benchmarks talk to over HTTP, following the published APIs."""
