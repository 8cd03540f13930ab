"""The load benchmark: `python -m bench` (`make bench`), `python -m bench --smoke` (CI).

One run starts its own dynalite and a production-like gunicorn, seeds data through the project's
own services, drives load from a second process (bench/load.py: wrk for GET-only phases, bench/wrk.py;
locust, headless, as a library, for scripted ones; `--only room|search|post|live` runs some),
and reports throughput, latency, DynamoDB calls per request, live-delivery latency (polls, and
Server-Sent Events streams beside them: bench/streams.py), history scaling, worker memory and CPU
per request (docs/benchmarks.md, docs/benchmarks.png).
"""
