-- PATCH a post as its author. args: "postId token" lines.
dofile("common.lua")
function request()
  local p = pick(inputs[1])
  local body = string.format('{"views":%d,"title":"Edited %d"}', math.random(0, 100000), math.random(1000000))
  return wrk.format("PATCH", "/api/collections/posts/records/" .. p[1], auth_headers(p[2]), body)
end
