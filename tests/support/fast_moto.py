"""moto's UpdateItem validation, the same checks done with less CPU, and no request signing for
the requests moto answers (unit tests only; the conftest applies both for the whole session).

Profiling the unit tier found moto's UpdateItem its most expensive DynamoDB call (5,600 calls, 30 s
of the tier's 178 s of in-process CPU; the post guard's ADD/SET/REMOVE expression most of all),
most of it in ``UpdateExpressionValidator``:

- ``Validator.__init__`` deep-copies the parsed expression with ``copy.deepcopy`` (the generic
  ``__reduce_ex__`` path for every node): ``copy_expression`` copies the same tree node by node
  (same classes, same attributes, shared references kept shared) and hands anything else to
  ``copy.deepcopy`` with the same memo.
- Ten processors each walk the whole tree; at every node the walk asks ``isinstance`` against
  abstract base classes (slow ``ABCMeta`` checks) and calls a no-op hook per child.
  ``traverse`` does the same walk, in the same order, with those answers looked up per node class.
- The first three processors (action counts, overlapping paths, key attributes) only read the
  tree, the expression's attribute names and the table's key attributes, and either raise or
  change nothing; moto runs them on every node that is an ``UpdateExpression`` (every clause is
  one), so they cost time quadratic in the expression. ``validate`` remembers which
  (expression, names, key attributes) passed them and skips them for a repeat; anything that
  failed is checked again (and fails again) every time.

The validators' other processors, the executor, conditions and every answer are moto's own.
SigV4 signing was ~5% of the profiled CPU. Measured: an UpdateItem ~5.4 -> ~3.8 ms of CPU on
average over the tier; posting a message (3 calls) ~10.9 -> ~6.8 ms.
tests/test_fast_moto_is_moto.py checks these against moto's originals.
"""

from __future__ import annotations

import copy
import re

ORIGINALS: dict[tuple[type, str], object] = {}  # what each speed-up replaced (its test compares them)

_ATOMIC = frozenset({str, int, float, bool, bytes, type(None)})


def _plain_node_classes():
    """Node classes that copy.deepcopy copies as "new object, deep-copied __dict__"."""
    from moto.dynamodb.parsing import ast_nodes

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    plain = set()
    for cls in {ast_nodes.Node, *subclasses(ast_nodes.Node)}:
        custom = any(name in vars(klass) for klass in cls.__mro__[:-1]
                     for name in ("__deepcopy__", "__reduce_ex__", "__reduce__", "__getstate__",
                                  "__setstate__", "__slots__", "__copy__"))
        if not custom and cls.__new__ is object.__new__:
            plain.add(cls)
    return frozenset(plain)


def make_copy_expression():
    plain_nodes = _plain_node_classes()

    def copy_value(value, memo):
        kind = type(value)
        if kind in _ATOMIC:
            return value
        found = memo.get(id(value))
        if found is not None:
            return found
        if kind is list:
            result = []
            memo[id(value)] = result
            for item in value:
                result.append(copy_value(item, memo))
            return result
        if kind in plain_nodes:
            result = object.__new__(kind)
            memo[id(value)] = result
            state = value.__dict__
            if state:
                result.__dict__.update({key: copy_value(item, memo) for key, item in state.items()})
            return result
        return copy.deepcopy(value, memo)

    def copy_expression(expression):
        return copy_value(expression, {})

    return copy_expression


def speed_up_update_validation(monkeypatch) -> None:
    from moto.dynamodb.parsing import ast_nodes, validators

    copy_expression = make_copy_expression()
    traverser = ast_nodes.DepthFirstTraverser
    original_validate = validators.Validator.validate

    def validator_init(self, expression, expression_attribute_names, expression_attribute_values, item, table):
        self.expression_attribute_names = expression_attribute_names
        self.expression_attribute_values = expression_attribute_values
        self.item = item
        self.table = table
        self.processors = self.get_ast_processors()
        self.node_to_validate = copy_expression(expression)
        self._source_expression = expression

    is_node: dict[type, bool] = {}
    to_process: dict[tuple[type, type], bool] = {}
    base_pre_processing = traverser.pre_processing_of_child
    base_process = traverser.process
    base_recursion = traverser.traverse_node_recursively

    def traverse(self, node):
        kind = type(self)
        if kind.process is not base_process or kind.traverse_node_recursively is not base_recursion:
            return self.traverse_node_recursively(node)
        pre = None if kind.pre_processing_of_child is base_pre_processing else self.pre_processing_of_child
        wanted = self.nodes_to_be_processed()
        process = self.process
        node_class = ast_nodes.Node

        def walk(node, child_id):
            node_kind = type(node)
            a_node = is_node.get(node_kind)
            if a_node is None:
                a_node = is_node[node_kind] = isinstance(node, node_class)
            if a_node:
                parent_node = node.parent
                if node.children is not None:
                    for i, child_node in enumerate(node.children):
                        if pre is not None:
                            pre(node, i)
                        walk(child_node, i)
                key = (kind, node_kind)
                wanted_here = to_process.get(key)
                if wanted_here is None:
                    wanted_here = to_process[key] = isinstance(node, wanted)
                if wanted_here:
                    node = process(node)
                    node.parent = parent_node
                    if parent_node:
                        parent_node.children[child_id] = node
            return node

        return walk(node, -1)

    read_only = (validators.ActionCountValidator, validators.OverlappingPathsValidator,
                 validators.UpdateHashRangeKeyValidator)
    passed: dict[int, tuple[object, set]] = {}

    def validate(self):
        source = getattr(self, "_source_expression", None)
        processors = self.processors
        if (type(self) is not validators.UpdateExpressionValidator or source is None
                or tuple(type(p) for p in processors[:3]) != read_only):
            return original_validate(self)
        names = self.expression_attribute_names or {}
        try:
            key = (tuple(sorted(names.items())), tuple(self.table.table_key_attrs))
            hash(key)
        except TypeError:
            return original_validate(self)
        kept = passed.get(id(source))
        if kept is None or kept[0] is not source:
            if len(passed) > 10_000:  # parsed trees not shared (no parse memo): keep memory bounded
                passed.clear()
            kept = passed[id(source)] = (source, set())  # holds the tree, so its id isn't reused
        n = self.node_to_validate
        if key not in kept[1]:
            for processor in processors[:3]:
                n = processor.traverse(n)
            kept[1].add(key)
        for processor in processors[3:]:
            n = processor.traverse(n)
        return n

    for owner, name, replacement in ((validators.Validator, "__init__", validator_init),
                                     (traverser, "traverse", traverse),
                                     (validators.Validator, "validate", validate)):
        ORIGINALS.setdefault((owner, name), vars(owner)[name])
        monkeypatch.setattr(owner, name, replacement)


_AWS_DYNAMODB = re.compile(r"https://dynamodb\.[a-z0-9-]+\.amazonaws\.com(/|$)")


def skip_signing_for_moto(monkeypatch) -> None:
    """moto reads no signature (its DynamoDB checks no IAM), so a request it will answer goes
    unsigned: botocore's own "auth_type none" path, the one it takes for operations that are never
    signed. Only while moto's mock is on and only for AWS's DynamoDB URL (what moto intercepts);
    dynalite and anything else are signed as before. moto names the account from the access key,
    and an unknown key and no key both give its default account, so every answer is the same."""
    from botocore.signers import RequestSigner
    from moto.core.models import botocore_stubber

    original = RequestSigner.sign

    def sign(self, operation_name, request, *args, **kwargs):
        if (botocore_stubber.enabled and self._service_id.hyphenize() == "dynamodb"
                and _AWS_DYNAMODB.match(request.url or "")):
            request.context["auth_type"] = "none"
        return original(self, operation_name, request, *args, **kwargs)

    ORIGINALS.setdefault((RequestSigner, "sign"), original)
    monkeypatch.setattr(RequestSigner, "sign", sign)


def speed_up_items(monkeypatch) -> None:
    """Two of moto's item costs, the same answers with less CPU:

    - ``Item.__init__`` fills a ``LimitedSizeDict`` whose every insert re-measures all the
      attributes already in it (time quadratic in an item's attributes: ~4% of the tier's CPU, most
      of it seeding). Here each new attribute is measured once and added to a running total, with
      the same 405,000-byte limit checked after each, in the same order, so the same item is built
      and the same ``ItemSizeTooLarge`` raised; later inserts (updates) still go through moto's.
    - ``DynamoType`` compares two strings (or two binaries) through ``cast_value``, which walks
      its type checks on every comparison of a Query's sort: for those two types ``cast_value``
      is the value itself, so it is compared directly. Other types take moto's path.
    - ``DynamoType.size`` of a string set builds a ``DynamoType`` for each member to measure it,
      and every attribute an update sets re-measures the whole item (``LimitedSizeDict``): the
      post guard's item holds a user's recent idempotency keys in two sets, so a test posting
      hundreds of messages measured thousands of members per post. A string (or a string or
      number set of strings) is measured directly, as moto measures it: UTF-8 bytes, and a
      number's characters; any other value takes moto's path."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    DynamoType, Item, LimitedSizeDict = dynamo_type.DynamoType, dynamo_type.Item, dynamo_type.LimitedSizeDict
    original_eq, original_lt = DynamoType.__eq__, DynamoType.__lt__
    plain = frozenset({"S", "B"})

    def item_init(self, hash_key, range_key, attrs):
        self.hash_key = hash_key
        self.range_key = range_key
        self.attrs = LimitedSizeDict()
        if type(self.attrs) is not LimitedSizeDict or LimitedSizeDict.__setitem__ is not ORIGINALS[(LimitedSizeDict, "__setitem__")]:
            for key, value in attrs.items():  # someone changed the dict: moto's own way
                self.attrs[key] = DynamoType(value)
            return
        total = 0
        for key, value in attrs.items():
            value = DynamoType(value)
            total += bytesize(key) + value.size()
            if total > 405000:
                raise ItemSizeTooLarge
            dict.__setitem__(self.attrs, key, value)

    def eq(self, other):
        if type(other) is DynamoType and type(self) is DynamoType and self.type in plain:
            return self.type == other.type and self.value == other.value
        return original_eq(self, other)

    original_size = DynamoType.size
    string, string_set, number_set = dynamo_type.DDBType.STRING, dynamo_type.DDBType.STRING_SET, dynamo_type.DDBType.NUMBER_SET

    def size(self):
        if type(self) is DynamoType:
            kind, value = self.type, self.value
            if kind == string and type(value) is str:
                return len(value.encode("utf-8"))
            if kind == string_set and type(value) is list and all(type(v) is str for v in value):
                return sum(len(v.encode("utf-8")) for v in value)
            if kind == number_set and type(value) is list and all(type(v) is str for v in value):
                return sum(len(v) for v in value)
        return original_size(self)

    def lt(self, other):
        if type(other) is DynamoType and type(self) is DynamoType and self.type in plain and other.type == self.type:
            return self.value < other.value
        return original_lt(self, other)

    ORIGINALS.setdefault((LimitedSizeDict, "__setitem__"), vars(LimitedSizeDict)["__setitem__"])
    for owner, name, replacement in ((Item, "__init__", item_init), (DynamoType, "__eq__", eq),
                                     (DynamoType, "__lt__", lt), (DynamoType, "size", size)):
        ORIGINALS.setdefault((owner, name), vars(owner)[name])
        monkeypatch.setattr(owner, name, replacement)


def speed_up_all(monkeypatch) -> None:
    speed_up_update_validation(monkeypatch)
    skip_signing_for_moto(monkeypatch)
    speed_up_items(monkeypatch)
