"""One UpdateItem per post that both rate-limits the author and rejects a repeated idempotency key.

The item `Counter:post:<user id>` / `post-guard` holds, per fixed window W (epoch seconds //
CHAT_POST_RATE_WINDOW_SECONDS):

- `n_<W>`: posts counted in window W;
- `k_<W>`: the idempotency keys claimed in window W (a string set);
- `s_<W>`: "<key> <message SK>" for each of them: where the first attempt put (or meant to put)
  its message, so a retry can find it or finish it.

A claim is one UpdateItem: ADD to this window's attributes, REMOVE older windows' attributes,
conditional on "this window's count is under the limit and the key is in neither this window's
nor the previous window's set". Only when that condition fails (a duplicate, or over the limit) do
we spend a GetItem to tell which. Attribute names carry their window, so a new window needs no
reset: its attributes simply don't exist yet. See docs/live-updates.md, "Posting".
"""

from __future__ import annotations

from dataclasses import dataclass

import botocore.exceptions
from django.conf import settings

from chatsite import dynamodb, keys, metrics

_FORGET_WINDOWS = (2, 3, 4)  # windows older than the previous one; TTL removes the idle item


@dataclass(frozen=True)
class Claim:
    planned_sk: str  # the message SK to put: ours, or the first attempt's for a duplicate
    duplicate: bool = False
    retry_after: int = 0  # > 0: over the limit, try again in this many seconds

    @property
    def limited(self) -> bool:
        return self.retry_after > 0


def _window(now_ms: int) -> int:
    return now_ms // 1000 // settings.CHAT_POST_RATE_WINDOW_SECONDS


def claim(*, user_id: str, idempotency_key: str, planned_sk: str, now_ms: int) -> Claim:
    """Count one post for ``user_id`` and claim ``idempotency_key`` for the message ``planned_sk``."""
    window_seconds = settings.CHAT_POST_RATE_WINDOW_SECONDS
    w = _window(now_ms)
    item_key = {"PK": {"S": keys.post_guard_pk(user_id)}, "SK": {"S": keys.POST_GUARD_SK}}
    names = {"#n": f"n_{w}", "#k": f"k_{w}", "#s": f"s_{w}", "#kp": f"k_{w - 1}", "#np": f"n_{w - 1}",
             "#exp": dynamodb.CHAT_TTL_ATTRIBUTE}
    forget = []
    for back in _FORGET_WINDOWS:
        for prefix in ("n", "k", "s"):
            placeholder = f"#{prefix}{back}"
            names[placeholder] = f"{prefix}_{w - back}"
            forget.append(placeholder)
    try:
        dynamodb.client().update_item(
            TableName=dynamodb.table_name(dynamodb.CHAT),
            Key=item_key,
            UpdateExpression=(f"ADD #n :one, #k :keyset, #s :slotset SET #exp = :exp "
                              f"REMOVE #np, {', '.join(forget)}"),
            ConditionExpression=("(attribute_not_exists(#n) OR #n < :limit) "
                                 "AND NOT contains(#k, :key) AND NOT contains(#kp, :key)"),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":limit": {"N": str(settings.CHAT_POST_RATE_LIMIT)},
                ":key": {"S": idempotency_key},
                ":keyset": {"SS": [idempotency_key]},
                ":slotset": {"SS": [f"{idempotency_key} {planned_sk}"]},
                ":exp": {"N": str((w + 3) * window_seconds)},
            },
        )
        return Claim(planned_sk=planned_sk)
    except botocore.exceptions.ClientError as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
    return _explain_refusal(item_key, w, idempotency_key, now_ms)


def _explain_refusal(item_key: dict, w: int, idempotency_key: str, now_ms: int) -> Claim:
    """The rare path: one consistent GetItem to tell "duplicate" from "over the limit"."""
    item = dynamodb.client().get_item(
        TableName=dynamodb.table_name(dynamodb.CHAT), Key=item_key, ConsistentRead=True
    ).get("Item", {})
    for window in (w, w - 1):
        for slot in item.get(f"s_{window}", {}).get("SS", []):
            key, _, sk = slot.partition(" ")
            if key == idempotency_key:
                return Claim(planned_sk=sk, duplicate=True)
    window_end_ms = (w + 1) * settings.CHAT_POST_RATE_WINDOW_SECONDS * 1000
    metrics.post_rate_limited()
    return Claim(planned_sk="", retry_after=max(1, -(-(window_end_ms - now_ms) // 1000)))
