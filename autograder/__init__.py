"""Sandboxed, parallel, crash-proof autograding on top of nbgrader (python -m autograder)."""

import sys as _sys

# jsonschema (imported by nbformat) optionally imports rfc3987_syntax, which compiles ~40 lark
# grammars at import time: ~4 s per process on this stack, for an IRI format check nbformat never
# uses. Every grading worker and CLI call would pay it; blocking the optional import makes
# jsonschema skip that one format checker (it already guards the import with ImportError).
if "rfc3987_syntax" not in _sys.modules:
    _sys.modules["rfc3987_syntax"] = None
