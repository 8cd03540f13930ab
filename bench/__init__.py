"""The load benchmark: `python -m bench` (`make bench`), `python -m bench --smoke` (CI).

One run starts its own dynalite and a production-like gunicorn, seeds data through the project's
own services, drives load from a second process (locust, headless, as a library: bench/load.py),
and reports throughput, latency, DynamoDB calls per request, live-delivery latency (polls, and
Server-Sent Events streams beside them: bench/streams.py), history scaling, worker memory and CPU
per request (docs/benchmarks.md, docs/benchmarks.png).
"""
