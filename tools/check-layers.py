#!/usr/bin/python3
"""Checks that the source tree keeps its layers (README, "Where things are").

  tools/check-layers.py SOURCE_ROOT [--lib LAYER=ARCHIVE ...]

From the sources:
  - includes go downwards only: src/ base < transport < lynx < venus < daemon < scan, and
    sim/ model < front < run; the two transport backends (mpsse/, i2cdev/) never include each
    other; src/ and sim/ never include each other;
  - no include cycle between headers;
  - no file in src/, sim/ or tests/ over MAX_LINES lines unless its opening comment says why it
    is "one piece" (or "one file").
From the per-layer static libraries (meson passes them, lowest layer first), with nm:
  - no object calls a symbol defined in a higher layer's library;
  - no cycle between object files (two .c files that call each other, directly or round a ring).
Prints every violation and exits 1 when there is one, else prints a one-line summary."""

import os
import re
import subprocess
import sys

LAYERS = {
    "src": ["base", "transport", "lynx", "venus", "daemon", "scan"],
    "sim": ["model", "front", "run"],
}
BACKENDS = ("transport/mpsse/", "transport/i2cdev/")
MAX_LINES = 600
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def walk(root, folder, extensions):
    """The files below root/folder with one of the extensions, as paths relative to root/folder."""
    for dirpath, _, names in os.walk(os.path.join(root, folder)):
        for name in sorted(names):
            if name.endswith(extensions):
                yield os.path.relpath(os.path.join(dirpath, name), os.path.join(root, folder))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def backend(rel):
    """The transport backend folder a path is in, or None."""
    return next((b for b in BACKENDS if rel.startswith(b)), None)


def layer_of(top, rel):
    first = rel.split("/", 1)[0]
    return LAYERS[top].index(first) if first in LAYERS[top] else None


def check_length(name, text, problems):
    lines = text.count("\n")
    # its opening comment (C) or docstring (Python) says why it is "one piece" or "one file"
    if text.lstrip().startswith("/*"):
        end = text.find("*/")
    else:
        end = text.find('"""', text.find('"""') + 3)
    opening = " ".join(text[:end if end > 0 else 4000].lower().replace("*", " ").split())
    if lines > MAX_LINES and not re.search(r"\bone (piece|file)\b", opening):
        problems.append(f"{name}: {lines} lines, over {MAX_LINES}, and its opening comment does "
                        "not say why it is one piece")


def check_test_lengths(root, problems):
    count = 0
    for rel in walk(root, "tests", (".c", ".h", ".py", ".sh")):
        check_length(f"tests/{rel}", read(os.path.join(root, "tests", rel)), problems)
        count += 1
    return count


def check_includes(root, problems):
    graph, count = {}, 0
    for top, rel in ((top, rel) for top in LAYERS for rel in walk(root, top, (".c", ".h"))):
        text = read(os.path.join(root, top, rel))
        count += 1
        here = layer_of(top, rel)
        if here is None:
            problems.append(f"{top}/{rel}: not in a layer folder ({', '.join(LAYERS[top])})")
        for inc in INCLUDE.findall(text):
            other = [t for t in LAYERS if t != top and inc.startswith(t + "/")]
            if other:
                problems.append(f"{top}/{rel}: includes {inc}: {top}/ and {other[0]}/ are apart")
                continue
            there = layer_of(top, inc)
            if there is None:
                if "/" in inc:
                    problems.append(f"{top}/{rel}: includes {inc}, which is in no layer")
                continue  # a file next to it with no folder: not ours (none in src/ or sim/)
            if here is not None and there > here:
                problems.append(f"{top}/{rel}: includes {inc}, a higher layer "
                                f"({LAYERS[top][there]} above {LAYERS[top][here]})")
            if backend(rel) and backend(inc) and backend(rel) != backend(inc):
                problems.append(f"{top}/{rel}: includes {inc}: the backends are apart")
            if rel.endswith(".h"):
                graph.setdefault(f"{top}/{rel}", set()).add(f"{top}/{inc}")
        check_length(f"{top}/{rel}", text, problems)
    for cycle in cycles(graph):
        problems.append("include cycle: " + " -> ".join(cycle + [cycle[0]]))
    return count


def cycles(graph):
    """The strongly connected components with more than one node (Tarjan), each as a list."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def nm(archive):
    """{object: (defined symbols, undefined symbols)} of one static library."""
    out = subprocess.run(["nm", "-P", "-A", archive], check=True, capture_output=True,
                         text=True).stdout
    objects = {}
    for line in out.splitlines():
        where, _, rest = line.partition(": ")
        fields = rest.split()
        if len(fields) < 2:
            continue
        obj = where.rsplit("[", 1)[-1].rstrip("]") if "[" in where else where.rsplit(":", 1)[-1]
        defined, undefined = objects.setdefault(obj, (set(), set()))
        symbol, kind = fields[0], fields[1]
        if kind == "U":
            undefined.add(symbol)
        elif kind.isupper():
            defined.add(symbol)
    return objects


def check_symbols(libs, problems):
    owner = {}  # symbol -> (layer rank, layer, object)
    uses = []
    for rank, (layer, archive) in enumerate(libs):
        for obj, (defined, undefined) in nm(archive).items():
            for symbol in defined:
                owner[symbol] = (rank, layer, obj)
            uses.append((rank, layer, obj, undefined))
    graph = {}
    for rank, layer, obj, undefined in uses:
        for symbol in sorted(undefined):
            if symbol not in owner:
                continue  # libc, libusb, libdbus, ...
            their_rank, their_layer, their_obj = owner[symbol]
            if their_rank > rank and their_layer.split("/")[0] == layer.split("/")[0]:
                problems.append(f"{os.path.basename(obj)} ({layer}) calls {symbol} of "
                                f"{os.path.basename(their_obj)} ({their_layer}), "
                                "a higher layer")
            if their_obj != obj:
                graph.setdefault(obj, set()).add(their_obj)
    for cycle in cycles(graph):
        names = [os.path.basename(obj).removesuffix(".o") for obj in cycle + [cycle[0]]]
        problems.append("call cycle between objects: " + " -> ".join(names))
    return len(uses)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    root, libs, rest = argv[1], [], argv[2:]
    while rest:
        if rest[0] != "--lib" or len(rest) < 2 or "=" not in rest[1]:
            print(f"check-layers: bad argument {rest[0]!r}", file=sys.stderr)
            return 2
        libs.append(tuple(rest[1].split("=", 1)))
        rest = rest[2:]
    problems = []
    files = check_includes(root, problems) + check_test_lengths(root, problems)
    objects = check_symbols(libs, problems) if libs else 0
    for p in problems:
        print(p)
    if problems:
        print(f"check-layers: {len(problems)} problem(s)")
        return 1
    print(f"check-layers: {files} source files, {objects} objects: includes go downwards, "
          f"no cycles, no file over {MAX_LINES} lines without its reason")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
