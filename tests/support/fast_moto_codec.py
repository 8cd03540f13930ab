"""moto's DynamoDB request parsing and response serialising, the same bytes with less CPU (unit
tests only; the conftest applies both for the whole session).

After the handlers themselves, the biggest cost of a DynamoDB call answered by moto is its generic
wire code: ``RequestParser`` walks the botocore input shape of every request (a ``getattr`` per
node, the member's JSON name looked up again for every member), and ``ResponseSerializer`` walks
the output shape of every answer asking an attribute picker which of up to ten aliases of each
member the result holds. Here each operation's shapes are compiled once into plain functions that
do exactly what those walks do for the JSON protocol:

- ``parse_parameters``: the body as moto's ``JSONParser`` reads it, then per shape: a structure
  keeps its modelled members that are not null (under their JSON names), blobs are base64-decoded,
  timestamps parsed, integers and floats converted, lists and maps walked; anything else is the
  JSON value itself.
- ``serialized``: for an answer (not an error) whose every structure is a plain ``dict`` and every
  list a plain ``list``, each member is taken from the first alias moto's picker would find in a
  dict (the shape's name for a list or structure, the member's name, a prefix-less name, the
  model's name, each also in snake_case), strings, numbers and blobs are converted as moto's JSON
  serializer does, and the body is ``json.dumps`` of the result, with moto's status and headers.
  Anything else (errors, other result objects, timestamps, a transformer, pretty printing) takes
  moto's own serializer.

tests/test_fast_moto_codec_is_moto.py checks both against moto's originals.
"""

from __future__ import annotations

import base64
import json

ORIGINALS: dict[tuple[type, str], object] = {}


class _NotPlain(Exception):
    """A value the compiled serializer does not handle: moto's own serializer answers instead."""


def _identity(value):
    return value


def compile_parser(shape, memo: dict):
    """What moto's JSONParser._parse_shape(shape, value) returns, as a function of value."""
    from moto.core.parse import default_blob_parser, default_timestamp_parser

    name, kind = shape.name, shape.type_name
    key = (name, kind)
    if key in memo:
        return memo[key]
    if kind == "structure" and not shape.is_document_type:
        members: list = []

        def parse_structure(value):
            if value is None:
                return None
            parsed = {}
            for member_name, json_name, parse in members:
                raw = value.get(json_name)
                if raw is not None:
                    parsed[member_name] = raw if parse is None else parse(raw)
            return parsed

        memo[key] = parse_structure
        for member_name, member_shape in shape.members.items():
            parse = compile_parser(member_shape, memo)
            members.append((member_name, member_shape.serialization.get("name", member_name),
                            None if parse is _identity else parse))
        return parse_structure
    if kind == "list":
        item: list = []

        def parse_list(node):
            parse = item[0]
            return [parse(value) for value in node]

        memo[key] = parse_list
        item.append(compile_parser(shape.member, memo))
        return parse_list
    if kind == "map":
        key_value: list = []

        def parse_map(value):
            parse_key, parse_value = key_value
            parsed = {}
            for k, v in value.items():
                actual_key = parse_key(k)
                parsed[actual_key] = parse_value(v)
            return parsed

        memo[key] = parse_map
        key_value += [compile_parser(shape.key, memo), compile_parser(shape.value, memo)]
        return parse_map
    if kind == "blob":
        fn = default_blob_parser
    elif kind == "timestamp":
        fn = default_timestamp_parser
    elif kind in ("float", "double"):
        fn = float
    elif kind in ("integer", "byte", "short", "long"):
        fn = int
    else:  # string, boolean, a document: moto's _default_handle
        fn = _identity
    memo[key] = fn
    return fn


def _body_as_json(body):
    """moto's BaseJSONParser._parse_body_as_json."""
    if not body:
        return {}
    try:
        text = body.decode("utf-8")
    except (UnicodeDecodeError, AttributeError):
        text = body
    try:
        return json.loads(text)
    except ValueError:
        return {"message": text}


def _candidates(member_key: str, member_shape, parent) -> tuple[str, ...]:
    """The keys moto's XFormedAttributePicker tries, in order, on a plain dict for this member."""
    from botocore import xform_name

    keys: list[str] = []

    def add(alias):
        keys.extend((alias, xform_name(alias)))

    # ExplicitAlias: a dict has no Meta.
    if member_shape.type_name in ("list", "structure") and member_shape.name not in parent.members \
            and member_key != member_shape.name:  # ShapeNameAlias
        add(member_shape.name)
    add(member_key)  # NoAlias
    if member_key.lower().startswith(parent.name.lower()):  # ShapePrefixAlias
        alias = member_key[len(parent.name):]
        if alias not in parent.members:
            add(alias)
    if member_key.lower().startswith("dict"):  # ClassPrefixAlias, for a dict
        add(member_key[len("dict"):])
    if member_shape.serialization.get("name", member_key) != member_key:  # ModelAlias
        add(member_shape.serialization["name"])
    return tuple(dict.fromkeys(keys))


def compile_serializer(shape, memo: dict):
    """serialize(serialized, value, key): what moto's BaseJSONSerializer._serialize does for a
    plain value, or _NotPlain."""
    from enum import Enum

    name, kind = shape.name, shape.type_name
    # A member's traits (its JSON name) are part of its shape; nested shapes are new objects at
    # every level of an AttributeValue, so they are known by name, type and traits.
    key = (name, kind, repr(sorted(shape.serialization.items())))
    if key in memo:
        return memo[key]
    named = "name" in shape.serialization
    serialized_name = shape.serialization.get("name")

    if kind == "structure":
        if shape.is_document_type:
            def serialize_document(serialized, value, k):
                serialized[k] = value

            memo[key] = serialize_document
            return serialize_document
        members: list = []

        def serialize_structure(serialized, value, k):
            if value is None:
                return
            if type(value) is not dict:
                raise _NotPlain
            wrapper = {} if k else serialized
            for member_key, candidates, serialize in members:
                member_value = None
                for candidate in candidates:
                    if candidate in value:
                        member_value = value[candidate]
                        break
                if member_value is not None:
                    serialize(wrapper, member_value, member_key)
            if k:
                serialized[serialized_name if named else k] = wrapper

        memo[key] = serialize_structure
        for member_key, member_shape in shape.members.items():
            candidates = _candidates(member_key, member_shape, shape)
            if any("." in candidate for candidate in candidates):
                raise _NotPlain  # moto's picker reads a dotted key as a path
            members.append((member_key, candidates, compile_serializer(member_shape, memo)))
        return serialize_structure
    if kind == "map":
        if shape.value.serialization.get("name"):
            raise _NotPlain
        value_fn: list = []

        def serialize_map(serialized, value, k):
            if type(value) is not dict:
                raise _NotPlain
            map_obj = {}
            serialized[serialized_name if named else k] = map_obj
            serialize_value = value_fn[0]
            for sub_key, sub_value in value.items():
                if type(sub_key) is not str or not sub_key:
                    raise _NotPlain  # an empty key would merge a structure into the map
                serialize_value(map_obj, sub_value, sub_key)

        memo[key] = serialize_map
        value_fn.append(compile_serializer(shape.value, memo))
        return serialize_map
    if kind == "list":
        if shape.member.serialization.get("name"):
            raise _NotPlain
        item_key = shape.member.name
        item_fn: list = []

        def serialize_list(serialized, value, k):
            if type(value) is not list:
                raise _NotPlain
            serialize_item = item_fn[0]
            list_obj = []
            for list_item in value:
                wrapper = {}
                serialize_item(wrapper, list_item, item_key)
                list_obj.append(wrapper[item_key] if item_key in wrapper else list_item)
            serialized[serialized_name if named else k] = list_obj

        memo[key] = serialize_list
        item_fn.append(compile_serializer(shape.member, memo))
        return serialize_list
    if kind == "string":
        def serialize_string(serialized, value, k):
            if isinstance(value, Enum):
                value = value.value
            serialized[serialized_name if named else k] = str(value) if value not in [None, {}, []] else value

        fn = serialize_string
    elif kind in ("integer", "long"):
        def serialize_integer(serialized, value, k):
            serialized[serialized_name if named else k] = int(value)

        fn = serialize_integer
    elif kind in ("float", "double"):
        def serialize_float(serialized, value, k):
            serialized[serialized_name if named else k] = float(value)

        fn = serialize_float
    elif kind == "blob":
        def serialize_blob(serialized, value, k):
            if isinstance(value, str):
                value = value.encode("utf-8")
            serialized[serialized_name if named else k] = base64.b64encode(value).strip().decode("utf-8")

        fn = serialize_blob
    elif kind == "timestamp":
        def serialize_timestamp(serialized, value, k):
            raise _NotPlain

        fn = serialize_timestamp
    else:  # boolean and the rest: moto's _default_serialize
        def serialize_default(serialized, value, k):
            serialized[serialized_name if named else k] = value

        fn = serialize_default
    memo[key] = fn
    return fn


def compile_codecs(monkeypatch) -> None:
    from moto import settings as moto_settings
    from moto.core import responses
    from moto.core.request import determine_request_protocol
    from moto.core.serialize import JSONSerializer, get_serializer_class
    from moto.core.utils import get_service_model
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    original_parse = DynamoHandler.parse_parameters
    original_serialized = DynamoHandler.serialized
    parsers: dict[int, tuple[object, object]] = {}
    serializers: dict[int, tuple[object, object]] = {}
    parser_memo: dict = {}
    serializer_memo: dict = {}
    plain_results = (responses.ActionResult, responses.EmptyResult, DynamoResult)

    def parse_parameters(self, request):
        service_model = get_service_model(self.boto3_service_name)
        if type(self) is not DynamoHandler or self.PROTOCOL_PARSER_MAP_TYPE is not dict \
                or service_model.service_name != "dynamodb":
            return original_parse(self, request)
        operation_model = service_model.operation_model(self._get_action())
        if determine_request_protocol(service_model, request.content_type) != "json":
            return original_parse(self, request)
        kept = parsers.get(id(operation_model))
        if kept is None or kept[0] is not operation_model:
            shape = operation_model.input_shape
            # Compiled in a copy: another thread never sees a structure whose members are half-listed.
            trial = dict(parser_memo)
            parse = None if shape is None else compile_parser(shape, trial)
            parser_memo.update(trial)
            kept = parsers[id(operation_model)] = (operation_model, parse)
        parse = kept[1]
        self.params = {} if parse is None else parse(_body_as_json(request.data))

    def serialized(self, action_result):
        from botocore.model import OperationNotFoundError

        result = action_result.result
        if (type(self) is not DynamoHandler or type(action_result) not in plain_results
                or isinstance(result, Exception) or moto_settings.PRETTIFY_RESPONSES
                or getattr(self, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None)):
            return original_serialized(self, action_result)
        service_model = get_service_model(self.boto3_service_name)
        try:
            operation_model = service_model.operation_model(self._get_action())
        except OperationNotFoundError:
            return original_serialized(self, action_result)
        protocol = self.determine_response_protocol(service_model)
        if get_serializer_class(service_model.service_name, protocol) is not JSONSerializer \
                or operation_model.has_event_stream_output or operation_model.output_shape is None \
                or service_model.protocol != "json":
            return original_serialized(self, action_result)
        kept = serializers.get(id(operation_model))
        if kept is None or kept[0] is not operation_model:
            trial = dict(serializer_memo)  # nothing half-made is shared: not with a thread, nor after a failure
            try:
                serialize = compile_serializer(operation_model.output_shape, trial)
                serializer_memo.update(trial)
            except _NotPlain:
                serialize = None
            kept = serializers[id(operation_model)] = (operation_model, serialize)
        if kept[1] is None:
            return original_serialized(self, action_result)
        body: dict = {}
        try:
            kept[1](body, result, "")
        except _NotPlain:
            return original_serialized(self, action_result)
        json_version = service_model.metadata.get("jsonVersion", "1.0")
        headers = {"Content-Type": f"application/x-amz-json-{json_version}"}
        headers.update(self.response_headers)
        return operation_model.http.get("responseCode", 200), headers, json.dumps(body)

    for name, replacement in (("parse_parameters", parse_parameters), ("serialized", serialized)):
        ORIGINALS.setdefault((DynamoHandler, name), getattr(DynamoHandler, name))
        monkeypatch.setattr(DynamoHandler, name, replacement)


def speed_up_all(monkeypatch) -> None:
    compile_codecs(monkeypatch)
