-- GET a fixed path (args[1]); with a tokens file (args[2]: "userId token" lines), as a random user.
dofile("common.lua")
function request()
  if inputs[2] then
    return wrk.format("GET", inputs[1], { ["Authorization"] = pick(inputs[2])[2] })
  end
  return wrk.format("GET", inputs[1])
end
