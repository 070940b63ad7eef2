-- OCI/Docker registries behind an HTTP target (type = "http", registry =
-- true): each registry API request is decided (c.kind == "http"; facts in
-- c.http: method, path, query, headers, and c.http.registry = { repository,
-- reference, action } with action "pull", "push", "delete", "catalog",
-- "ping" or "" for anything else).
--  * everyone allowed on the target pulls and pings (the API version check);
--  * principal "ci-push" pushes to repositories under "app" and "ci/"
--    without waiting; anyone else's push waits for "oncall";
--  * the catalog is for "ops";
--  * deletes are refused (garbage collection is an operator's job);
--  * a cross-repository mount (r.from ~= "") reads r.from: a pull, which
--    everyone here may do (check r.from where pulls are limited);
--  * anything that is not a registry API call is refused.
local commands = import("commands")

local function under(repo, prefix)
  return repo == prefix or repo:sub(1, #prefix + 1) == prefix .. "/"
end

function on_command(c)
  if c.kind ~= "http" then return nil end
  local r = c.http.registry
  if not r then return deny("not a registry target") end
  local a = r.action
  if a == "ping" or a == "pull" then return allow() end
  if a == "catalog" then
    if commands.has(c.principals, "ops") then return allow() end
    return deny("the catalog is for ops")
  end
  if a == "push" then
    if commands.has(c.principals, "ci-push") and (under(r.repository, "app") or under(r.repository, "ci")) then
      return allow()
    end
    return review{ reason = "push to " .. r.repository, approvers = { "oncall" } }
  end
  if a == "delete" then return deny("deleting from the registry is not allowed: " .. r.repository) end
  return deny("not a registry API call: " .. c.http.method .. " " .. c.http.path)
end
