-- Requests as many signed-in members, for bench/pages.py.
--
--   wrk -t2 -c32 -d20s --latency -s bench/members.lua URL -- REQUESTS_FILE
--
-- REQUESTS_FILE has one request a line, "METHOD<tab>PATH<tab>COOKIE<tab>BODY" (BODY
-- empty for a GET; a POST's body is its url-encoded form). Each request takes the next
-- line in turn, so 32 connections read as 32 members rather than one member in 32 tabs,
-- whose every page view would update the same row. Each wrk thread starts at its own
-- place in the file.

local requests = {}
local next_index = 1
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  local path = args[1]
  assert(path, "usage: ... -- REQUESTS_FILE")
  for line in io.lines(path) do
    local method, path, cookie, body = line:match("^(%u+)\t([^\t]*)\t([^\t]*)\t(.*)$")
    assert(method, "a line is not METHOD<tab>PATH<tab>COOKIE<tab>BODY")
    local headers = { Cookie = cookie }
    if body == "" then
      body = nil
    else
      headers["Content-Type"] = "application/x-www-form-urlencoded"
    end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
  next_index = ((thread_number or 1) - 1) * math.floor(#requests / 2) % #requests + 1
end

function request()
  local chosen = requests[next_index]
  next_index = next_index % #requests + 1
  return chosen
end
