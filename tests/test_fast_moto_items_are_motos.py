"""The unit tier's faster moto items (tests/support/fast_moto.py speed_up_items) are moto's: the
same attributes, the same size limit refusing at the same attribute, the same comparisons."""

from __future__ import annotations

import pytest
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

from tests.support.fast_moto import ORIGINALS


def _moto_item(attrs):
    item = Item.__new__(Item)
    ORIGINALS[(Item, "__init__")](item, DynamoType({"S": "h"}), None, attrs)
    return item


def test_the_speed_ups_are_in_force():
    assert Item.__init__ is not ORIGINALS[(Item, "__init__")]
    assert DynamoType.__lt__ is not ORIGINALS[(DynamoType, "__lt__")]
    assert DynamoType.size is not ORIGINALS[(DynamoType, "size")]


@pytest.mark.parametrize("attrs", [
    {},
    {"PK": {"S": "h"}, "n": {"N": "-1.5"}, "b": {"B": b"\x00"}, "ss": {"SS": ["a", "b"]},
     "m": {"M": {"l": {"L": [{"S": "x"}, {"NULL": True}, {"BOOL": False}]}}}},
    {f"a{i}": {"S": "x" * 40_000} for i in range(10)},  # just under the limit
    {"ü": {"S": "é" * 202_499}},  # multi-byte: sizes are in UTF-8 bytes
])
def test_an_item_is_built_as_moto_builds_it(attrs):
    ours, theirs = Item(DynamoType({"S": "h"}), None, attrs), _moto_item(attrs)
    assert ours == theirs and ours.size() == theirs.size() and type(ours.attrs) is LimitedSizeDict
    assert list(ours.attrs) == list(theirs.attrs)


@pytest.mark.parametrize("attrs", [
    {f"a{i}": {"S": "x" * 40_000} for i in range(11)},
    {"small": {"S": "x"}, "big": {"B": b"y" * 405_000}, "never": {"S": "z"}},
    {"ü": {"S": "é" * 202_500}},
])
def test_an_item_over_the_limit_is_refused_as_moto_refuses_it(attrs):
    with pytest.raises(ItemSizeTooLarge):
        _moto_item(attrs)
    with pytest.raises(ItemSizeTooLarge):
        Item(DynamoType({"S": "h"}), None, attrs)


VALUES = [{"S": "a"}, {"S": "b"}, {"S": ""}, {"S": "é"}, {"B": b"a"}, {"B": b"b"}, {"N": "2"},
          {"N": "10"}, {"NULL": True}, {"BOOL": True}, {"SS": ["a"]}, {"L": [{"S": "a"}]}]


def _outcome(function, a, b):
    try:
        return function(a, b)
    except TypeError:
        return TypeError


def test_comparisons_answer_as_moto_does_for_every_pair_of_types():
    for left in VALUES:
        for right in VALUES:
            a, b = DynamoType(left), DynamoType(right)
            for name, ours in (("__eq__", DynamoType.__eq__), ("__lt__", DynamoType.__lt__)):
                assert _outcome(ours, a, b) == _outcome(ORIGINALS[(DynamoType, name)], a, b), (name, left, right)
    assert sorted(DynamoType({"S": s}) for s in ["b", "é", "a"])[0] == DynamoType({"S": "a"})


SIZED = [{"S": ""}, {"S": "abc"}, {"S": "é😀"}, {"SS": []}, {"SS": ["a", "é", "😀 x", ""]},
         {"SS": ["k" * 40] * 300}, {"NS": ["1", "-2.50", "1e10"]}, {"NS": []}, {"N": "12.5"},
         {"B": b"\x00\xff"}, {"BS": [b"a", b"bc"]}, {"BOOL": True}, {"NULL": True},
         {"L": [{"S": "é"}, {"SS": ["a", "bb"]}, {"NS": ["3"]}]}, {"M": {"ü": {"SS": ["x"]}, "n": {"N": "1"}}},
         {"SS": ["a", True]}, {"NS": [1, "2"]}, {"S": b"bytes"}]  # odd members: moto's own path


@pytest.mark.parametrize("value", SIZED, ids=lambda value: str(value)[:30])
def test_sizes_are_motos(value):
    assert DynamoType(value).size() == ORIGINALS[(DynamoType, "size")](DynamoType(value))
