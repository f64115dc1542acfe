"""`yingde-ops`: the operations command line.

    yingde-ops topics                      rate, size and messages per topic (two samples 3 s apart)
    yingde-ops lag                         lag per consumer group and partition, and whether it falls
    yingde-ops dlq [--service dispatch]    dead letters with their error class and message
    yingde-ops replay TOPIC:PARTITION:OFFSET [...] | --service dispatch
                                           send dead letters back to their original topic, once each
    yingde-ops case YD-XXXXXXXXXX          the last events of a case across all topics

Connection from the environment, as the services read it (KAFKA_BOOTSTRAP_SERVERS, MONGODB_URL,
TOPIC_PREFIX). Replays are recorded in the operations database, like those made on the ops page.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from typing import Any

from operations.adapters.kafka_view import KafkaView, Sampler
from operations.config import OperationsSettings
from operations.handlers import Selection, replay
from operations.selections import InvalidSelection
from shared.kafka.publisher import EventPublisher
from shared.mongo import connect, database


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


async def _run(args: argparse.Namespace) -> int:
    settings = OperationsSettings()
    view = KafkaView(settings.kafka_bootstrap_servers, settings.topic_prefix)
    try:
        return await _command(args, settings, view)
    finally:
        await view.close()


async def _command(args: argparse.Namespace, settings: OperationsSettings, view: KafkaView) -> int:
    if args.command in ("topics", "lag"):
        sampler = Sampler(view)
        await sampler.sample()
        await asyncio.sleep(args.interval)
        await sampler.sample()
        if args.command == "topics":
            offsets, sizes, rates = await view.end_offsets(), await view.average_sizes(), sampler.rates()
            rows = [
                {
                    "topic": n,
                    "partitions": len(p),
                    "messages": sum(e - f for f, e in p.values()),
                    "msg/s": f"{rates.get(n, 0):.1f}",
                    "avg bytes": round(sizes.get(n, 0)),
                }
                for n, p in offsets.items()
            ]
            print(_table(rows, ["topic", "partitions", "messages", "msg/s", "avg bytes"]))
        else:
            rows = [
                r
                | {
                    "trend": sampler.trend(r["group"], r["topic"], r["partition"]),
                    "committed": "-" if r["committed"] is None else r["committed"],
                }
                for r in await view.lag()
            ]
            print(_table(rows, ["group", "topic", "partition", "committed", "end", "lag", "trend"]))
            print(f"total lag: {sum(r['lag'] for r in rows)}")
        return 0
    if args.command == "dlq":
        rows = await view.dead_letters(args.service)
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
        else:
            for r in rows:
                r["at"] = f"{r['dead_letter_topic']}:{r['partition']}:{r['offset']}"
            print(_table(rows, ["at", "service", "original_topic", "key", "exc_class", "exc_msg"]))
        return 0
    if args.command == "case":
        print(
            _table(
                await view.case_events(args.case_id),
                ["occurred_at", "topic", "offset", "event_type", "producer"],
            )
        )
        return 0
    if args.command == "replay":
        chosen = [Selection(*_parse(s)) for s in args.dead_letters]
        if args.service:
            chosen += [
                Selection(d["dead_letter_topic"], d["partition"], d["offset"])
                for d in await view.dead_letters(args.service)
            ]
        if not chosen:
            print("nothing to replay", file=sys.stderr)
            return 2
        mongo = connect(settings)
        publisher = EventPublisher(settings)
        try:
            results = await replay(
                view, publisher, database(mongo, settings)["replays"], chosen, by=f"cli:{getpass.getuser()}"
            )
        except InvalidSelection as exc:
            for i, field, message in exc.problems:
                print(
                    f"{args.dead_letters[i] if i < len(args.dead_letters) else i}: {field}: {message}",
                    file=sys.stderr,
                )
            print("nothing replayed", file=sys.stderr)
            return 2
        finally:
            await publisher.stop()
            await mongo.close()
        print(_table(results, ["replay_id", "result", "to_topic"]))
        return 0
    return 2


def _parse(text: str) -> tuple[str, int, int]:
    topic, partition, offset = text.rsplit(":", 2)
    return topic, int(partition), int(offset)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="yingde-ops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("topics", "lag"):
        p = sub.add_parser(name)
        p.add_argument("--interval", type=float, default=3.0, help="seconds between the two samples")
    p = sub.add_parser("dlq")
    p.add_argument("--service")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("replay")
    p.add_argument("dead_letters", nargs="*", help="DEAD_LETTER_TOPIC:PARTITION:OFFSET")
    p.add_argument("--service", help="replay every dead letter of this service")
    p = sub.add_parser("case")
    p.add_argument("case_id")
    return asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
