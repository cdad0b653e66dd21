"""Helpers both side-by-side scripts share (kochatgpt_side_by_side.py, encoder_side_by_side.py):
length quantiles, a process's memory and the machine's load from /proc, and table cells."""
import json
import resource
import statistics
import subprocess
import sys
import time


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


def run_child(script, config):
    """Runs `script --child CONFIG` in a fresh process (so its peak RSS is the configuration's
    own) and returns the JSON of its last output line, or an error entry with `config`'s names."""
    done = subprocess.run([sys.executable, script, "--child", json.dumps(config)], capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        names = {key: value for key, value in config.items() if key != "args"}
        return {**names, "error": f"exit {done.returncode}: {tail}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=1)


def summarise_other_side(args, read_raw, summarise, print_table, print_notes=None):
    """Another side's raw lines (`args.summarise`), summarised with the PyTorch run's settings
    (`args.like`: same medians, same projections), printed as a table between the side's
    uptimes and written to `args.json`; 1 if a configuration failed."""
    with open(args.like, encoding="utf-8") as f:
        like = json.load(f)
    settings = like["settings"]
    with open(args.summarise, encoding="utf-8") as f:
        raws = [read_raw(line) for line in f if line.strip()]
    results = [raw if "error" in raw else summarise(raw, settings) for raw in raws]
    uptimes = [open(path).read().strip() for path in args.uptimes] if args.uptimes else ["?", "?"]
    print(f"{args.side}: uptime {uptimes[0]}")
    print_table(results)
    if print_notes:
        print_notes(results, settings)
    print(f"uptime: {uptimes[1]}")
    if args.json:
        write_json(args.json, {"side": args.side, "uptime_before": uptimes[0], "uptime_after": uptimes[1],
                               "data": like["data"], "settings": settings, "results": results})
    return 1 if any("error" in r for r in results) else 0


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run_configs(configs, run):
    """`run(*names)` for each configuration's names, in order, each one's wall time (or error) on
    stderr as it ends."""
    results = []
    for names in configs:
        result = run(*names)
        results.append(result)
        print(f"  {'/'.join(names)}: " + (result["error"] if "error" in result else f"{result['wall_s']} s"),
              file=sys.stderr)
    return results


def finish_run(args, started, uptime_before, report):
    """Prints the uptime and the run's length, writes `report` (the environment, data, settings
    and results) with both uptimes to `args.json`; 1 if a configuration failed."""
    uptime_after, total = uptime(), time.perf_counter() - started
    print(f"uptime: {uptime_after}; whole run {total:.0f} s")
    if args.json:
        write_json(args.json, {**report, "uptime_before": uptime_before, "uptime_after": uptime_after,
                               "wall_s": round(total, 1)})
        print(f"wrote {args.json}")
    return 1 if any("error" in r for r in report["results"]) else 0
