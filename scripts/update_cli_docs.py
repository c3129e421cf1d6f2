#!/usr/bin/env python3
"""Rewrites the --help blocks of docs/CLI.md from the built binaries (tests/cli/help_in_docs.sh
checks they agree). Usage: scripts/update_cli_docs.py [BIN_DIR]"""
import pathlib, re, subprocess, sys

root = pathlib.Path(__file__).resolve().parent.parent
bin_dir = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else root / "build" / "bin")
commands = {
    "sr-infer IN OUT": [bin_dir / "sr-infer"],
    "sr-model init": [bin_dir / "sr-model", "init"],
    "sr-model info": [bin_dir / "sr-model", "info"],
    "sr-model init OUT.safetensors [options]   create": [bin_dir / "sr-model"],
    "sr-prep": [bin_dir / "sr-prep"],
    "sr-train": [bin_dir / "sr-train"],
    "sr-eval": [bin_dir / "sr-eval"],
    "sr-bench": [bin_dir / "sr-bench"],
}
doc_path = root / "docs" / "CLI.md"
doc = doc_path.read_text()

def replace(match):
    body = match.group(1)
    first = body.splitlines()[0] if body else ""
    # Longest usage prefix wins, so "sr-model init OUT... create" beats "sr-model init".
    for prefix in sorted(commands, key=len, reverse=True):
        if first.startswith("usage: " + prefix) or first == "PLACEHOLDER " + prefix:
            text = subprocess.run([*map(str, commands[prefix]), "--help"], check=True,
                                  capture_output=True, text=True).stdout
            return "```text\n" + text + "```"
    return match.group(0)

doc_path.write_text(re.sub(r"```text\n(.*?)```", replace, doc, flags=re.S))
