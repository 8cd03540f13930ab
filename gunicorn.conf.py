"""gunicorn settings, shared by `make run`, the browser tests and the benchmark.

gevent workers: each open tab holds one live stream (Server-Sent Events, docs/live-updates.md),
idle nearly all the time. Under gevent an idle stream is a parked greenlet (a few KB), not a thread,
so one worker holds thousands (docs/deploy.md, "Worker class", says why this and not an ASGI
worker). GUNICORN_WORKER_CLASS=gthread still works: streams are then not served (rooms.streams.enabled)
and pages fall back to polling.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", max(2, multiprocessing.cpu_count())))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
threads = int(os.environ.get("GUNICORN_THREADS", "8"))  # gthread only
# gevent: connections (greenlets) per worker; open streams count. Past it gunicorn stops accepting.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "4000"))
# DynamoDB calls have bounded retries and timeouts (settings.DYNAMODB_*) well inside this.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
wsgi_app = "chatsite.wsgi:application"
# DJANGO_LOG_FORMAT=json: the app logs one JSON line per request (chatsite/request_log.py), so the
# access log is off unless GUNICORN_ACCESSLOG asks for it, and gunicorn's own lines (worker boots,
# timeouts, exits) are JSON objects too: one format for the whole stream (docs/deploy.md, "Logs").
_json_logs = os.environ.get("DJANGO_LOG_FORMAT", "").strip().lower() == "json"
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "" if _json_logs else "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# Never log full URLs with query strings at info: cursors are opaque but needn't be in logs.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
if _json_logs:
    from gunicorn.glogging import Logger

    class JsonLinesLogger(Logger):
        def setup(self, cfg):
            super().setup(cfg)  # runs again on every reload (SIGHUP), with fresh handlers
            from chatsite.request_log import JsonFormatter  # stdlib and Django utilities only: no settings

            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(JsonFormatter())

    logger_class = JsonLinesLogger
# gunicorn 25+ opens a control socket for `gunicornc` at one path per user by default
# ($XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl): a second instance on the host takes
# it over, and stopping either removes it. Off unless GUNICORN_CONTROL_SOCKET names this instance's.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]


def worker_exit(server, worker):
    """A graceful stop (a deploy, a scale-in) first lets the search indexer write what it has
    queued, for up to 5 s of the 10 s graceful_timeout: then only a crash loses index entries."""
    from rooms import search_index

    search_index.finish(timeout=5)


def post_worker_init(worker):
    """Bulkhead: at most threads − 2 requests of this worker in the application at once.

    gthread runs every request, /healthz included, on one pool of threads. If DynamoDB stalls,
    each request holds its thread for up to attempts × timeouts; without a limit all threads end
    up waiting and the load balancer's /healthz queues behind them. With it two threads stay free:
    /healthz and static files keep answering. Requests past the limit wait for a slot, or get the
    503 page at once while DynamoDB is stalled (chatsite.middleware.limit_concurrent_requests,
    docs/deploy.md).
    """
    from chatsite import middleware

    if worker.cfg.worker_class_str == "gevent":
        # Greenlets don't run out the way threads do, but a stalled DynamoDB would still pile up
        # requests: the same limit, on requests in the application (streams hold no slot once open).
        middleware.limit_concurrent_requests(int(os.environ.get("GUNICORN_APP_CONCURRENCY", "64")))
        import gevent

        from chatsite import caches

        def end_streams_when_stopping():
            # A live stream never finishes by itself: without this every stop (a deploy, a
            # scale-in) would wait the whole graceful_timeout. Closing the process's channels
            # (registered with chatsite.caches) ends each stream; its tab reconnects elsewhere.
            while worker.alive:
                gevent.sleep(0.5)
            caches.clear_all()

        gevent.spawn(end_streams_when_stopping)
    elif worker.cfg.threads > 2:
        middleware.limit_concurrent_requests(worker.cfg.threads - 2)


# Metrics (chatsite/metrics.py, docs/deploy.md "Metrics"): Prometheus's multi-process mode. Workers
# write to files in PROMETHEUS_MULTIPROC_DIR; the master sums them for a scrape on its own port,
# loopback by default: never the public one. GUNICORN_METRICS_BIND="" turns the port off.
metrics_bind = os.environ.get("GUNICORN_METRICS_BIND", "127.0.0.1:9100").strip()


def on_starting(server):
    """Once per gunicorn start, before any worker: a fresh, empty directory for the workers' values
    (set in the environment they inherit; prometheus_client reads it at import)."""
    if metrics_bind:
        from chatsite import metrics

        path, made = metrics.prepare_multiprocess_dir()
        server._chatsite_metrics_dir = (path, made)


def when_ready(server):
    if metrics_bind:
        from chatsite import metrics

        try:
            metrics.serve_multiprocess(metrics_bind)
        except OSError as exc:  # the site serves on without it; the operator reads why here
            server.log.error("metrics: cannot listen on %s (%s); not serving metrics", metrics_bind, exc)
        else:
            server.log.info("metrics: serving on http://%s/metrics", metrics_bind)


def post_fork(server, worker):
    from chatsite import metrics

    metrics.close_inherited_server()  # the master's scrape socket is not the worker's to hold


def child_exit(server, worker):
    """A worker exited (any way): its live gauges stop counting (mark_process_dead)."""
    from chatsite import metrics

    metrics.mark_process_dead(worker.pid)


def on_exit(server):
    path, made = getattr(server, "_chatsite_metrics_dir", (None, False))
    if made:
        from chatsite import metrics

        metrics.remove_multiprocess_dir(path)
