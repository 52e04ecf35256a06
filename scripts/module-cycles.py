#!/usr/bin/env python3
"""Reports import cycles between the top-level modules of each workspace crate.

A module is a file `src/<name>.rs` or a directory `src/<name>/` (its files count as one
module); `lib.rs`/`main.rs` is the root, which may declare and re-export modules but counts
as a module too when the others use items defined in it. An edge A -> B is any `crate::B`
path, or `super::B` / `super::Item` from a direct child, in A's files (tests excluded:
`tests.rs` files and `#[cfg(test)]` modules at the end of a file). Exit 1 on any cycle.
"""
import os, re, sys

def modules(src):
    mods = {}
    for entry in sorted(os.listdir(src)):
        path = os.path.join(src, entry)
        if entry in ("lib.rs", "main.rs"):
            mods["<root>"] = [path]
        elif entry.endswith(".rs"):
            mods.setdefault(entry[:-3], []).append(path)
        elif os.path.isdir(path):
            files = []
            for root, _, names in os.walk(path):
                files += [os.path.join(root, n) for n in names if n.endswith(".rs")]
            mods.setdefault(entry, []).extend(files)
    return mods

def code(path):
    text = open(path).read()
    if os.path.basename(path) == "tests.rs":
        return ""
    cut = re.search(r"^#\[cfg\(test\)\]\s*\nmod \w+ \{", text, re.M)
    return text[: cut.start()] if cut else text

def root_items(path):
    text = code(path)
    return set(re.findall(r"^pub(?:\(crate\))?\s+(?:fn|struct|enum|type|const|trait|static)\s+(\w+)", text, re.M)) | \
        set(re.findall(r"^(?:fn|struct|enum|type|const|trait|static)\s+(\w+)", text, re.M))

def paths(text, prefix):
    """The first segment after `prefix::` of every path, braces expanded one level."""
    out = re.findall(r"\b" + prefix + r"::(\w+)", text)
    for group in re.findall(r"\b" + prefix + r"::\{([^}]*)\}", text):
        out += re.findall(r"(?:^|,)\s*(\w+)", group)
    return out

def edges(mods):
    names = set(mods) - {"<root>"}
    items = root_items(mods["<root>"][0]) if "<root>" in mods else set()
    graph = {m: set() for m in mods}
    for mod, files in mods.items():
        for f in files:
            text = code(f)
            top_level = os.path.dirname(f) == os.path.dirname(mods.get("<root>", [f])[0])
            for target in paths(text, "crate"):
                if target in names and target != mod:
                    graph[mod].add(target)
                elif target in items and mod != "<root>":
                    graph[mod].add("<root>")
            if top_level and mod != "<root>":
                for target in paths(text, "super"):
                    if target in names and target != mod:
                        graph[mod].add(target)
                    elif target in items or target == "*":
                        graph[mod].add("<root>")
        if mod == "<root>":
            # The root's `pub use x::Item` re-exports are the crate's facade, not a dependency
            # of logic; any other path into a module is.
            for f in files:
                text = re.sub(r"^pub(?:\(crate\))?\s+use\s+[^;]*;", "", code(f), flags=re.M)
                text = re.sub(r"^\s*(?:pub(?:\(crate\))?\s+)?mod\s+\w+;", "", text, flags=re.M)
                for target in re.findall(r"\b(\w+)::", text):
                    if target in names:
                        graph[mod].add(target)
    return graph

def cycles(graph):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in graph:
        if v not in index:
            visit(v)
    return out

bad = 0
top = sys.argv[1] if len(sys.argv) > 1 else "."
for crate in sorted(["crates/" + c for c in os.listdir(os.path.join(top, "crates"))] + ["src-tauri", "tests"]):
    src = os.path.join(top, crate, "src")
    if not os.path.isdir(src):
        continue
    found = cycles(edges(modules(src)))
    for comp in found:
        bad += 1
        print(f"{crate}: cycle between {', '.join(comp)}")
print("no module cycles" if not bad else f"{bad} cycle(s)")
sys.exit(1 if bad else 0)
