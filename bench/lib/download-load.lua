-- wrk script for the files benchmark: every connection downloads the same path over and over
-- (keep-alive). Prints one JSON line at the end: requests, bytes, seconds, errors (non-2xx, socket
-- errors and timeouts together).
function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format('{"requests":%d,"bytes":%d,"us":%d,"errors":%d}\n', summary.requests, summary.bytes, summary.duration, errors))
end
