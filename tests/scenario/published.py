"""The values the battery service publishes, as the scenario tests expect them: the enums of
/Distributor/X/Status and .../Fuse/N/Status, alarm levels, and expected-value dicts of a
distributor."""
from harness import POLL_INTERVAL_MS, ini

POLL_S = POLL_INTERVAL_MS / 1000.0
OK, ALARM = 0, 2
NOT_AVAILABLE, CONNECTED, NO_BUS_POWER, COMMS_LOST = 0, 1, 2, 3
FUSE_NOT_AVAILABLE, FUSE_NOT_USED, FUSE_OK, FUSE_BLOWN = 0, 1, 2, 3
# two-adapters.scn: the reprogrammed LYNX0001 is ours anyway; the stock FT6014X1 once it is named
TWO_ADAPTERS = ini(adapters={"FT6014X1": {}})

def dist(letter, status, fuses=None, lost=OK, blown=None):
    """Expected values of one distributor; fuses by published index, blown alarms default to
    ALARM exactly where the fuse is blown."""
    p = f"/Distributor/{letter}"
    out = {f"{p}/Status": status, f"{p}/Alarms/ConnectionLost": lost}
    if fuses is not None:
        blown = blown or [ALARM if f == FUSE_BLOWN else OK for f in fuses]
        for n, (f, b) in enumerate(zip(fuses, blown)):
            out[f"{p}/Fuse/{n}/Status"] = f
            out[f"{p}/Fuse/{n}/Alarms/Blown"] = b
    return out


def absent(letter):
    return dist(letter, NOT_AVAILABLE, [FUSE_NOT_AVAILABLE] * 4)


def one_adapter(*distributors):
    return "adapter LYNX0001\n" + "".join(f"distributor LYNX0001 {d}\n" for d in distributors)
