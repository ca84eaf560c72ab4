-- 90% anonymous views of published posts, 10% creates by a random user.
-- args: ids file, tokens file.
dofile("common.lua")
function request()
  if math.random(10) == 1 then
    local u = pick(inputs[2])
    return wrk.format("POST", "/api/collections/posts/records", auth_headers(u[2]), new_post_json(u[1]))
  end
  return wrk.format("GET", "/api/collections/posts/records/" .. pick(inputs[1])[1])
end
