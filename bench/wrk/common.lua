-- Shared by every scenario: per-thread random seeds, data files, and a JSON summary line.
-- wrk runs each thread in its own Lua state; setup() runs in the main state, once per thread.
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

-- The lines of a data file, each split on spaces.
function read_rows(path)
  local rows = {}
  for line in io.lines(path) do
    local row = {}
    for word in line:gmatch("%S+") do row[#row + 1] = word end
    if #row > 0 then rows[#rows + 1] = row end
  end
  assert(#rows > 0, "no rows in " .. path)
  return rows
end

-- Every scenario's init: a deterministic seed per thread (both servers see the same sequence
-- of requests), then the arguments in `inputs`: an API path as is, any other a data file's rows.
function init(args)
  math.randomseed(1000 + (tid or 0))
  inputs = {}
  for i, a in ipairs(args) do
    inputs[i] = a:match("^/api/") and a or read_rows(a)
  end
end

function pick(rows)
  return rows[math.random(#rows)]
end

-- A ~500-byte post body and the JSON of a new post by `author`.
local body = string.rep("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 9)
local tag_sets = { '["tech"]', '["news","tech"]', '["life"]', '[]', '["news"]' }
function new_post_json(author)
  return string.format(
    '{"title":"Bench post %d","body":"%s","published":%s,"author":"%s","tags":%s,"views":%d}',
    math.random(1000000), body, math.random(10) <= 7 and "true" or "false", author,
    tag_sets[math.random(#tag_sets)], math.random(0, 1000))
end

json_headers = { ["Content-Type"] = "application/json" }
function auth_headers(token)
  return { ["Content-Type"] = "application/json", ["Authorization"] = token }
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
