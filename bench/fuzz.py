"""Fuzzing benchmark: the full count of generated inputs over every parser of outside data.

    uv run python bench/fuzz.py [--total 100000] [--database-url postgresql://...] [--json]
    uv run python bench/fuzz.py --only web_chat,payloads --total 5000

Runs the targets of tests/fuzz_targets.py (webhook bodies for Telegram and Zalo through the real
routes and channels against their fakes, web-chat requests, button payloads, Zalo button tags,
dossier import files, content files) with hypothesis, sharing ``--total`` among them by weight
(cheap parsers get more inputs than the ones that go through the whole bot), and prints per
target: inputs, unhandled exceptions (the first one, shrunk, with its input), HTTP answers by
status and any 500s, and the time taken.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzz_targets import TARGETS, Harness  # noqa: E402

# Shares of the total: parsers cost microseconds, a message through the whole bot milliseconds.
WEIGHTS = {"telegram_parse": 20, "zalo_verify": 15, "zalo_codec": 10, "dossier_csv": 14,
           "content": 8, "web_chat": 8, "payloads": 8, "telegram_webhook": 7, "zalo_webhook": 7,
           "dossier_xlsx": 3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--only", help="comma-separated targets")
    parser.add_argument("--database-url", help="default: a throwaway SQLite file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # fuzzed inputs make the bot warn, by design; errors count
    names = args.only.split(",") if args.only else list(WEIGHTS)
    weight = sum(WEIGHTS[n] for n in names)
    plan = {n: max(1, args.total * WEIGHTS[n] // weight) for n in names}
    results = {}
    started = time.perf_counter()
    with Harness(database_url=args.database_url) as harness:
        for name in names:
            began = time.perf_counter()
            failure = None
            try:
                TARGETS[name](harness, plan[name])
            except Exception as exc:  # noqa: BLE001 - reported, then the next target runs
                failure = "".join(traceback.format_exception_only(type(exc), exc)).strip()[-2000:]
            statuses = {str(status): n for (target, status), n in harness.statuses.items() if target == name}
            results[name] = {
                "inputs": harness.counts[name], "planned": plan[name], "exceptions": int(failure is not None),
                "first_exception": failure, "statuses": statuses,
                "http_500": sum(n for s, n in statuses.items() if s.startswith("5")),
                "seconds": round(time.perf_counter() - began, 1),
            }
            if not args.json:
                r = results[name]
                print(f"{name:17s} {r['inputs']:7d} inputs  {r['exceptions']} exceptions  "
                      f"{r['http_500']} HTTP 5xx  {r['seconds']:7.1f} s  {statuses or ''}", flush=True)
                if failure:
                    print(f"    {failure}", flush=True)
    total = {"inputs": sum(r["inputs"] for r in results.values()),
             "exceptions": sum(r["exceptions"] for r in results.values()),
             "http_500": sum(r["http_500"] for r in results.values()),
             "seconds": round(time.perf_counter() - started, 1)}
    if args.json:
        print(json.dumps({"targets": results, "total": total}, ensure_ascii=False, indent=2))
    else:
        print(f"{'total':17s} {total['inputs']:7d} inputs  {total['exceptions']} exceptions  "
              f"{total['http_500']} HTTP 5xx  {total['seconds']:7.1f} s")
    sys.exit(1 if total["exceptions"] or total["http_500"] else 0)


if __name__ == "__main__":
    main()
