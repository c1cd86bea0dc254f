#!/usr/bin/env python3
"""bench/rounds.py: hyperfine side by side, in rounds.

    bench/rounds.py OUT.json RUNS [HYPERFINE OPTIONS] -- [--prepare P] -n NAME CMD ...

Runs every command RUNS times in all, in ROUNDS (3) hyperfine calls of
RUNS/ROUNDS runs each, the commands in another order each round, and
writes OUT.json in hyperfine's shape (results[]: command, mean, median,
min, max, times), each command's runs pooled over the rounds. A
`--prepare` before a command's `-n` is that command's own (hyperfine's
per-command form), and goes with it whatever the order.

Why: one hyperfine call runs all of one command's runs, then all of the
next one's. On this machine (a VM on a shared host) the time of the same
command drifts by 10% over a few minutes, so whichever command ran in the
slow minutes looked slower: the ratios of two runs of bench/all.sh ten
minutes apart differed by up to 0.06. In rounds, each command gets its
share of every minute. Options (--warmup, --prepare, -N) apply to every
round.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile

ROUNDS = 3


def main():
    out, runs = sys.argv[1], int(sys.argv[2])
    rest = sys.argv[3:]
    split = rest.index("--")
    options, spec = rest[:split], rest[split + 1 :]
    commands, prepare = [], None
    while spec:
        if spec[0] == "--prepare" and len(spec) >= 2:
            prepare, spec = spec[1], spec[2:]
        elif spec[0] == "-n" and len(spec) >= 3:
            commands.append((spec[1], spec[2], prepare))
            prepare, spec = None, spec[3:]
        else:
            sys.exit(f"rounds.py: commands go as [--prepare P] -n NAME CMD, not {spec[0]!r}")
    per_round = max(1, -(-runs // ROUNDS))
    times = {name: [] for name, _, _ in commands}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(ROUNDS):
            order = commands[r % len(commands) :] + commands[: r % len(commands)]
            path = os.path.join(tmp, f"round-{r}.json")
            args = ["hyperfine", *options, "--runs", str(per_round), "--export-json", path]
            for name, cmd, prep in order:
                args += (["--prepare", prep] if prep else []) + ["-n", name, cmd]
            subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
            for result in json.load(open(path))["results"]:
                times[result["command"]] += result["times"]
    results = [
        {
            "command": name,
            "mean": statistics.mean(times[name]),
            "median": statistics.median(times[name]),
            "min": min(times[name]),
            "max": max(times[name]),
            "times": times[name],
        }
        for name, _, _ in commands
    ]
    json.dump({"results": results}, open(out, "w"))


if __name__ == "__main__":
    main()
