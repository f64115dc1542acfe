-- wrk script: POST the hotline complaint in BODY_FILE; with KEYED=1 every request carries its own
-- Idempotency-Key (the submission-store path), otherwise none (Kafka only).
local body_file = os.getenv("BODY_FILE")
local f = assert(io.open(body_file, "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = os.getenv("API_KEY")
local keyed = os.getenv("KEYED") == "1"
local prefix = nil
local counter = 0

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  prefix = string.format("bench-%08x", math.random(0, 0x7fffffff))
end

function request()
  if keyed then
    counter = counter + 1
    wrk.headers["Idempotency-Key"] = prefix .. "-" .. counter
  end
  return wrk.format()
end

function done(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"seconds\": %.3f, \"non2xx\": %d, \"errors\": %d, " ..
    "\"p50_ms\": %.2f, \"p99_ms\": %.2f}\n",
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
