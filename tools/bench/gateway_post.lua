-- wrk script for the API gateway benchmark: POST a 64-byte JSON body
-- ({"name":"xxx..."}) and print one machine-readable line, in the shape the
-- baselines' http/post.lua prints, so both runs read the same way.
wrk.method = "POST"
wrk.body = '{"name":"' .. string.rep("x", 53) .. '"}'
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
