"""Every command's help has examples, and every option an example uses exists."""

from __future__ import annotations

import re

import pytest
import typer

from lusfeat.cli import app

GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)


def _examples(name: str) -> list[str]:
    doc = GROUP.commands[name].callback.__doc__ or ""
    return [line.strip() for line in doc.splitlines() if line.strip().startswith(f"lusfeat {name}")]


@pytest.mark.parametrize("name", COMMANDS)
def test_help_has_true_examples(name):
    cmd = GROUP.commands[name]
    doc = cmd.callback.__doc__ or ""
    assert re.search(r"^\s*Examples?:", doc, re.M), f"`lusfeat {name} --help` has no Examples: section"
    examples = _examples(name)
    assert examples, name
    known = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)}
    for line in examples:
        used = set(re.findall(r"(?<!\S)(--?[a-z][a-z0-9-]*)", line))
        assert used <= known, f"{line!r} uses unknown option(s) {sorted(used - known)}"


def test_app_help_and_version(capsys):
    from lusfeat import __version__
    from lusfeat.cli import main

    for args, text in ((["--help"], "Examples: lusfeat demo"), (["--version"], f"lusfeat {__version__}")):
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 0
        assert text in capsys.readouterr().out


@pytest.mark.parametrize("name", COMMANDS)
def test_help_mentions_only_options_the_command_has(name):
    """An option's help that points to another option (``--init``) names one of this command's own."""
    cmd = GROUP.commands[name]
    known = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)}
    for p in cmd.params:
        for ref in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", getattr(p, "help", None) or ""):
            assert ref in known, f"lusfeat {name} {p.opts[0]}: help mentions {ref}, which {name} does not have"
