-- wrk script for bench/run.py. With BENCH_BODIES naming a file of JSON bodies, one per line
-- (written by bench/payloads.py), it POSTs them in turn to the URL given to wrk; without it,
-- it GETs the URL. At the end it prints one line, "BENCH_RESULT {json}", for bench/run.py.

local path = os.getenv("BENCH_BODIES")
local requests = {}
local next_index = 0

function init(args)
  if not path then
    return
  end
  for line in io.lines(path) do
    if #line > 0 then
      requests[#requests + 1] =
        wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, line)
    end
  end
  if #requests == 0 then
    error("no bodies in " .. path)
  end
end

if path then
  function request()
    next_index = next_index % #requests + 1
    return requests[next_index]
  end
end

function done(summary, latency, requests_done)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
