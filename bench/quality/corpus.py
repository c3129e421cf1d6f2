"""The quality corpus: which file of scripts/fetch_corpus.sh's tree belongs to which group.

corpus.json holds, per package, ordered rules (regex on the path relative to the corpus folder ->
group name, with \\1-style references; the first rule that matches wins) and, per group, its split
(`train` or `heldout`), kind (`speech`, `music`, `effects`), whether it may serve as a 16 kHz
reference (`reference`: true rate >= 16 kHz and wide-band content), and notes. A group is a
speaker or a language (never a single file), so a split by group keeps speakers apart.
"""

import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SPEC = os.path.join(HERE, "corpus.json")


class Corpus:
    def __init__(self, spec_path=DEFAULT_SPEC):
        with open(spec_path) as f:
            self.spec = json.load(f)
        self.packages = {p["package"]: p for p in self.spec["packages"]}
        for p in self.packages.values():
            p["_rules"] = [(re.compile(rx), tpl) for rx, tpl in p["rules"]]

    def group_of(self, relpath):
        """(package, group name) for a path relative to the corpus folder; group None if no rule."""
        pkg = relpath.split("/", 1)[0]
        p = self.packages.get(pkg)
        if p is None:
            return pkg, None
        for rx, tpl in p["_rules"]:
            m = rx.search(relpath)
            if m:
                return pkg, m.expand(tpl)
        return pkg, None

    def group_info(self, pkg, group):
        return self.packages[pkg]["groups"].get(group)

    def files(self, corpus_dir, packages=None):
        """Yields (relpath, package, group, info) for every audio file that fetch_corpus.sh listed."""
        for pkg, p in self.packages.items():
            if packages and pkg not in packages:
                continue
            listing = os.path.join(corpus_dir, pkg, "files.txt")
            if not os.path.exists(listing):
                raise SystemExit(f"{listing} missing: run scripts/fetch_corpus.sh {corpus_dir}")
            with open(listing) as f:
                for line in f:
                    rel = line.rstrip("\n")
                    if not rel:
                        continue
                    _, group = self.group_of(rel)
                    info = self.group_info(pkg, group) if group is not None else None
                    yield rel, pkg, group, info

    def check(self, corpus_dir):
        """Every listed file falls into a declared group; every declared group has files.
        Returns a list of problems (empty when consistent)."""
        problems, seen = [], set()
        for rel, pkg, group, info in self.files(corpus_dir):
            if group is None:
                problems.append(f"no rule matches {rel}")
            elif info is None:
                problems.append(f"group {pkg}:{group} (from {rel}) is not declared")
            else:
                seen.add((pkg, group))
        for pkg, p in self.packages.items():
            for g, info in p["groups"].items():
                if (pkg, g) not in seen:
                    problems.append(f"declared group {pkg}:{g} has no files")
                if info.get("split") not in ("train", "heldout", "input_only"):
                    problems.append(f"group {pkg}:{g}: split must be train, heldout or input_only")
        # A language held out anywhere is held out everywhere (the same speaker may have recorded
        # for several packages, e.g. KDE's klettres and ktuberling).
        by_lang = {}
        for pkg, p in self.packages.items():
            for g, info in p["groups"].items():
                lang = info.get("language")
                if lang and info["split"] != "input_only":
                    by_lang.setdefault(lang, set()).add((info["split"], f"{pkg}:{g}"))
        for lang, entries in sorted(by_lang.items()):
            splits = {s for s, _ in entries}
            if len(splits) > 1:
                problems.append(f"language {lang} is in both splits: {sorted(e for _, e in entries)}")
        return problems
