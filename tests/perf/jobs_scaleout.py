#!/usr/bin/python3
"""Scale-out of /jobs through Redis: N jobs submitted round-robin to R replicas (1 worker
each, one redis-server on a free loopback port, nothing persisted), compared with the
same N jobs on one replica.  Prints the wall time of each run (first submit → last job
done), the ratio, and the claims / re-runs per replica: every job must finish and none
may run twice (claims = N, re-runs = 0) — only a killed replica's job is ever re-run.

    tests/perf/jobs_scaleout.py [--jobs 50] [--replicas 2] [--clip PATH]

Say what else ran on the machine when you quote figures: the replicas share its cores.
"""
import argparse
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from mdc_testserver import (FIXTURES, RedisServer, Server, metric, submit,  # noqa: E402
                            wait_status)


def run(rs, n_jobs, n_replicas, clip):
    rs.command("FLUSHALL")
    env = {"JOBS_REDIS_URL": rs.url, "MAX_CONCURRENT_TRANSCRIPTIONS": "1", "WHISPER_THREADS": "1",
           "WHISPER_PRELOAD": "true", "JOBS_MAX": str(max(256, n_jobs))}
    servers = [Server(env=env, name="r%d" % i) for i in range(n_replicas)]
    try:
        for s in servers:  # model mapped before the clock starts
            deadline = time.monotonic() + 30
            while s.request("GET", "/ready")[0] != 200 and time.monotonic() < deadline:
                time.sleep(0.05)
        t0 = time.monotonic()
        ids = []
        for i in range(n_jobs):
            st, jid, body = submit(servers[i % n_replicas], clip)
            if st != 202:
                raise RuntimeError("submit %d → %d %s" % (i, st, body[:200]))
            ids.append(jid)
        t_submit = time.monotonic() - t0
        statuses = [wait_status(servers[0], jid, lambda js: js.get("status") in ("done", "failed", "cancelled"),
                                timeout=600).get("status") for jid in ids]
        wall = time.monotonic() - t0
        claims = [metric(s.metrics(), "mdconv_job_claims_total") or 0 for s in servers]
        reruns = [metric(s.metrics(), "mdconv_job_reruns_total") or 0 for s in servers]
        return wall, t_submit, statuses, claims, reruns
    finally:
        for s in servers:
            s.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=50)
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--clip", default=os.path.join(FIXTURES, "edge_silence_1s.wav"))
    a = ap.parse_args()
    print("jobs_scaleout: %d jobs of %s, 1 worker (WHISPER_THREADS=1) per replica, %d cores"
          % (a.jobs, os.path.basename(a.clip), os.cpu_count()))
    ok = True
    with RedisServer() as rs:
        results = {}
        for r in (1, a.replicas):
            wall, t_submit, statuses, claims, reruns = run(rs, a.jobs, r, a.clip)
            done = statuses.count("done")
            results[r] = wall
            print("  %d replica(s): wall %.2f s (submitting %.2f s), %d/%d done, claims per replica %s, re-runs %s"
                  % (r, wall, t_submit, done, a.jobs, [int(x) for x in claims], [int(x) for x in reruns]))
            ok &= done == a.jobs and sum(claims) == a.jobs and sum(reruns) == 0
        print("  ratio %d replicas / 1 replica: %.2f (ideal 1/%d = %.2f)"
              % (a.replicas, results[a.replicas] / results[1], a.replicas, 1.0 / a.replicas))
    print("all finished, none ran twice" if ok else "FAILED: a job did not finish or ran twice")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
