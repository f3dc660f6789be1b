-- wrk script: POST /api/v1/identify with one photo as multipart field "photo".
-- PHOTO (file) and KEY (API key) come from the environment.
local f = assert(io.open(os.getenv("PHOTO"), "rb"))
local data = f:read("*all")
f:close()
local b = "facerecbenchboundary7d2a"
wrk.method = "POST"
wrk.body = "--" .. b .. "\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\n" ..
           "Content-Type: image/jpeg\r\n\r\n" .. data .. "\r\n--" .. b .. "--\r\n"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. b
wrk.headers["X-API-Key"] = os.getenv("KEY")

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
