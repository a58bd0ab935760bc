-- wrk script: every request is one machine of bench/lib/boot-clients.ts (same path text, built
-- here so that wrk, not Node, pays for it). BP_DISTINCT machines (1 = hot: one request repeated),
-- visited in a permuted order so that consecutive requests are different machines.
-- Prints one JSON line at the end: requests, seconds, latency percentiles (ms), errors.
local distinct = tonumber(os.getenv("BP_DISTINCT") or "100000")
local threads = {}
local tid = 0

function setup(thread)
  thread:set("tid", tid)
  tid = tid + 1
  table.insert(threads, thread)
end

local function hex2(b) return string.format("%02x", b % 256) end
local function hexhyp(s)
  local out = {}
  for i = 1, #s do out[#out + 1] = hex2(string.byte(s, i)) end
  return table.concat(out, "-")
end
local PRODUCT = hexhyp("Standard PC (Q35 + ICH9, 2009)")
local MANUFACTURER = hexhyp("QEMU")
local i = 0

function init(args)
  i = tid or 0
end

function request()
  local n = (i * 7919) % distinct
  i = i + 2
  local a, b, c = math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256
  local path = "/boot?mac=52-54-00-" .. hex2(a) .. "-" .. hex2(b) .. "-" .. hex2(c)
    .. "&uuid=8a5f" .. hex2(a) .. hex2(b) .. "-" .. hex2(c) .. "00-4000-8000-000000000000"
    .. "&buildarch=x86_64&platform=efi&ip=10." .. a .. "." .. b .. "." .. c
    .. "&hostname_hex=&serial_hex=" .. hexhyp("SN" .. n) .. "&manufacturer_hex=" .. MANUFACTURER
    .. "&product_hex=" .. PRODUCT .. "&asset_hex=&user-class_hex="
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"us":%d,"p50":%.3f,"p99":%.3f,"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
