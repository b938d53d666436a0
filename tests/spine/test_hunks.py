"""Cutting a diff into hunks, and saying where a hunk's context differs."""

from __future__ import annotations

from reviewbot.pipeline.hunks import first_difference, split_diff

DIFF = """diff --git a/mm/a.c b/mm/a.c
index 1111111..2222222 100644
--- a/mm/a.c
+++ b/mm/a.c
@@ -1,3 +1,3 @@ int a(void)
 int a(void)
-{ return 1; }
+{ return 2; }
 /* a */
@@ -10,2 +10,3 @@ int b(void)
 int b(void)
+/* b */
 {
diff --git a/mm/new.c b/mm/new.c
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/mm/new.c
@@ -0,0 +1 @@
+int c;
"""


def test_split_diff_gives_files_and_hunks() -> None:
    a, new = split_diff(DIFF)
    assert (a.old_path, a.new_path, a.whole, len(a.hunks)) == ("mm/a.c", "mm/a.c", False, 2)
    assert a.hunk_header(1) == "@@ -10,2 +10,3 @@ int b(void)"
    assert a.hunk_patch(0).startswith("diff --git a/mm/a.c b/mm/a.c\nindex ")
    assert a.hunk_patch(0).endswith("+{ return 2; }\n /* a */\n")
    assert (new.old_path, new.new_path, new.whole) == (None, "mm/new.c", True)


def test_first_difference_names_the_line() -> None:
    lines = [f"line {n}" for n in range(1, 101)]
    lines[49] = "line fifty"
    want = ["line 49", "line 50", "line 51"]
    assert first_difference(lines, want, 49) == (50, "line 50", "line fifty")
    assert first_difference(lines, ["nowhere", "at all"], 10)[0] == 0


def test_first_difference_on_a_large_file_and_hunk() -> None:
    # 60,000 lines of "}" and "return 0;" above: votes, not a scan of each position
    lines = ["}", "\treturn 0;", ""] * 20_000 + [f"int x{n};" for n in range(20_000)]
    want = [f"int x{n};" for n in range(5_000, 7_000)]
    want[1000] = "int changed;"
    line, expected, have = first_difference(lines, want, 1)
    assert (line, expected, have) == (60_000 + 6_000 + 1, "int changed;", "int x6000;")


def test_a_hunk_header_of_5000_digits_is_no_hunk() -> None:
    # int() refused it: a traceback out of split_diff (b4-check, check, the worker)
    huge = "9" * 5000
    diff = DIFF.replace("@@ -10,2 +10,3 @@", f"@@ -10,{huge} +10,3 @@")
    a, _new = split_diff(diff)
    assert len(a.hunks) == 1 and a.hunks[0].startswith("@@ -1,3 +1,3 @@")
    from reviewbot.storage import diffs

    assert [h.header.split(" @@")[0] for h in diffs.hunks(diff)] == ["@@ -1,3 +1,3", "@@ -0,0 +1"]


def test_a_hunk_that_promises_more_lines_than_it_has_ends_with_its_file() -> None:
    # a hand-edited hunk whose counts lie, then the next file: "--- a/..." was
    # read as a line of a hunk of the new section, which had none (IndexError)
    diff = (
        "diff --git a/mm/a.c b/mm/a.c\n--- a/mm/a.c\n+++ b/mm/a.c\n@@ -1,5 +1,5 @@\n-a\n+b\n"
        "diff --git a/mm/b.c b/mm/b.c\nindex 1111111..2222222 100644\n"
        "--- a/mm/b.c\n+++ b/mm/b.c\n@@ -1 +1 @@\n-c\n+d\n"
    )
    a, b = split_diff(diff)
    assert (a.path, a.hunks) == ("mm/a.c", ("@@ -1,5 +1,5 @@\n-a\n+b\n",))
    assert (b.path, b.hunks) == ("mm/b.c", ("@@ -1 +1 @@\n-c\n+d\n",))
    assert b.header.endswith("--- a/mm/b.c\n+++ b/mm/b.c\n")
