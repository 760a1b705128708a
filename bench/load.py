"""Bounded local load test of `qa serve` (127.0.0.1 only): starts the server on the dev index,
sends GET /api/ask at a fixed rate for a fixed time, and reports throughput, latency percentiles
and errors. The issue's goal: >= 50 asks/s sustained for 60 s, p95 <= 200 ms, no errors.

Two workloads, reported separately because they measure different things:
- ``repeated``: a set of dev questions asked over and over (after one warm-up pass): what the
  answer cache serves, as when a newsroom asks the same things.
- ``unseen``: every request is a question (and k) the server has not answered yet, so each one
  costs retrieval, sentence scoring and the cross-encoder.

Latency is measured from each request's scheduled send time (open loop), so a server that falls
behind shows it in its percentiles instead of silently lowering the rate.

    python bench/load.py --mode repeated --rate 50 --seconds 60
    python bench/load.py --mode unseen --rate 5 --seconds 60

Build the dev index first: qa index ../shared/data/realtimeqa-dev/articles.jsonl --index bench/.cache/dev-index
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # never anything else: this is a local test
MAX_REQUESTS = 20_000  # a hard bound on one run, whatever the flags say


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=REPO / "bench/.cache/dev-index")
    parser.add_argument("--questions", type=Path,
                        default=REPO.parent / "shared/data/realtimeqa-dev/questions.jsonl")
    parser.add_argument("--mode", choices=("repeated", "unseen"), default="repeated")
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at most")
    parser.add_argument("--distinct", type=int, default=20, help="questions in the repeated set")
    parser.add_argument("--out", type=Path, default=None, help="write the report here (JSON)")
    args = parser.parse_args()

    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines() if line.strip()]
    total = min(int(args.rate * args.seconds), MAX_REQUESTS)
    if args.mode == "repeated":
        pool = [(q, 3) for q in questions[: args.distinct]]
        plan = [pool[i % len(pool)] for i in range(total)]
    else:  # a new (question, k) for every request: nothing can come from the cache
        fresh = [(q, k) for k in range(3, 9) for q in questions]
        plan = fresh[:total]
        if len(plan) < total:
            print(f"only {len(plan)} unseen requests available; sending those", file=sys.stderr)

    port = _free_port()
    log = (REPO / "bench/.cache/load-server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--index", str(args.index), "--host", HOST, "--port", str(port)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    base = f"http://{HOST}:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30.0,
                          limits=httpx.Limits(max_connections=args.concurrency)) as client:
            _wait_until_up(client, server)
            if args.mode == "repeated":
                for question, k in pool:  # warm-up: one pass, not measured
                    client.get("/api/ask", params={"q": question, "k": k}).raise_for_status()
            report = _run(client, plan, args.rate, args.concurrency)
            report["server_stats"] = client.get("/api/info").json()["service"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    report.update(mode=args.mode, target_rate=args.rate, target_seconds=args.seconds,
                  concurrency=args.concurrency, index=str(args.index), cores=os.cpu_count())
    line = json.dumps(report)
    print(line)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(line + "\n")
    print(f"{args.mode}: {report['completed']} asks in {report['seconds']:.1f}s = {report['rate']:.1f}/s; "
          f"p50 {report['p50_ms']:.1f} ms, p95 {report['p95_ms']:.1f} ms, p99 {report['p99_ms']:.1f} ms, "
          f"max {report['max_ms']:.1f} ms; {report['errors']} errors", file=sys.stderr)


def _run(client: httpx.Client, plan: list[tuple[str, int]], rate: float, concurrency: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    started = time.perf_counter()

    def send(question: str, k: int, due: float) -> None:
        try:
            response = client.get("/api/ask", params={"q": question, "k": k})
            ok = response.status_code == 200 and "quotes" in response.json()
            problem = None if ok else f"{response.status_code} {response.text[:100]}"
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - due  # from the scheduled time: queueing counts
        with lock:
            latencies.append(elapsed)
            if problem:
                errors.append(problem)

    with ThreadPoolExecutor(max_workers=concurrency) as workers:
        for n, (question, k) in enumerate(plan):
            due = started + n / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            workers.submit(send, question, k, due)
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)

    def percentile(p: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")

    return {
        "completed": len(latencies), "errors": len(errors), "first_errors": errors[:5],
        "seconds": seconds, "rate": len(latencies) / seconds,
        "p50_ms": percentile(0.50), "p95_ms": percentile(0.95), "p99_ms": percentile(0.99),
        "max_ms": 1000 * ordered[-1] if ordered else float("nan"),
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _wait_until_up(client: httpx.Client, server: subprocess.Popen, limit: float = 180.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"qa serve exited with {server.returncode}: see bench/.cache/load-server.log")
        try:
            if client.get("/api/info").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("qa serve did not start in time")


if __name__ == "__main__":
    main()
