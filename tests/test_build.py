"""The `make run` index: titles and summaries read from notebooks, failures visible."""

import nbformat

from coursebuild.build import index_page, title_and_summary


def test_title_and_first_sentence():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Lecture 09 — Deep models\n\nA **VAE** is a [model](x.md). "
                                              "It has two parts.\n\n## Objectives")]
    assert title_and_summary(nb) == ("Lecture 09 — Deep models", "A VAE is a model.")


def test_index_links_each_notebook_and_marks_failures():
    rows = [{"notebook": "notebooks/01-a.ipynb", "title": "One", "summary": "s1", "page": "notebooks/01-a.html",
             "seconds": 12.0, "problems": []},
            {"notebook": "solutions/hw1/hw1.ipynb", "title": "HW <1>", "summary": "s2",
             "page": "solutions/hw1/hw1.html", "seconds": 3.0, "problems": ["boom"]}]
    page = index_page(rows, [])
    assert "href='notebooks/01-a.html'" in page and "href='solutions/hw1/hw1.html'" in page
    assert "HW &lt;1&gt;" in page and "12 s" in page
    assert page.count("class=ok") == 1 and page.count("class=bad") == 1


def test_index_links_demo_pictures_feedback_and_failures():
    from coursebuild.demo import DEMO

    demos = [{"hw": "hw1", "students": ["correct-a", "mistake-b"], "problems": [],
              "pictures": [DEMO / "reports" / "hw1" / "scores.png"],
              "summary": DEMO / "reports" / "hw1" / "summary.md",
              "feedback": [DEMO / "feedback" / "correct-a" / "hw1" / "hw1.html"]},
             {"hw": "hw2", "students": ["x"], "problems": ["demo grading of hw2: `grade` failed: boom"],
              "pictures": [], "summary": DEMO / "reports" / "hw2" / "missing.md", "feedback": []}]
    page = index_page([], [], demos)
    assert "src='../demo-grading/reports/hw1/scores.png'" in page
    assert "href='../demo-grading/feedback/correct-a/hw1/hw1.html'>correct-a</a>" in page
    assert "hw1: 2 students" in page and "`grade` failed: boom" in page
    assert page.count("class=bad") == 1
