-- GET one published post by id, anonymously. args: ids file (one id a line).
dofile("common.lua")
function request()
  return wrk.format("GET", "/api/collections/posts/records/" .. pick(inputs[1])[1])
end
