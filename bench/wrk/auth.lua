-- POST auth-with-password for a random user. args: users file ("email password" lines).
dofile("common.lua")
function request()
  local u = pick(inputs[1])
  local body = string.format('{"identity":"%s","password":"%s"}', u[1], u[2])
  return wrk.format("POST", "/api/collections/users/auth-with-password", json_headers, body)
end
