-- Supporters as wrk plays them (PAGE, MODE and RETURNING come from the environment):
--   MODE=visits  the campaign page; RETURNING per cent of the requests carry the cookie of an earlier
--                visit (a reload), the others are new visitors with no cookie;
--   MODE=clicks  each new visitor loads the page, then follows its send link with its cookie: every
--                click is a new visit's first, counted (the links spread over the targets as the page does).
-- Prints wrk's figures as one JSON line at the end: bench/wrk_report.lua's `done`, at the path in REPORT.
dofile(os.getenv("REPORT"))
local page = os.getenv("PAGE")
local mode = os.getenv("MODE") or "visits"
local returning = tonumber(os.getenv("RETURNING") or "0")
local cookies, clicks = {}, {}
local counter = 0

init = function(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

request = function()
  if mode == "clicks" and #clicks > 0 then
    local click = table.remove(clicks)
    return wrk.format("GET", click[1], { ["Cookie"] = click[2] })
  end
  if #cookies > 0 and math.random(100) <= returning then
    return wrk.format("GET", page, { ["Cookie"] = cookies[math.random(#cookies)] })
  end
  return wrk.format("GET", page)
end

response = function(status, headers, body)
  local set = headers["Set-Cookie"]
  if status ~= 200 or set == nil then return end
  local cookie = set:match("^([^;]+)")
  if #cookies < 500 then
    table.insert(cookies, cookie)
  else
    counter = counter + 1
    cookies[(counter % 500) + 1] = cookie
  end
  if mode == "clicks" then
    local link = body:match('href="(/c/[^"]+/send/x/[^"]+)"')
    if link then table.insert(clicks, { link:gsub("&amp;", "&"), cookie }) end
  end
end
