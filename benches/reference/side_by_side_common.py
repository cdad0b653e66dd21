"""Helpers both side-by-side scripts share (kochatgpt_side_by_side.py, encoder_side_by_side.py):
length quantiles, a process's memory and the machine's load from /proc, and table cells."""
import resource
import statistics


def quantiles(values):
    ordered = sorted(values)
    at = lambda q: ordered[int(q * (len(ordered) - 1))]  # noqa: E731
    return {"mean": round(statistics.mean(ordered), 1), "p50": at(0.5), "p90": at(0.9), "p95": at(0.95),
            "p99": at(0.99), "max": ordered[-1], "count": len(ordered)}


def rss_now_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def hms(seconds):
    if seconds is None:
        return "-"
    minutes = seconds / 60
    return f"{minutes / 60:.1f} h" if minutes >= 90 else f"{minutes:.1f} min" if minutes < 10 else f"{minutes:.0f} min"


def cell(value, spec, suffix=""):
    return "-" if value is None else format(value, spec) + suffix
