"""Work the unit tier repeated in every test though its answer never changes within a process.

A server process builds its middleware, botocore session and client once; the tests rebuild them
for every test (each ``django.test.Client`` loads the middleware again, each ``moto_tables`` test
gets a fresh client). Profiling the unit tier (cProfile, one process) found these repeats:

- WhiteNoise builds a ``StaticFile`` (headers, stats of its .gz/.br alternatives) for each of the
  ~540 collected static files whenever its middleware is made: ~10% of the tier's CPU.
  ``share_static_files`` reuses one made for the same file (same path, URL, stats, headers
  settings), so a changed or new file still gets a fresh one. ``share_static_scans`` reuses the
  whole map a scan of a root builds while every file in it has the same stats (~3% more).
- PynamoDB makes a new botocore session per connection (~4%): ``share_botocore_sessions``
  gives each thread one, as boto3's default session does for all its clients.
- botocore works out each event's alias name per emitter (~3%, most of it while registering a
  new client's handlers): ``share_event_alias_names`` remembers them for the default aliases.
- moto's response serializer works out, for every member of every AttributeValue it returns,
  which keys to look for (~6%): ``share_moto_response_keys`` remembers them per (key, shape)
  for plain dicts, the only results DynamoDB's handlers return. moto lists its handler's
  methods with ``inspect.getmembers`` on every request: ``share_moto_method_names``. Its
  UpdateItem validators rebuild the tuple of node types they handle at every node of every
  expression (a fixed class-level map): ``share_moto_update_node_types``; and it parses every
  UpdateExpression twice per call: ``share_moto_update_expressions``.

Every one of these is a pure function of what its cache is keyed on; what each request sends and
answers is unchanged (the suite's call budgets and response checks run on top of them).
"""

from __future__ import annotations

import functools
import os
import threading


def share_static_files(monkeypatch) -> None:
    from django.conf import settings
    from whitenoise.base import WhiteNoise

    original = WhiteNoise.get_static_file
    made: dict = {}

    def stats(path, stat_cache):
        def one(p):  # as StaticFile sees it: from the scan's stat_cache when there is one
            try:
                st = os.stat(p) if stat_cache is None else stat_cache.get(p)
            except OSError:
                return None
            return None if st is None else (st.st_mtime_ns, st.st_size)

        return tuple(one(p) for p in (path, path + ".gz", path + ".br"))

    def get_static_file(self, path, url, stat_cache=None):
        key = (type(self), path, url, stats(path, stat_cache), stat_cache is None,
               self.max_age, self.allow_all_origins, self.charset, self.add_headers_function,
               getattr(self, "static_prefix", None), repr(getattr(settings, "WHITENOISE_MIMETYPES", None)),
               repr(getattr(settings, "WHITENOISE_IMMUTABLE_FILE_TEST", None)))
        static_file = made.get(key)
        if static_file is None:
            static_file = made[key] = original(self, path, url, stat_cache=stat_cache)
        return static_file

    monkeypatch.setattr(WhiteNoise, "get_static_file", get_static_file)


def share_static_scans(monkeypatch) -> None:
    """The URL -> StaticFile map one scan of a static root builds (~730 files, each checked for a
    .gz/.br variant and looked up in the memo above), reused for the same root, prefix and settings
    while every file in it has the same stats: the tree is still scanned (one stat a file), so an
    added, removed or changed file gets a fresh map."""
    from django.conf import settings
    from whitenoise.base import WhiteNoise, scantree

    scans: dict = {}

    def update_files_dictionary(self, root, prefix):
        stat_cache = dict(scantree(root))
        key = (type(self), root, prefix, self.index_file, self.max_age, self.allow_all_origins,
               self.charset, self.add_headers_function, getattr(self, "static_prefix", None),
               repr(getattr(settings, "WHITENOISE_MIMETYPES", None)),
               repr(getattr(settings, "WHITENOISE_IMMUTABLE_FILE_TEST", None)),
               tuple((path, st.st_mtime_ns, st.st_size, st.st_ino) for path, st in stat_cache.items()))
        found = scans.get(key)
        if found is None:
            kept, self.files = self.files, {}
            try:  # whitenoise's own loop, into an empty map
                for path in stat_cache:
                    url = prefix + path[len(root):].replace("\\", "/")
                    self.add_file_to_dictionary(url, path, stat_cache=stat_cache)
                found = scans[key] = self.files
            finally:
                self.files = kept
        self.files.update(found)

    monkeypatch.setattr(WhiteNoise, "update_files_dictionary", update_files_dictionary)


def share_botocore_sessions(monkeypatch) -> None:
    import botocore.session
    import pynamodb.connection.base

    per_thread = threading.local()

    def get_session():
        session = getattr(per_thread, "session", None)
        if session is None:
            session = per_thread.session = botocore.session.get_session()
        return session

    monkeypatch.setattr(pynamodb.connection.base, "get_session", get_session)


def share_event_alias_names(monkeypatch) -> None:
    from botocore import hooks

    original = hooks.EventAliaser._alias_event_name
    names: dict[str, str] = {}

    def alias_event_name(self, event_name):
        if self._event_aliases is not hooks.EVENT_ALIASES:
            return original(self, event_name)
        name = names.get(event_name)
        if name is None:
            name = names[event_name] = original(self, event_name)
        return name

    monkeypatch.setattr(hooks.EventAliaser, "_alias_event_name", alias_event_name)


def share_moto_response_keys(monkeypatch) -> None:
    from moto.core import serialize

    picker = serialize.XFormedAttributePicker
    original = picker.get_possible_keys
    keys_for: dict = {}

    def get_possible_keys(self, context):
        shape = context.shape
        # Plain dicts only: aliases can also come from an object's own Meta or class name.
        if type(context.obj) is not dict or type(self) is not picker:
            return original(self, context)
        key = (context.key, shape, getattr(shape, "parent", None), tuple(self.alias_providers))
        keys = keys_for.get(key)
        if keys is None:
            keys = keys_for[key] = list(original(self, context))
        return keys

    serializer = serialize.ResponseSerializer
    original_get_value = serializer.get_value

    def get_value(self, value, key, shape):
        """What AttributePicker answers for a dict, once its keys are known: the first key present
        (dotted keys, response transformers and other pickers take the long way)."""
        value_picker = self._value_picker
        if type(value) is dict and type(value_picker) is picker and not value_picker.response_transformers:
            keys = keys_for.get((key, shape, getattr(shape, "parent", None), tuple(value_picker.alias_providers)))
            if keys is not None and not any("." in k for k in keys):
                for k in keys:
                    if k in value:
                        return value[k]
                return None
        return original_get_value(self, value, key, shape)

    monkeypatch.setattr(picker, "get_possible_keys", get_possible_keys)
    monkeypatch.setattr(serializer, "get_value", get_value)


def share_moto_update_node_types(monkeypatch) -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser

    original = DepthFirstTraverser.nodes_to_be_processed
    per_class: dict[type, tuple] = {}

    def nodes_to_be_processed(self):
        node_types = per_class.get(type(self))
        if node_types is None:
            node_types = per_class[type(self)] = original(self)
        return node_types

    monkeypatch.setattr(DepthFirstTraverser, "nodes_to_be_processed", nodes_to_be_processed)


def share_moto_update_expressions(monkeypatch) -> None:
    """moto parses each UpdateExpression twice per call; its trees are only read (and deep-copied
    by the validators before they change anything), so one parse per distinct string serves."""
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    original = UpdateExpressionParser.make.__func__
    parsed: dict[str, object] = {}

    def make(cls, expression_str):
        if cls is not UpdateExpressionParser or not isinstance(expression_str, str):
            return original(cls, expression_str)
        tree = parsed.get(expression_str)
        if tree is None:  # a string that does not parse raises every time, as before
            tree = parsed[expression_str] = original(cls, expression_str)
        return tree

    monkeypatch.setattr(UpdateExpressionParser, "make", classmethod(make))


def share_moto_method_names(monkeypatch) -> None:
    from moto.core import responses, utils

    monkeypatch.setattr(responses, "method_names_from_class", functools.cache(utils.method_names_from_class))


def share_all(monkeypatch) -> None:
    share_static_files(monkeypatch)
    share_static_scans(monkeypatch)
    share_botocore_sessions(monkeypatch)
    share_event_alias_names(monkeypatch)
    share_moto_response_keys(monkeypatch)
    share_moto_update_node_types(monkeypatch)
    share_moto_update_expressions(monkeypatch)
    share_moto_method_names(monkeypatch)
