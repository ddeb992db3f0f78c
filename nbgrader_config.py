"""nbgrader configuration: maps nbgrader's steps onto this repository's layout.

  solutions/HW/      nbgrader *source* (master notebooks with solutions and hidden tests)
  assignments/HW/    nbgrader *release* (student versions, generated, committed)
  build/grading/     the grading workspace (git-ignored): submitted/, autograded/, feedback/,
                     results/, reports/ and gradebook.db

The grading harness (python -m autograder ...) sets the same values itself, with --course pointing
at any directory laid out like this one; this file is what plain `nbgrader` commands (for example
`nbgrader formgrader` for manual grading) read when run from the repository root.
"""

c = get_config()  # noqa: F821

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = "build/grading/submitted"
c.CourseDirectory.autograded_directory = "build/grading/autograded"
c.CourseDirectory.feedback_directory = "build/grading/feedback"
c.CourseDirectory.db_url = "sqlite:///build/grading/gradebook.db"
c.Exchange.root = "build/grading/exchange"

# Per-cell timeout for plain `nbgrader autograde` (the FAQ's ExecutePreprocessor.timeout has no
# effect in nbgrader 0.9). The harness uses its own --timeout.
c.Execute.timeout = 60
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
