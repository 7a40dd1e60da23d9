-- loadtest/wrk/http.lua — the wrk script of compare.sh's "http" suite.
--
--   wrk -t1 -c64 -d5s --latency -s loadtest/wrk/http.lua http://127.0.0.1:8080/          # keep-alive
--   wrk -t1 -c64 -d5s --latency -s loadtest/wrk/http.lua http://127.0.0.1:8080/ -- 16    # pipelined
--
-- With an argument DEPTH > 1, each write carries DEPTH requests for the URL's path, sent
-- back to back before any response is read (HTTP pipelining); wrk counts every response
-- as a request, and measures latency per batch. Without one, wrk's own request loop runs.
--
-- At the end it prints one machine-readable line (latencies in microseconds, from wrk's
-- histogram), which compare.sh parses:
--   wrkresult requests=<n> duration_us=<us> rps=<r> p50_us=<us> p99_us=<us> errors=<n>

local depth = 1

init = function(args)
  if args[1] ~= nil then depth = tonumber(args[1]) end
  if depth > 1 then
    local reqs = {}
    for i = 1, depth do
      reqs[i] = wrk.format(nil, nil)
    end
    local batch = table.concat(reqs)
    request = function()
      return batch
    end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrkresult requests=%d duration_us=%d rps=%.1f p50_us=%.1f p99_us=%.1f errors=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
