"""The README's console sessions are real: every ```console block is run, command by command
in one empty folder, through click's CliRunner with the clock at tests.builders.NOW (the
sample's weekly 2026-W48), and what each command prints must be the README's lines.

Exactly, with two documented exceptions and nothing else:
- a line that is just ``...`` stands for any number of lines (zero or more);
- the elapsed time at the end of the dry run's "Message size: ..." line (``0.03 s``) is any
  figure of that form, since it measures this machine.
A blank line between one command's output and the next ``$`` line separates them."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import time_machine
from click.testing import CliRunner

from digest.cli import cli
from tests.builders import NOW

README = Path(__file__).resolve().parent.parent / "README.md"
ANY_LINES = "..."
# The one token allowed to differ: the elapsed seconds ending the dry run's size line.
ELAPSED = re.compile(r"^(Message size: .*; )\d+\.\d\d s$")


@dataclass(frozen=True)
class Session:
    command: str  # without the "$ "
    expected: list[str]


def console_blocks(text: str) -> list[str]:
    return re.findall(r"^```console\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def sessions(block: str) -> list[Session]:
    """Each ``$ command`` with the lines after it, up to the next ``$`` line."""
    out: list[Session] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            out.append(Session(line[2:], []))
        else:
            assert out, f"output before any command in a console block: {line!r}"
            out[-1].expected.append(line)
    for session in out:
        while session.expected and session.expected[-1] == "":
            session.expected.pop()  # the blank line before the next command
    return out


def pattern(expected: list[str]) -> re.Pattern[str]:
    """A regex that matches exactly the expected lines, with the two exceptions above."""
    parts: list[str] = []
    for line in expected:
        if line == ANY_LINES:
            parts.append(r"(?:[^\n]*\n)*?")
        elif elapsed := ELAPSED.match(line):
            parts.append(re.escape(elapsed[1]) + r"\d+\.\d\d s\n")
        else:
            parts.append(re.escape(line) + "\n")
    return re.compile("".join(parts))


def matches(expected: list[str], output: str) -> bool:
    return pattern(expected).fullmatch(output) is not None


def test_the_readme_tour_prints_what_it_shows() -> None:
    blocks = console_blocks(README.read_text(encoding="utf-8"))
    assert blocks, "no ```console block in README.md"
    runner = CliRunner()
    with time_machine.travel(NOW, tick=False):
        for block in blocks:
            for session in sessions(block):
                argv = shlex.split(session.command)
                assert argv[0] == "digest", f"not a digest command: $ {session.command}"
                result = runner.invoke(cli, argv[1:], catch_exceptions=False)
                assert result.exit_code == 0, f"$ {session.command}\n{result.output}"
                if not matches(session.expected, result.output):
                    # Fails, and pytest shows the two side by side.
                    assert result.output.splitlines() == session.expected, (
                        f"README.md: the output of `{session.command}` differs"
                    )


def test_the_allowed_differences_are_narrow() -> None:
    size = "Message size: median 25.4 KB, largest 71.1 KB; MJML compiles: 18 for 18 variant(s)"
    assert matches([f"{size}; 0.03 s"], f"{size}; 12.75 s\n")
    assert not matches([f"{size}; 0.03 s"], size.replace("25.4", "25.5") + "; 0.03 s\n")
    assert not matches([f"{size}; 0.03 s"], f"{size}; 0.03 seconds\n")
    assert not matches(["Recipients: 22; 0.03 s"], "Recipients: 22; 0.04 s\n")
    assert matches(["a", ANY_LINES, "z"], "a\nz\n")
    assert matches(["a", ANY_LINES, "z"], "a\nb\nc\nz\n")
    assert matches(["a", ANY_LINES], "a\nb\n")
    assert not matches(["a", ANY_LINES, "z"], "a\nb\n")
    assert not matches(["a", "b"], "a\nb\n\n")  # a stray blank line is a difference
    assert not matches(["a", "b"], "a\nb")  # so is a missing newline


def test_sessions_split_at_each_command() -> None:
    block = "$ digest one\nA\n\n$ digest two\n...\n$ digest three\n"
    assert sessions(block) == [
        Session("digest one", ["A"]),
        Session("digest two", [ANY_LINES]),
        Session("digest three", []),
    ]
