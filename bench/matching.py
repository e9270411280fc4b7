"""Answer-engine benchmark: quality on tests/eval and latency on the bundled and a 10k store.

    uv run python bench/matching.py [--json] [--synthetic 10000]

Prints, per set (chat-style, long-form, near-miss, out-of-scope) and for each set's even and
odd halves (thresholds are tuned on the even half): answered directly and correctly, the right
entry answered or shortlisted, correct among answered, wrong answers, the direct-answer,
clarify and not-sure rates, and out-of-scope queries answered; the p50/p99 latency of a fresh
question on the bundled pack and on a 10,000-entry store; and, on the chat-style set, the
engine against two baselines (rapidfuzz WRatio on raw titles; BM25 alone).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rapidfuzz import fuzz, process

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import intents  # noqa: E402
from bot.config import BUNDLED_CONTENT, Office  # noqa: E402
from bot.content.loader import load_pack  # noqa: E402
from bot.content.model import FaqEntry  # noqa: E402
from bot.evaluation import Decider, EvalSet, load_eval_sets, score  # noqa: E402
from bot.matching import Matcher  # noqa: E402

WRATIO_ANSWER = 85.0  # a WRatio at or above this answers; below, "not sure"
BM25_ANSWER = 6.0  # likewise for the raw BM25 score of the best entry


def engine_decider(matcher: Matcher) -> Decider:
    def decide(query: str) -> tuple[str, list[str]]:
        if intents.detect(query) is not None:
            return "intent", []
        match = matcher.match_fresh(query)  # latency of a question never seen before
        return match.outcome, [c.id for c in match.candidates]

    return decide


def wratio_decider(entries: list[FaqEntry]) -> Decider:
    titles = [e.title for e in entries]

    def decide(query: str) -> tuple[str, list[str]]:
        best = process.extractOne(query, titles, scorer=fuzz.WRatio)
        if best is None or best[1] < WRATIO_ANSWER:
            return "not_sure", []
        return "answer", [entries[best[2]].id]

    return decide


def bm25_decider(matcher: Matcher) -> Decider:
    def decide(query: str) -> tuple[str, list[str]]:
        top = matcher.bm25_top(query, 1)
        if not top or top[0][1] < BM25_ANSWER:
            return "not_sure", []
        return "answer", [top[0][0]]

    return decide


def latency(decide: Decider, queries: list[str], repeat: int = 3) -> dict[str, float]:
    """Wall-clock and CPU time per query. On a shared machine the wall-clock tail is mostly
    other processes' turns on the CPU; the CPU time is what the question itself costs."""
    for q in queries[:20]:  # warm caches
        decide(q)
    wall, cpu = [], []
    for _ in range(repeat):
        for q in queries:
            start, start_cpu = time.perf_counter(), time.thread_time()
            decide(q)
            cpu.append((time.thread_time() - start_cpu) * 1000)
            wall.append((time.perf_counter() - start) * 1000)
    wall.sort()
    cpu.sort()
    return {
        "p50_ms": round(statistics.median(wall), 3),
        "p99_ms": round(wall[int(len(wall) * 0.99) - 1], 3),
        "cpu_p50_ms": round(statistics.median(cpu), 3),
        "cpu_p99_ms": round(cpu[int(len(cpu) * 0.99) - 1], 3),
        "queries": len(wall),
    }


def synthetic_entries(base: list[FaqEntry], total: int, seed: int = 7) -> list[FaqEntry]:
    """A store of ``total`` entries: the real ones plus look-alikes built from their words."""
    rng = random.Random(seed)
    words = sorted({w for e in base for q in e.questions for w in q.lower().split()})
    out = list(base)
    for i in range(total - len(base)):
        def phrase(n: int) -> str:
            return " ".join(rng.choice(words) for _ in range(n))
        template = base[i % len(base)]
        out.append(FaqEntry.create(
            id=f"synthetic-{i}", title=phrase(rng.randint(5, 10)),
            aliases=tuple(phrase(rng.randint(3, 8)) for _ in range(8)), category=template.category,
            tags=template.tags, related=(), links=template.links, source=template.source,
            updated=template.updated, procedure=template.procedure, body=template.body,
            path=template.path, line=template.line))
    return out


def set_figures(decide: Decider, evalset: EvalSet) -> dict:
    """One set's figures: the whole set, and its even and odd halves (tuned / checked)."""
    out = {"all": score(decide, evalset).summary()}
    for name, parity in (("even", 0), ("odd", 1)):
        out[name] = score(decide, evalset.half(parity)).summary()
    out["queries"] = len(evalset.in_scope) + len(evalset.out_of_scope)
    return out


def run(args: argparse.Namespace) -> dict:
    pack, problems = load_pack(BUNDLED_CONTENT, Office().template_values())
    if pack is None:
        raise SystemExit("bundled content has errors:\n" + "\n".join(map(str, problems)))
    sets = load_eval_sets()
    chat: EvalSet = sets["chat-style"]
    chat = EvalSet(chat.in_scope, sets["out-of-scope"].out_of_scope)  # the baselines' set, as before
    entries = list(pack.entries.values())
    matcher = Matcher(entries, pack.lexicon)
    every_query = [q for s in sets.values() for q, _ in (*s.in_scope, *s.out_of_scope)]
    chat_queries = [q for q, _ in (*chat.in_scope, *chat.out_of_scope)]
    engine = engine_decider(matcher)
    report: dict = {"entries": len(entries), "sets": {}, "engines": {}}
    for name, evalset in sets.items():
        report["sets"][name] = set_figures(engine, evalset)
    report["engine_latency_bundled"] = latency(engine, every_query)
    engines: dict[str, Callable[[], Decider]] = {
        "engine": lambda: engine,
        "baseline: rapidfuzz WRatio on titles": lambda: wratio_decider(entries),
        "baseline: BM25 alone": lambda: bm25_decider(matcher),
    }
    for name, make in engines.items():
        decide = make()
        report["engines"][name] = {**score(decide, chat).summary(),
                                   "latency_bundled": latency(decide, chat_queries)}
    started = time.perf_counter()
    big_entries = synthetic_entries(entries, args.synthetic)
    big = Matcher(big_entries, pack.lexicon)
    report["synthetic_entries"] = len(big_entries)
    report["synthetic_index_build_s"] = round(time.perf_counter() - started, 2)
    report["engine_latency_synthetic"] = latency(engine_decider(big), every_query, repeat=1)
    big_engines = {
        "engine": engine_decider(big),
        "baseline: rapidfuzz WRatio on titles": wratio_decider(big_entries),
        "baseline: BM25 alone": bm25_decider(big),
    }
    for name, decide in big_engines.items():
        report["engines"][name]["latency_synthetic"] = latency(decide, chat_queries, repeat=1)
    report["wrong_answers"] = {name: score(engine, s).wrong for name, s in sets.items()}
    report["out_of_scope_answered"] = {name: score(engine, s).oos_wrongly_answered
                                       for name, s in sets.items()}
    return report


def _print_sets(report: dict) -> None:
    print(f"{'set':14} {'half':5} {'queries':>7} {'direct ok':>9} {'ans|short':>9} {'ok/ans':>7} "
          f"{'wrong':>6} {'answered':>8} {'clarify':>7} {'not sure':>8} {'oos ans':>7}")
    for name, figures in report["sets"].items():
        for half in ("all", "even", "odd"):
            r = figures[half]
            labelled = r["answered_rate"] or r["clarify_rate"] or r["not_sure_rate"]
            cells = (f"{r['direct_correct']:>9.1%} {r['answer_or_shortlist']:>9.1%} "
                     f"{r['correct_among_answered']:>7.1%} {r['wrong_share_of_in_scope']:>6.1%} "
                     f"{r['answered_rate']:>8.1%} {r['clarify_rate']:>7.1%} {r['not_sure_rate']:>8.1%}"
                     if labelled else f"{'':>9} {'':>9} {'':>7} {'':>6} {'':>8} {'':>7} {'':>8}")
            oos = f"{r['out_of_scope_answered']:>7.1%}" if name in ("near-miss", "out-of-scope") else ""
            count = figures["queries"] if half == "all" else ""
            print(f"{name if half == 'all' else '':14} {half:5} {count:>7} {cells} {oos}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--synthetic", type=int, default=10_000, help="size of the synthetic store")
    args = parser.parse_args()
    report = run(args)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"Bundled content: {report['entries']} entries; synthetic store: "
          f"{report['synthetic_entries']} entries (index built in {report['synthetic_index_build_s']} s)\n")
    _print_sets(report)
    bundled, synthetic = report["engine_latency_bundled"], report["engine_latency_synthetic"]
    for where, r in ((f"the bundled pack ({report['entries']} entries)", bundled),
                     (f"{report['synthetic_entries']} entries", synthetic)):
        print(f"\nEngine, a fresh question (every set's queries), {where}: wall p50 {r['p50_ms']:.3f} ms, "
              f"p99 {r['p99_ms']:.3f} ms; CPU p50 {r['cpu_p50_ms']:.3f} ms, p99 {r['cpu_p99_ms']:.3f} ms")
    print()
    print("Chat-style set against the baselines:")
    header = (f"{'':38} {'correct/ans':>11} {'wrong':>7} {'answered':>8} {'clarify':>8} "
              f"{'oos ans':>8} {'p50 ms':>7} {'p99 ms':>7} {'p50 10k':>8} {'p99 10k':>8}")
    print(header)
    for name, r in report["engines"].items():
        print(f"{name:38} {r['correct_among_answered']:>11.1%} {r['wrong_share_of_in_scope']:>7.1%} "
              f"{r['answered_rate']:>8.1%} {r['clarify_rate']:>8.1%} {r['out_of_scope_answered']:>8.1%} "
              f"{r['latency_bundled']['p50_ms']:>7.3f} {r['latency_bundled']['p99_ms']:>7.3f} "
              f"{r['latency_synthetic']['p50_ms']:>8.3f} {r['latency_synthetic']['p99_ms']:>8.3f}")
    for name, wrong in report["wrong_answers"].items():
        if wrong:
            print(f"\nEngine's wrong answers, {name} (query → expected / got):")
            for query, expected, got in wrong:
                print(f"  {query!r} → {expected} / {got}")
    for name, answered in report["out_of_scope_answered"].items():
        if answered:
            print(f"\n{name} queries the engine answered:")
            for query, got in answered:
                print(f"  {query!r} → {got}")


if __name__ == "__main__":
    main()
