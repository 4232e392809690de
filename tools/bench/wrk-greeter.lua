-- wrk script: call Greeter.Hello on a greeter-server over the http transport
-- (POST / with the Micro-* headers and a JSON body of exactly 64 bytes), and
-- print one machine-readable line like the nginx baseline's post.lua:
--   wrk -t2 -c64 -d5s -s tools/bench/wrk-greeter.lua http://127.0.0.1:PORT/
local name = string.rep("x", 64 - string.len('{"name":""}'))
wrk.method = "POST"
wrk.body = '{"name":"' .. name .. '"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Micro-Service"] = "greeter"
wrk.headers["Micro-Endpoint"] = "Greeter.Hello"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
