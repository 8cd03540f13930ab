-- One throughput phase for wrk (bench/wrk.py runs it): GET the phase's paths in turn, each request
-- with the next signed-in session's cookie (round-robin over every session, so a per-session cache
-- hits no more than it would with as many real readers), and count what the load generator can't
-- see in wrk's own summary: statuses, DynamoDB calls per request (X-DynamoDB-Calls), which worker
-- answered (X-Bench-Process), and the calls of each page's first view on a worker (cold) apart
-- from the later ones (steady). Each wrk thread keeps its own view of "first": a phase that judges
-- cold views runs one thread (bench/wrk.py, threads=1).
--
--   wrk -t T -c C -d S -s bench/wrk_phase.lua URL -- CONFIG_FILE T WINDOW_START WINDOW_END
-- CONFIG_FILE: lines "path<TAB>/x/", "cookie<TAB>sessionid=..; csrftoken=..", "agent<TAB>...",
-- "header<TAB>Name<TAB>value" (sent with every request: a search's HX-Request).
-- Only answers that arrive inside the window (CLOCK_MONOTONIC seconds, Python's time.monotonic())
-- are counted: the seconds before it are the warm-up, and requests still in flight when wrk stops
-- fall after it. Each request carries the time it was sent (X-Bench-Sent, echoed by
-- bench/middleware.py), so an answer's latency is known whichever connection it came on.
-- Every RECONNECT_EVERY-th request of a thread asks the server to close its connection (wrk opens
-- a new one): a gevent worker takes every connection pending when it wakes, so the burst of
-- connections wrk opens at the start can land mostly on one worker, and that phase would then
-- measure one core, not the server. New connections one at a time spread the load over the
-- workers the way independent clients do (bench/wrk.py reports requests by worker).
-- done() prints one line "BENCH-JSON <json>" that bench/wrk.py reads.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *tp);
]]
local clock = ffi.new("bench_timespec")

local function now()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) / 1e9
end

local RECONNECT_EVERY = 10
local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("id", thread_count)
  table.insert(threads, thread)
end

function init(args)
  paths, cookies, agent, extra = {}, {}, "", {}
  for line in io.lines(args[1]) do
    local kind, value = line:match("^(%a+)\t(.*)$")
    if kind == "path" then table.insert(paths, value)
    elseif kind == "cookie" then table.insert(cookies, value)
    elseif kind == "agent" then agent = value
    elseif kind == "header" then
      local name, text = value:match("^([^\t]+)\t(.*)$")
      extra[name] = text
    end
  end
  count = 0
  statuses, calls, cold_calls, steady_calls, by_worker, seen, distinct_by_worker = {}, {}, {}, {}, {}, {}, {}
  calls_max, cold_requests, cold_max, steady_requests, steady_max, answered = 0, 0, 0, 0, 0, 0
  step = tonumber(args[2] or "1")  -- threads: session k goes to thread k mod step
  window_start, window_end = tonumber(args[3] or "0"), tonumber(args[4] or "1e18")
  latencies, in_window = {}, 0
end

function request()
  local n = count
  count = count + 1
  local path = paths[(n + id - 1) % #paths + 1]
  local headers = {["User-Agent"] = agent, ["X-Bench-Sent"] = string.format("%.6f", now())}
  for name, text in pairs(extra) do headers[name] = text end
  if n % RECONNECT_EVERY == RECONNECT_EVERY - 1 then headers["Connection"] = "close" end
  if #cookies > 0 then
    headers["Cookie"] = cookies[(n * step + id - 1) % #cookies + 1]
  end
  return wrk.format("GET", path, headers)
end

local function header(headers, name)
  return headers[name] or headers[name:lower()]
end

local function add(into, text)
  local total = 0
  if text and text ~= "none" then
    for op, n in text:gmatch("(%a+)=(%d+)") do
      into[op] = (into[op] or 0) + tonumber(n)
      total = total + tonumber(n)
    end
  end
  return total
end

function response(status, headers, body)
  local at = now()
  answered = answered + 1
  local process = header(headers, "X-Bench-Process") or ""
  local pid = process:match("^pid=(%d+)") or "?"
  local path = header(headers, "X-Bench-Path") or "?"
  local key = pid .. " " .. path
  local first = not seen[key]
  seen[key] = true
  if first then distinct_by_worker[pid] = (distinct_by_worker[pid] or 0) + 1 end
  if at < window_start or at > window_end then return end
  in_window = in_window + 1
  local sent = tonumber(header(headers, "X-Bench-Sent") or "")
  if sent then latencies[#latencies + 1] = (at - sent) * 1000 end
  statuses[status] = (statuses[status] or 0) + 1
  local text = header(headers, "X-DynamoDB-Calls")
  local total = add(calls, text)
  if total > calls_max then calls_max = total end
  by_worker[pid] = (by_worker[pid] or 0) + 1
  -- The path comes from bench/middleware.py: answers on different connections come back in any order.
  if not first then
    steady_requests = steady_requests + 1
    add(steady_calls, text)
    if total > steady_max then steady_max = total end
  else
    cold_requests = cold_requests + 1
    add(cold_calls, text)
    if total > cold_max then cold_max = total end
  end
end

local function json(value)
  if type(value) == "table" then
    local parts = {}
    for k, v in pairs(value) do
      table.insert(parts, string.format("%q:%s", tostring(k), json(v)))
    end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif type(value) == "number" then
    return string.format("%.17g", value)
  end
  return string.format("%q", tostring(value))
end

function done(summary, latency, requests)
  local per_thread = {}
  for _, thread in ipairs(threads) do
    table.insert(per_thread, {
      answered = thread:get("in_window"), latencies = thread:get("latencies"), statuses = thread:get("statuses"), calls = thread:get("calls"),
      calls_max = thread:get("calls_max"), by_worker = thread:get("by_worker"),
      cold_requests = thread:get("cold_requests"), cold_calls = thread:get("cold_calls"),
      cold_max = thread:get("cold_max"), steady_requests = thread:get("steady_requests"),
      steady_calls = thread:get("steady_calls"), steady_max = thread:get("steady_max"),
      distinct_by_worker = thread:get("distinct_by_worker"),
    })
  end
  local out = {
    duration_us = summary.duration, requests = summary.requests,
    errors = summary.errors,
    p50_us = latency:percentile(50), p95_us = latency:percentile(95), p99_us = latency:percentile(99),
    max_us = latency.max, threads = per_thread,
  }
  io.write("BENCH-JSON " .. json(out) .. "\n")
end
