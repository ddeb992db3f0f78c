"""Sandboxed, parallel, crash-proof autograding on top of nbgrader (python -m autograder)."""
