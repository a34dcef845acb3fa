-- wrk script: POST a callback request with a different number each time.
local counter = 0
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

request = function()
  counter = counter + 1
  local n = (5000000 + id * 1000000 + counter) % 10000000
  local body = string.format('{"phone": "+38067%07d"}', n)
  return wrk.format("POST", "/api/v1/callbacks", {["Content-Type"] = "application/json"}, body)
end
