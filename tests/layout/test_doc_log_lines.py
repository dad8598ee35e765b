#!/usr/bin/python3
"""Every log line that docs/troubleshooting.md quotes (the first column of its table, "log line")
is one that the programs can print: some format string in src/ or sim/ produces it.

  test_doc_log_lines.py [SOURCE_ROOT] [--show]

How a quote is compared with a format string: both are patterns. In the format string each
conversion (%s, %u, %02x, "%" PRIu64, a macro between two literals) stands for any text; in the
quote "..." (three or more dots, or U+2026, with the spaces around it) stands for any text, and the quote may be a part of
the line (the level, a prefix the program adds, or the end may be left out). Placeholders the
docs write in capitals (X, N, FILE) are plain text there, so they must fall where the format has
a conversion. A quote matches a format string when some text fits both patterns and at least half
of the quote's characters are matched by the format's own text (not taken by its conversions), so
a format like "%s: %s" matches nothing. A quote no single format string matches may match one
with one or two other strings of the same folder inside its conversions (a message put together
from parts, as the recorder and the poller do). --show prints, for each quote, the best format strings."""
import itertools
import os
import re
import sys

ROOT = next((a for a in sys.argv[1:] if not a.startswith("--")),
            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SHOW = "--show" in sys.argv
DOC = "docs/troubleshooting.md"
SOURCES = ("src", "sim")
STAR = None  # a wildcard in a pattern (a list of characters and STAR)
MIN_RUN = 8  # a format string is compared only if it shares a text this long with the quote
SHARE = 0.5  # of the quote's own characters, at least this many must be the format's literals

STRING = r'"(?:[^"\\\n]|\\.)*"'
# Adjacent literals, with PRI* macros or other macros between them ("%" PRIu64 " ms").
CHAIN = re.compile(STRING + r'(?:\s*(?:[A-Z][A-Z0-9_]*\s*)?' + STRING + r')*')
PIECE = re.compile(STRING + r'|[A-Z][A-Z0-9_]*')
CONVERSION = re.compile(r"%(?:%|[-+ #0']*(?:\*|\d+)?(?:\.(?:\*|\d+))?"
                        r"(?:hh|h|ll|l|j|z|t|L)?[diouxXeEfgGcspnm])")
ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "'": "'", "r": "\r"}


def unescape(body):
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(1)), body)


def format_pattern(chain):
    """A chain of C literals (and macros between them) -> pattern."""
    text, pending_percent = [], False
    out = []
    for piece in PIECE.findall(chain):
        if piece.startswith('"'):
            text.append(unescape(piece[1:-1]))
        elif piece.startswith("PRI"):
            text.append("d")  # "%" PRIu64 -> "%d"
        else:
            text.append("\0")  # a macro's text: any
    joined = "".join(text)
    pos = 0
    for m in CONVERSION.finditer(joined):
        out.extend(joined[pos:m.start()])
        out.append("%" if m.group(0) == "%%" else STAR)
        pos = m.end()
    out.extend(joined[pos:])
    del pending_percent
    return [STAR if c == "\0" else c for c in out]


class Prose(str):
    """A character of a quote's word that a format's conversion may not stand for."""


def quote_pattern(quote):
    """Characters and STAR; the letters of words (5 or more lowercase letters between spaces or
    punctuation, not inside a name like com.victronenergy.settings or a path; but a plural's
    last s) are Prose: those are the message's own text, which the format must have."""
    out = [STAR]
    for part in re.split(r"(\s*(?:\.{3,}|\u2026)\s*)", quote):
        if re.fullmatch(r"\s*(?:\.{3,}|\u2026)\s*", part):
            out.append(STAR)
            continue
        prose = set()
        for token in re.finditer(r"[^\s,;:()\[\]'`\"]+", part):
            if re.fullmatch(r"[a-z]{5,}", token.group(0)):
                end = token.end() - (token.group(0)[-1] == "s")  # a plural's s may be a %s
                prose.update(range(token.start(), end))
        out.extend(Prose(c) if k in prose else c for k, c in enumerate(part))
    out.append(STAR)
    return out


def literal_matches(a, b, floor=0):
    """The most characters of b matched by characters of a (not taken by a's wildcards) over
    the texts that match both patterns (each a list of characters and STAR); -1 when no text
    does (or when a has fewer than floor characters of its own). Each step moves forward in a or
    b, so one pass in order fills the table."""
    n, m = len(a), len(b)
    if sum(1 for c in a if c is not STAR) < floor:
        return -1  # too little text to reach floor
    best = [[-1] * (m + 1) for _ in range(n + 1)]
    best[0][0] = 0
    for i in range(n + 1):
        for j in range(m + 1):
            here = best[i][j]
            if here < 0:
                continue
            x = a[i] if i < n else "end"
            y = b[j] if j < m else "end"
            steps = []
            if x is STAR:
                steps.append((i + 1, j, 0))  # the wildcard ends
                if y != "end" and not isinstance(y, Prose):
                    steps.append((i, j + 1, 0))  # it takes b's next character or wildcard
            if y is STAR:
                steps.append((i, j + 1, 0))
                if x != "end":
                    steps.append((i + 1, j, 0))
            if x is not STAR and y is not STAR and x == y and x != "end":
                steps.append((i + 1, j + 1, 1))
            for ni, nj, gain in steps:
                if best[ni][nj] < here + gain:
                    best[ni][nj] = here + gain
    return best[n][m]


def literal_runs(pattern):
    runs, run = [], []
    for c in pattern + [STAR]:
        if c is STAR:
            if run:
                runs.append("".join(run))
            run = []
        else:
            run.append(c)
    return runs


def format_strings():
    found = []
    for top in SOURCES:
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for name in sorted(files):
                if not name.endswith(".c"):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                text = re.sub(r"/\*.*?\*/", lambda m: " " * len(m.group(0)), text, flags=re.S)
                for m in CHAIN.finditer(text):
                    if "#include" in text[text.rfind("\n", 0, m.start()) + 1:m.start()]:
                        continue
                    found.append((os.path.relpath(path, ROOT), m.group(0)))
    out, seen = [], set()
    for where, chain in found:
        if (os.path.dirname(where), chain) in seen:
            continue
        seen.add((os.path.dirname(where), chain))
        fmt = format_pattern(chain)
        text = "\0".join(literal_runs(fmt))
        if len(text) >= MIN_RUN:
            out.append((where, chain, fmt, text))
    return out


def quoted_lines():
    """The first cell of each row of the table whose header is "log line": its backquoted
    parts."""
    with open(os.path.join(ROOT, DOC), encoding="utf-8") as f:
        lines = f.read().splitlines()
    quotes, in_table = [], False
    for number, line in enumerate(lines, 1):
        if line.startswith("| log line"):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            break
        if in_table and not line.startswith("|---"):
            first = line.split("|")[1]
            for q in re.findall(r"`([^`]+)`", first):
                quotes.append((number, q))
    return quotes


def main():
    formats = format_strings()
    quotes = quoted_lines()
    if len(quotes) < 10:
        print(f"{DOC}: found only {len(quotes)} quoted log lines: is the table still there?")
        return 1
    bad = 0
    for number, quote in quotes:
        pattern = quote_pattern(quote)
        own = sum(1 for c in pattern if c is not STAR)
        runs = literal_runs(pattern)
        grams = {run[k:k + MIN_RUN] for run in runs for k in range(len(run) - MIN_RUN + 1)}
        grams = grams or set(runs)  # a short quote: its text as it is
        near = [f for f in formats if any(g in f[3] for g in grams)]
        hits = []
        for where, chain, fmt, _ in near:
            score = literal_matches(fmt, pattern, SHARE * own)
            if score >= SHARE * own:
                hits.append((score, where, chain))
        # A message put together from strings of one folder: a format whose conversions hold
        # the others (one, else two), e.g. log_warn("adapter %s: %s: %s", name, what, why) with
        # what = "scan failed" and why = "a reply out of step", or the recorder's
        # "recorder: %s; not starting" with "PATH what".
        for depth in (1, 2):
            if hits:
                break
            # two parts: only strings whose every piece of text is in the quote (else too slow)
            pool = near if depth == 1 else [
                f for f in near if all(run in quote for run in literal_runs(f[2]))]
            for where, chain, fmt, text in pool:
                # a part brings text of the quote that the format lacks
                lacking = {g for g in grams if g not in text}
                parts = [p for p in pool
                         if p[2] is not fmt and os.path.dirname(p[0]) == os.path.dirname(where)
                         and (depth == 2 or any(g in p[3] for g in lacking))]
                stars = [k for k, c in enumerate(fmt) if c is STAR]
                for chosen in itertools.permutations(parts, depth):
                    for places in itertools.combinations(stars, depth):
                        joined = list(fmt)
                        for k, part in sorted(zip(places, chosen), key=lambda kp: -kp[0]):
                            joined[k:k + 1] = [STAR] + part[2] + [STAR]
                        score = literal_matches(joined, pattern, SHARE * own)
                        if score >= SHARE * own:
                            hits.append((score, where,
                                         " + ".join([chain] + [p[1] for p in chosen])))
        hits.sort(reverse=True)
        if not hits:
            print(f"{DOC}:{number}: no format string in {'/'.join(SOURCES)} prints `{quote}`")
            bad += 1
        elif SHOW:
            print(f"{DOC}:{number}: `{quote}` ({own} characters)")
            for score, where, chain in hits[:2]:
                print(f"    {score}: {where}: {chain[:110]}")
    print(f"{len(quotes) - bad} of {len(quotes)} quoted log lines are printed by the code")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
