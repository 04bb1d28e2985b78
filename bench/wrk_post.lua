-- wrk script for the gateway bench: POST JSON bodies, report one machine-readable line at the end.
--
-- WRK_BODIES names a file with one JSON body per line. One line without "{n}": a static request
-- (wrk builds it once, the cheapest load). Several lines, or "{n}" in a line: each request takes
-- the next line in turn with "{n}" replaced by a per-thread counter, so every prompt is new (the
-- router's embedding cache cannot answer it).

local path = os.getenv("WRK_BODIES")
local bodies = {}
for line in io.lines(path) do
  if #line > 0 then
    bodies[#bodies + 1] = line
  end
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"

if #bodies == 1 and not string.find(bodies[1], "{n}", 1, true) then
  wrk.body = bodies[1]
else
  local counter = 0
  local prefix = tostring(os.time())
  function request()
    counter = counter + 1
    local body = bodies[(counter - 1) % #bodies + 1]
    body = string.gsub(body, "{n}", prefix .. "-" .. tostring(id) .. "-" .. counter)
    return wrk.format(nil, nil, nil, body)
  end
end

-- Each thread gets its own id (set from the main state), so counters never collide across threads.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,'
      .. '"errors_timeout":%d,"non_2xx":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max
  ))
end
