"""GetValue latency of a running service, for the scenario tests that show D-Bus answers do not
wait for adapters (test_adapters.py, test_inventory.py)."""
import time


def getvalue_latencies(h, service, seconds):
    """Seconds of each back-to-back GetValue of /Distributor/A/Status for that long, sorted."""
    times = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        h.get("/Distributor/A/Status", service=service)
        times.append(time.monotonic() - t0)
    return sorted(times)
