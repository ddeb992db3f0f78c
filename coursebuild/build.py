"""`make run` (``python -m coursebuild.build``): execute every notebook in full mode, render HTML, and write build/site/index.html.

The site links each lecture and assignment master (title, one-line summary, runtime, status) and
any grading reports under build/grading/reports/. Full-mode expectations are checked too; the site
is built even when a notebook fails, and the exit status says whether everything passed.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from tqdm import tqdm

from .catalog import REPO, discover
from .check import run_and_check
from .demo import DEMO, demo_batches
from .expectations import load_expectations
from .timings import timings_table, write_timings

SITE = REPO / "build" / "site"


def title_and_summary(nb) -> tuple[str, str]:
    """The first Markdown heading, and the first sentence of the paragraph after it."""
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    heading = re.search(r"^#\s+(.+)$", text, re.M)
    title = heading.group(1).strip() if heading else "Untitled"
    body = text[heading.end():] if heading else text
    paragraph = next((p for p in re.split(r"\n\s*\n", body)
                      if p.strip() and not p.lstrip().startswith(("#", "|", "-", "*", ">", "$"))), "")
    plain = re.sub(r"[*_`]|\[([^\]]*)\]\([^)]*\)", r"\1", " ".join(paragraph.split()))
    sentence = re.match(r"(.+?[.!?])(\s|$)", plain)
    return title, (sentence.group(1) if sentence else plain)[:240]


def render(executed: Path, target: Path) -> None:
    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:  # glued values are data for CI, not something a reader can display
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not any(k.startswith("application/scrapbook") for k in o.get("data", {}))]
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body)


def run_one(notebook: str, expectations: dict) -> dict:
    checked = run_and_check(notebook, "full", expectations)
    result, problems = checked.result, checked.problems
    source = nbformat.read(REPO / notebook, as_version=4)
    title, summary = title_and_summary(source)
    page = Path(notebook).with_suffix(".html")
    if result.output.exists():
        render(result.output, SITE / page)
    return {"notebook": notebook, "title": title, "summary": summary, "page": page.as_posix(),
            "seconds": result.seconds, "problems": problems, "timing": result.timing_record()}


def demo_section(demos: list[dict]) -> str:
    if not demos:
        return ""

    def link(path: Path, text: str) -> str:
        return f"<a href='{html.escape(Path('..').joinpath(path.relative_to(SITE.parent)).as_posix())}'>{html.escape(text)}</a>"

    parts = ["<h2>Grading demo (each assignment's variant suite graded as a class)</h2>"]
    for d in demos:
        status = ("<span class=ok>graded</span>" if not d["problems"]
                  else "<span class=bad>" + html.escape("; ".join(d["problems"])) + "</span>")
        pictures = " ".join(f"<a href='{html.escape(Path('..').joinpath(p.relative_to(SITE.parent)).as_posix())}'>"
                            f"<img src='{html.escape(Path('..').joinpath(p.relative_to(SITE.parent)).as_posix())}' "
                            f"alt='{html.escape(p.stem)}' style='max-width:45%'></a>" for p in d["pictures"])
        pages = ", ".join(link(p, p.parent.parent.name) for p in d["feedback"])
        summary = link(d["summary"], "summary") if d["summary"].is_file() else ""
        parts.append(f"<h3>{html.escape(d['hw'])}: {len(d['students'])} students, {status} {summary}</h3>"
                     f"<p>{pictures}</p><p>Feedback pages: {pages or 'none'}</p>")
    return "".join(parts)


def index_page(rows: list[dict], reports: list[Path], demos: list[dict] | None = None) -> str:
    def section(heading: str, items: list[dict]) -> str:
        if not items:
            return ""
        lines = []
        for r in items:
            status = ("<span class=ok>passed</span>" if not r["problems"]
                      else "<span class=bad>failed</span>")
            lines.append(f"<tr><td><a href='{html.escape(r['page'])}'>{html.escape(r['title'])}</a>"
                         f"<div class=summary>{html.escape(r['summary'])}</div></td>"
                         f"<td>{r['seconds']:.0f} s</td><td>{status}</td></tr>")
        return (f"<h2>{heading}</h2><table><tr><th>notebook</th><th>runtime</th><th>checks</th></tr>"
                + "".join(lines) + "</table>")

    lectures = [r for r in rows if r["notebook"].startswith("notebooks/")]
    masters = [r for r in rows if r["notebook"].startswith("solutions/")]
    report_links = "".join(f"<li><a href='{html.escape(p.as_posix())}'>{html.escape(p.parent.name)}</a></li>"
                           for p in reports)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Causal ML course</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.5rem;text-align:left;
vertical-align:top}}.summary{{color:#555;font-size:.9rem}}.ok{{color:#2a7}}.bad{{color:#c33;font-weight:bold}}</style>
</head><body><h1>Causal machine learning: executed notebooks</h1>
<p>Built {time.strftime('%Y-%m-%d %H:%M')} in full mode. See <code>syllabus.md</code> for the course plan.</p>
{section("Lectures", lectures)}{section("Assignment solutions (instructors)", masters)}
{"<h2>Grading reports</h2><ul>" + report_links + "</ul>" if report_links else ""}
{demo_section(demos or [])}
</body></html>
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    expectations = load_expectations()
    notebooks = discover()
    rows = []
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(run_one, nb, expectations) for nb in notebooks]
        for future in tqdm(as_completed(futures), total=len(futures), desc="notebooks (full mode)", unit="nb"):
            rows.append(future.result())
    rows.sort(key=lambda r: r["notebook"])
    print("grading each assignment's variant suite as a demo class ...")
    demos = demo_batches(args.workers)
    reports = sorted(p.relative_to(SITE.parent) for p in (REPO / "build" / "grading" / "reports").glob("*/summary.md"))
    reports = [Path("..") / p for p in reports]
    SITE.mkdir(parents=True, exist_ok=True)
    (SITE / "index.html").write_text(index_page(rows, reports, demos))
    write_timings([r["timing"] for r in rows], REPO / "build" / "timings.json")

    print("\n" + timings_table([r["timing"] for r in rows]) + "\n")
    failed = [r for r in rows if r["problems"]] + [d for d in demos if d["problems"]]
    for r in failed:
        print("FAILED " + "\n       ".join(r["problems"]))
    print(f"Site:      {SITE / 'index.html'}")
    print(f"Notebooks: {REPO / 'build' / 'executed' / 'full'}")
    print(f"Timings:   {REPO / 'build' / 'timings.json'}")
    print(f"Demo grading workspace: {DEMO}")
    print(f"{len(rows) + len(demos) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
