"""Static files storage for production: whitenoise's compressed, hashed-name storage, with the
imports between our ES modules (static/js/chat/) rewritten to the hashed names as well."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage as WhitenoiseStorage

# `import { a, b } from "./x.js";`, the one form static/js/chat uses.
_MODULE_IMPORT = (r"""(?P<matched>import(?P<names>\s*\{[^}]*\}\s*)from\s*"(?P<url>\./[^"]+)"\s*;)""",
                  """import%(names)sfrom "%(url)s";""")


class CompressedManifestStaticFilesStorage(WhitenoiseStorage):
    # Unrewritten, main.js would ask for "./merge.js", which a hashed-names deployment may serve
    # stale from a year-long cache. Django's support_js_module_import_aggregation does this for
    # every .js, and fails collectstatic on the htmx extensions django-htmx ships (their imports
    # name files that are not there): so only our modules.
    patterns = WhitenoiseStorage.patterns + (("js/chat/*.js", (_MODULE_IMPORT,)),)
