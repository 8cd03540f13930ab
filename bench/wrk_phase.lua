-- One throughput phase for wrk (bench/wrk.py runs it): GET the phase's paths in turn, each request
-- with the next signed-in session's cookie (round-robin over every session, so a per-session cache
-- hits no more than it would with as many real readers), and count what the load generator can't
-- see in wrk's own summary: statuses, DynamoDB calls per request (X-DynamoDB-Calls), which worker
-- answered (X-Bench-Process), and the calls of each page's first view on a worker (cold) apart
-- from the later ones (steady). Each wrk thread keeps its own view of "first": a phase that judges
-- cold views runs one thread (bench/wrk.py, threads=1). Answers that name the session's reader
-- group (X-Bench-Reader, echoed from its cookie) are also counted by group: requests, calls, max.
-- Cold and steady views are also counted by the access patterns that made their calls
-- (X-DynamoDB-Patterns), when the server names them.
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
-- Each thread keeps every count in ONE flat table (`flat`; the named tables below are views of
-- it) because done() can take only one table from a thread safely: wrk 4.1's thread:get pops one
-- slot too many from the thread's Lua stack for every table it copies (script_copy_value pops the
-- table, then script_thread_get pops again). The first extra pop lands in the stack's reserved
-- bottom slot; more write outside the stack (the likely cause of a "PANIC: unprotected error in
-- call to Lua API (stack overflow)" after a phase, seen once with ten tables a thread). Nested
-- tables don't copy either; scalars do.

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

local SEP = "\t"
local VIEWS = {"statuses", "calls", "cold_calls", "cold_mix", "steady_calls", "by_worker", "distinct_by_worker",
               "reader_requests", "reader_calls", "reader_max", "cold_patterns", "steady_patterns"}

-- A table whose entries live in `flat` under "<name>\t<key>" (the thread's one table for done()).
function view(name)
  return setmetatable({}, {
    __index = function(_, key) return flat[name .. SEP .. tostring(key)] end,
    __newindex = function(_, key, value) flat[name .. SEP .. tostring(key)] = value end,
  })
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
  flat, latency_count, seen = {}, 0, {}
  statuses, calls, cold_calls, steady_calls = view("statuses"), view("calls"), view("cold_calls"), view("steady_calls")
  cold_mix = view("cold_mix")  -- first views by their X-DynamoDB-Calls text: which calls make the max
  -- Views by their X-DynamoDB-Patterns text (bench/middleware.py): which access patterns made the calls.
  cold_patterns, steady_patterns = view("cold_patterns"), view("steady_patterns")
  by_worker, distinct_by_worker = view("by_worker"), view("distinct_by_worker")
  calls_max, cold_requests, cold_max, steady_requests, steady_max, answered = 0, 0, 0, 0, 0, 0
  step = tonumber(args[2] or "1")  -- threads: session k goes to thread k mod step
  window_start, window_end = tonumber(args[3] or "0"), tonumber(args[4] or "1e18")
  in_window = 0
  reader_requests, reader_calls, reader_max = view("reader_requests"), view("reader_calls"), view("reader_max")
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
  if sent then
    latency_count = latency_count + 1
    flat[latency_count] = (at - sent) * 1000  -- the latencies: flat's integer keys
  end
  statuses[status] = (statuses[status] or 0) + 1
  local text = header(headers, "X-DynamoDB-Calls")
  local total = add(calls, text)
  if total > calls_max then calls_max = total end
  by_worker[pid] = (by_worker[pid] or 0) + 1
  local reader = header(headers, "X-Bench-Reader")
  if reader then
    reader_requests[reader] = (reader_requests[reader] or 0) + 1
    reader_calls[reader] = (reader_calls[reader] or 0) + total
    if total > (reader_max[reader] or 0) then reader_max[reader] = total end
  end
  -- The path comes from bench/middleware.py: answers on different connections come back in any order.
  local named = header(headers, "X-DynamoDB-Patterns")
  if not first then
    steady_requests = steady_requests + 1
    add(steady_calls, text)
    if total > steady_max then steady_max = total end
    if named then steady_patterns[named] = (steady_patterns[named] or 0) + 1 end
  else
    cold_requests = cold_requests + 1
    add(cold_calls, text)
    local mix = text or "none"
    cold_mix[mix] = (cold_mix[mix] or 0) + 1
    if total > cold_max then cold_max = total end
    if named then cold_patterns[named] = (cold_patterns[named] or 0) + 1 end
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
    local one = {
      answered = thread:get("in_window"), calls_max = thread:get("calls_max"),
      cold_requests = thread:get("cold_requests"), cold_max = thread:get("cold_max"),
      steady_requests = thread:get("steady_requests"), steady_max = thread:get("steady_max"),
      latencies = {},
    }
    for _, name in ipairs(VIEWS) do one[name] = {} end
    for key, value in pairs(thread:get("flat") or {}) do  -- the thread's only table
      if type(key) == "number" then
        one.latencies[key] = value
      else
        local name, inner = key:match("^([^\t]+)\t(.*)$")
        one[name][inner] = value
      end
    end
    table.insert(per_thread, one)
  end
  local out = {
    duration_us = summary.duration, requests = summary.requests,
    errors = summary.errors,
    p50_us = latency:percentile(50), p95_us = latency:percentile(95), p99_us = latency:percentile(99),
    max_us = latency.max, threads = per_thread,
  }
  io.write("BENCH-JSON " .. json(out) .. "\n")
end
