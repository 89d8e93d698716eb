-- The load of bench/crud_bench.py and bench/data_scale.py, driven by wrk (a C client).
-- Environment:
--   METHOD   GET (default), POST, PUT, PATCH
--   PATHS    a path, or "@file": one path a line, each request takes one at random
--   ROWS     optional file of "id<TAB>name" lines; a request takes one at random and
--            replaces {id} in the path and {name} in the body by its values
--   BODY     optional JSON body; {n} becomes a text unique to the request (RUN, the
--            thread and a counter), {r} a random integer
--   RUN      a tag unique to this wrk run (so two runs make different {n})
--   AUTH     the Authorization header value
-- At the end it prints one line: RESULT {json} with req/s of 2xx answers, latency
-- percentiles of all answers (wrk's own, ms), the requests and the answers by status.
local method = os.getenv("METHOD") or "GET"
local auth = os.getenv("AUTH") or ""
local body = os.getenv("BODY") or ""
local paths_spec = os.getenv("PATHS") or "/"
local rows_file = os.getenv("ROWS") or ""
local run = os.getenv("RUN") or tostring(os.time())

local function lines(name)
  local found = {}
  for line in io.lines(name) do
    if line ~= "" then found[#found + 1] = line end
  end
  return found
end

local paths, rows = {}, {}
if paths_spec:sub(1, 1) == "@" then paths = lines(paths_spec:sub(2)) else paths = {paths_spec} end
if rows_file ~= "" then
  for _, line in ipairs(lines(rows_file)) do
    local id, name = line:match("^([^\t]+)\t(.*)$")
    rows[#rows + 1] = {id = id, name = name}
  end
end

local threads = {}
setup = function(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local tid, counter = 0, 0
codes = {}  -- global: done() reads each thread's table
init = function(args)
  tid = tonumber(wrk.thread:get("tid")) or 0
  math.randomseed(os.time() + tid * 7919)
end

local function plain(text)  -- a replacement string for gsub, taken literally
  return (tostring(text):gsub("%%", "%%%%"))
end

request = function()
  counter = counter + 1
  local path = paths[math.random(#paths)]
  local payload = nil
  if body ~= "" then
    payload = body:gsub("{n}", plain(run .. "-" .. tid .. "-" .. counter)):gsub("{r}", plain(math.random(0, 100000)))
  end
  if #rows > 0 then
    local row = rows[math.random(#rows)]
    path = path:gsub("{id}", plain(row.id))
    if payload then payload = payload:gsub("{name}", plain(row.name)) end
  end
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  if auth ~= "" then headers["Authorization"] = auth end
  if payload then headers["Content-Type"] = "application/json" end
  return wrk.format(method, path, headers, payload)
end

response = function(status, headers, response_body)
  codes[status] = (codes[status] or 0) + 1
end

done = function(summary, latency, requests)
  -- `response` runs in each thread's own Lua state: the main state sees no codes, so the
  -- threads' tables are read back here.
  local merged = {}
  for _, thread in ipairs(threads) do
    local theirs = thread:get("codes")
    for status, n in pairs(theirs or {}) do merged[status] = (merged[status] or 0) + n end
  end
  local ok, parts = 0, {}
  for status, n in pairs(merged) do
    if status >= 200 and status < 300 then ok = ok + n end
    parts[#parts + 1] = string.format('"%d": %d', status, n)
  end
  local errors = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'RESULT {"rps": %.1f, "requests": %d, "ok": %d, "seconds": %.3f, "p50_ms": %.3f, "p90_ms": %.3f,'
      .. ' "p99_ms": %.3f, "max_ms": %.3f, "socket_errors": %d, "codes": {%s}}\n',
    ok / seconds, summary.requests, ok, seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000,
    errors.connect + errors.read + errors.write + errors.timeout,
    table.concat(parts, ", ")))
end
