"""OutputBudget (autograder/outputs.py): every output counts, oversized ones are cut, head kept."""

from __future__ import annotations

import json

import nbformat

from autograder.outputs import OutputBudget, content_cost, cut, head, text_cost


def stream(text):
    return {"name": "stdout", "text": text}


def test_small_outputs_pass_unchanged_and_are_counted():
    b = OutputBudget(cell_bytes=100, total_bytes=1000)
    c = stream("hello\n")
    assert b.admit(c, cell=0) is c
    assert b.used[0] == b.used_total == content_cost(c) > len("hello")
    assert b.truncated == set()


def test_oversized_message_is_cut_keeping_its_head():
    b = OutputBudget(cell_bytes=1000, total_bytes=10_000)
    text = "".join(f"line {i:05d}\n" for i in range(10_000))
    kept = b.admit(stream(text), cell=3)
    assert kept is not None and kept["text"].startswith("line 00000\nline 00001\n")
    assert "[output truncated by the grader:" in kept["text"]
    dropped = int(kept["text"].rsplit(":", 1)[1].split()[0])
    assert dropped > 0.9 * content_cost(stream(text))
    assert content_cost(kept) <= 1000
    assert b.truncated == {3}
    # the cell is full: later outputs are dropped, the marker is not repeated
    assert b.admit(stream("more\n"), cell=3) is None


def test_many_small_messages_stop_at_the_cell_cap_with_one_marker():
    b = OutputBudget(cell_bytes=2_000, total_bytes=100_000)
    kept = [b.admit(stream("x" * 50 + "\n"), cell=0) for _ in range(1_000)]
    kept = [k for k in kept if k is not None]
    assert sum(content_cost(k) for k in kept) <= 2_000 + 100
    assert sum("output truncated" in k["text"] for k in kept) == 1


def test_notebook_cap_holds_across_cells():
    b = OutputBudget(cell_bytes=1_000, total_bytes=3_000)
    for cell in range(20):
        for _ in range(50):
            b.admit(stream("y" * 99 + "\n"), cell=cell)
    assert b.used_total <= 3_000 + 20 * 100   # plus at most one marker per cell
    assert len(b.truncated) == 20


def test_display_data_keeps_cut_text_and_drops_images():
    b = OutputBudget(cell_bytes=500, total_bytes=10_000)
    content = {"data": {"text/plain": "p" * 5_000, "image/png": "A" * 50_000}, "metadata": {}}
    kept = b.admit(content, cell=0)
    assert set(kept["data"]) == {"text/plain"}
    assert kept["data"]["text/plain"].startswith("ppp") and "truncated" in kept["data"]["text/plain"]
    assert content_cost(kept) <= 500


def test_traceback_keeps_its_first_lines():
    b = OutputBudget(cell_bytes=300, total_bytes=10_000)
    content = {"ename": "ValueError", "evalue": "bad", "traceback": [f"frame {i}" * 10 for i in range(100)]}
    kept = b.admit(content, cell=0)
    assert kept["ename"] == "ValueError" and kept["traceback"][0] == content["traceback"][0]
    assert "truncated" in kept["traceback"][-1] and content_cost(kept) <= 300


def test_cost_is_what_the_saved_notebook_spends():
    # control characters are escaped (6 bytes each); lines cost extra when nbformat splits them
    nasty = "\x01" * 1_000 + "\n" * 1_000
    out = nbformat.v4.new_output("stream", name="stdout", text=nasty)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=[out])])
    empty = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="")])])
    saved = len(nbformat.writes(nb).encode()) - len(nbformat.writes(empty).encode())
    assert saved <= text_cost(nasty) <= 2 * saved


def test_head_never_exceeds_the_room():
    s = "é\n\x02" * 1_000
    for room in (0, 1, 7, 100, 999):
        assert text_cost(head(s, room)) <= room
    assert head("abc", 100) == "abc"


def test_cut_of_non_text_data_keeps_only_the_marker():
    kept = cut({"data": {"application/json": {"a": list(range(1000))}}, "metadata": {}}, 50, "[cut]")
    assert kept["data"] == {"text/plain": "[cut]"}
    json.dumps(kept)


def _msg(msg_type, content):
    return {"msg_type": msg_type, "header": {"msg_type": msg_type}, "parent_header": {"msg_id": "p"},
            "content": content, "metadata": {}}


def test_display_updates_are_charged_in_the_grading_client():
    """An update rewrites every earlier output with its display id: each rewrite counts."""
    from autograder.execute import GradingClient
    from autograder.sandbox import Limits

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
    client = GradingClient(nb, km=None, limits=Limits(output_cell_bytes=50_000, output_total_bytes=80_000))
    client.reset_execution_trackers()
    client.clear_before_next_output = False
    small = {"data": {"text/plain": "'small'"}, "metadata": {}, "transient": {"display_id": "d"}}
    for _ in range(100):
        client.process_message(_msg("display_data", small), nb.cells[0], 0)
    assert len(nb.cells[0].outputs) == 100
    big = {"data": {"text/plain": "U" * 100_000}, "metadata": {}, "transient": {"display_id": "d"}}
    for _ in range(5):
        client.process_message(_msg("update_display_data", big), nb.cells[0], 0)
    size = len(nbformat.writes(nb).encode()) - len(nbformat.writes(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x")])).encode())
    assert size < 50_000 + 20_000, size          # not 100 x 100 kB
    assert client.truncated == {0}
    assert any("output truncated by the grader" in o["data"]["text/plain"] for o in nb.cells[0].outputs)
