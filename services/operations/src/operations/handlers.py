"""Dead-letter replay: chosen dead letters go back to their original topic, once each, recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from operations.adapters.kafka_view import KafkaView
from operations.selections import InvalidSelection, check_selections
from shared.kafka.dead_letters import without_dead_letter_headers
from shared.kafka.publisher import EventPublisher
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Selection:
    dead_letter_topic: str
    partition: int
    offset: int

    @property
    def replay_id(self) -> str:
        return f"{self.dead_letter_topic}:{self.partition}:{self.offset}"


async def replay(
    view: KafkaView, publisher: EventPublisher, replays: AsyncCollection, chosen: list[Selection], *, by: str
) -> list[dict[str, Any]]:
    """Each dead letter is replayed at most once: a second request for it reports the first replay.

    Every selection is checked against the topics' partitions and offsets before anything is read:
    reading a topic or partition that does not exist would wait on the broker for each one.
    """
    problems = check_selections(chosen, await view.dead_letter_bounds())
    if problems:
        raise InvalidSelection(problems)
    results: list[dict[str, Any]] = []
    for sel in chosen:
        now = datetime.now(UTC)
        try:
            await replays.insert_one(
                {"_id": sel.replay_id, "state": "pending", "by": by, "requested_at": now}
            )
        except DuplicateKeyError:
            previous = await replays.find_one({"_id": sel.replay_id})
            if previous and previous.get("state") == "done":
                results.append(
                    {
                        "replay_id": sel.replay_id,
                        "result": "already_replayed",
                        "replayed_at": previous.get("replayed_at"),
                        "by": previous.get("by"),
                    }
                )
                continue
            # A pending record: an earlier replay stopped half-way; finish it (consumers deduplicate).
        record = await view.dead_letter_record(sel.dead_letter_topic, sel.partition, sel.offset)
        if record is None:
            await replays.delete_one({"_id": sel.replay_id, "state": "pending"})
            results.append({"replay_id": sel.replay_id, "result": "not_found"})
            continue
        # The replayed message goes without the headers the consumer added when it dead-lettered it.
        headers = without_dead_letter_headers(record.headers or ())
        original = dict(record.headers or ()).get("original_topic", b"").decode()
        if not original:
            results.append({"replay_id": sel.replay_id, "result": "no_original_topic"})
            continue
        headers.append(("replayed_from", sel.replay_id.encode()))
        await publisher.send(view.physical(original), record.key, record.value or b"", headers)
        await replays.update_one(
            {"_id": sel.replay_id},
            {
                "$set": {
                    "state": "done",
                    "replayed_at": datetime.now(UTC),
                    "to_topic": original,
                    "key": record.key.decode(errors="replace") if record.key else None,
                }
            },
        )
        log.info("dead letter replayed", replay_id=sel.replay_id, to_topic=original, by=by)
        results.append({"replay_id": sel.replay_id, "result": "replayed", "to_topic": original})
    return results


async def replay_log(replays: AsyncCollection, limit: int = 200) -> list[dict[str, Any]]:
    return [
        {"replay_id": d["_id"], **{k: v for k, v in d.items() if k != "_id"}}
        async for d in replays.find({}).sort("requested_at", -1).limit(limit)
    ]
