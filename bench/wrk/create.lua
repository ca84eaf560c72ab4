-- POST a new post as a random user, its author. args: tokens file ("userId token" lines).
dofile("common.lua")
function request()
  local u = pick(inputs[1])
  return wrk.format("POST", "/api/collections/posts/records", auth_headers(u[2]), new_post_json(u[1]))
end
