#!/usr/bin/python3
"""tools/check-layers.py on small trees built here: every rule it has fires on a tree that
breaks it, and a tree that keeps them passes. Objects are compiled with cc and archived with ar,
as meson's per-layer libraries are.

  test_check_layers.py CHECK_LAYERS"""
import os
import shutil
import subprocess
import sys
import tempfile

CHECK = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "check-layers.py")
failures = []


def tree(files):
    root = tempfile.mkdtemp(prefix="check-layers-")
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    return root


def library(root, name, sources):
    """Compiles {file: C text} into root/name.a; returns its path."""
    objects = []
    for file, text in sources.items():
        src = os.path.join(root, file)
        with open(src, "w") as f:
            f.write(text)
        obj = src + ".o"
        subprocess.run(["cc", "-c", "-o", obj, src], check=True)
        objects.append(obj)
    archive = os.path.join(root, name + ".a")
    subprocess.run(["ar", "rcs", archive] + objects, check=True)
    return archive


def check(name, files, expect, libs=()):
    """expect: None = passes; else a text the failure must print."""
    root = tree(files)
    args = [CHECK, root]
    for layer, sources in libs:
        args += ["--lib", f"{layer}={library(root, layer.replace('/', '_'), sources)}"]
    run = subprocess.run(args, capture_output=True, text=True)
    shutil.rmtree(root)
    ok = run.returncode == 0 if expect is None else (run.returncode == 1 and expect in run.stdout)
    print(f"{'ok' if ok else 'FAILED'}: {name} (exit {run.returncode})")
    if not ok:
        failures.append(name)
        print(run.stdout + run.stderr)


CLEAN = {
    "src/base/log.h": "#pragma once\n",
    "src/lynx/poller.h": '#include "base/log.h"\n',
    "src/venus/service.c": '#include "lynx/poller.h"\n#include "venus/service.h"\n',
    "src/venus/service.h": '#include "lynx/poller.h"\n',
    "sim/run/replay.c": '#include "model/bus.h"\n',
    "sim/model/bus.h": "#pragma once\n",
}

check("a tree that keeps the layers passes", CLEAN, None)
check("an include upwards fails", {**CLEAN, "src/lynx/tracker.c": '#include "venus/service.h"\n'},
      "a higher layer (venus above lynx)")
check("the two transport backends including each other fails",
      {**CLEAN, "src/transport/mpsse/link.c": '#include "transport/i2cdev/link.h"\n',
       "src/transport/i2cdev/link.h": "#pragma once\n"}, "the backends are apart")
check("src including sim fails", {**CLEAN, "src/daemon/main.c": '#include "sim/model/bus.h"\n'},
      "src/ and sim/ are apart")
check("a file outside the layer folders fails", {**CLEAN, "src/misc.c": "int x;\n"},
      "not in a layer folder")
check("an include cycle between headers fails",
      {**CLEAN, "src/lynx/a.h": '#include "lynx/b.h"\n', "src/lynx/b.h": '#include "lynx/a.h"\n'},
      "include cycle: src/lynx/a.h -> src/lynx/b.h")
long_text = "int x;\n" * 601
check("a file over 600 lines fails", {**CLEAN, "src/lynx/long.c": long_text}, "over 600")
check("a test file over 600 lines fails", {**CLEAN, "tests/unit/test_long.c": long_text},
      "tests/unit/test_long.c: 601 lines")
check("a long file whose opening comment says why passes",
      {**CLEAN, "src/lynx/long.c": "/* The table.\n *\n * One piece: a table. */\n" + long_text},
      None)
check("two objects that call each other fail", CLEAN, "call cycle between objects",
      libs=[("src/lynx", {"a.c": "void b(void); void a(void) { b(); }\n",
                          "b.c": "void a(void); void b(void) { a(); }\n"})])
check("a lower layer's object calling a higher layer fails", CLEAN,
      "calls service_publish of",
      libs=[("src/lynx", {"poller.c": "void service_publish(void); void poll(void) "
                                      "{ service_publish(); }\n"}),
            ("src/venus", {"service.c": "void service_publish(void) {}\n"})])
check("objects calling downwards only pass", CLEAN, None,
      libs=[("src/lynx", {"poller.c": "void poll(void) {}\n"}),
            ("src/venus", {"service.c": "void poll(void); void publish(void) { poll(); }\n"})])

sys.exit(1 if failures else 0)
