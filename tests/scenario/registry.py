"""The tests of a file and how meson runs them: @test registers one under its name (the sentence
meson shows), run() is a test file's command line, and the outcomes (Failure, Skip: meson's exit
code 77). Imported through harness."""
import sys
import time

from transports import FTDI_ONLY, TRANSPORTS

EXIT_SKIP = 77  # meson: the test was skipped


class Failure(AssertionError):
    pass


class Skip(Exception):
    pass


def require(condition, message):
    if not condition:
        raise Failure(message)


TESTS = {}
ALONE = set()


TEST_TRANSPORTS = {}


def test(fn=None, *, alone=False, transports=TRANSPORTS):
    """Registers a test function under its name, the sentence meson runs it as. alone=True: it
    measures time in poll periods or places faults by time, so meson runs it with nothing else
    (a busy machine must not fake a delay). transports: the ones it runs for (a file that is not
    parametrised lists only ftdi; see run)."""
    def register(f):
        TESTS[f.__name__] = f
        TEST_TRANSPORTS[f.__name__] = transports
        if alone:
            ALONE.add(f.__name__)
        return f
    return register(fn) if fn else register


def run(tests=TESTS, transports=FTDI_ONLY):
    """Command line of a test file: `<file> TEST_NAME`; exit 0 pass, 1 fail, 77 skip.
    `<file> --list` prints "NAME alone|parallel TRANSPORT,..." per test: meson registers its
    tests from it, once per transport. transports: those of the file (TRANSPORTS for a file
    parametrised over them); a test's own list narrows it."""
    if sys.argv[1:] == ["--list"]:
        for name in tests:
            mine = [t for t in transports if t in TEST_TRANSPORTS.get(name, TRANSPORTS)]
            print(name, "alone" if name in ALONE else "parallel", ",".join(mine))
        return 0
    if len(sys.argv) != 2 or sys.argv[1] not in tests:
        print(f"usage: {sys.argv[0]} TEST\ntests: {' '.join(sorted(tests))}", file=sys.stderr)
        return 2
    start = time.monotonic()
    try:
        tests[sys.argv[1]]()
    except Skip as e:
        print(f"SKIP: {e}")
        return EXIT_SKIP
    except AssertionError as e:
        print(f"FAIL: {e}")
        return 1
    print(f"PASS ({time.monotonic() - start:.2f} s)")
    return 0
