-- Post replies at a steady rate, as many members, for bench/pages.py.
--
--   wrk -t1 -c16 -d20s --latency -s bench/post_replies.lua URL -- RATE REQUESTS_FILE
--
-- REQUESTS_FILE is read as bench/members.lua reads it: one request a line,
-- "POST<tab>PATH<tab>COOKIE<tab>FORM", taken in turn.
--
-- wrk has no rate option (wrk2, which has one, is not packaged by Debian), but it asks
-- delay() before every request: each request here takes the next free slot of a fixed
-- schedule, RATE per second for this wrk thread, so the rate holds whatever the latency
-- as long as a connection is free. A server that falls behind is not asked to catch up
-- in a burst: the schedule restarts from now, so the offered rate is at most RATE.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } sala_bench_timespec;
int clock_gettime(int clock_id, sala_bench_timespec *tp);
]])

local CLOCK_MONOTONIC = 1
local clock = ffi.new("sala_bench_timespec")
local interval_ms = nil
local next_slot_ms = nil
local requests = {}
local next_index = 1

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1000000
end

function init(args)
  local rate = tonumber(args[1])
  assert(rate and rate > 0 and args[2], "usage: ... -- RATE REQUESTS_FILE")
  interval_ms = 1000 / rate
  for line in io.lines(args[2]) do
    local method, path, cookie, body = line:match("^(%u+)\t([^\t]*)\t([^\t]*)\t(.*)$")
    assert(method, "a line is not METHOD<tab>PATH<tab>COOKIE<tab>BODY")
    local headers = { Cookie = cookie, ["Content-Type"] = "application/x-www-form-urlencoded" }
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
end

function request()
  local chosen = requests[next_index]
  next_index = next_index % #requests + 1
  return chosen
end

function delay()
  local now = now_ms()
  if next_slot_ms == nil or next_slot_ms < now then
    next_slot_ms = now
  end
  local wait = next_slot_ms - now
  next_slot_ms = next_slot_ms + interval_ms
  return wait
end
