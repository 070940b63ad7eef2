-- Read-only access for principal "viewer": only an allowlist of commands,
-- no redirections into files, no shells. Everyone else: allowed.
local commands = import("commands")

local readonly = {
  ls = true, cat = true, head = true, tail = true, less = true, grep = true, wc = true,
  df = true, du = true, free = true, uptime = true, ps = true, top = true, id = true,
  hostname = true, uname = true, date = true, whoami = true, stat = true, find = true,
  journalctl = true,
}

function on_command(c)
  if not commands.has(c.principals, "viewer") then return allow() end
  if c.kind ~= "exec" then
    return deny("read-only access: interactive shells and file transfer are not available")
  end
  if c.parse_error then return deny("read-only access: " .. c.parse_error) end
  for _, part in ipairs(c.parts) do
    local prog = commands.program(part.argv)
    if prog == "find" then
      for _, w in ipairs(part.argv) do
        if w == "-delete" or w == "-exec" or w == "-execdir" or w == "-ok" then
          return deny("read-only access: find " .. w .. " is not allowed")
        end
      end
    end
    if prog == "systemctl" and part.argv[2] == "status" then
      -- allowed
    elseif not prog or not readonly[prog] then
      return deny("read-only access: " .. tostring(prog) .. " is not in the allowlist")
    end
    for i = 1, #part.redirects do
      local r = part.redirects[i]
      if r:find(">", 1, true) then
        return deny("read-only access: output redirection is not allowed")
      end
    end
  end
  return allow()
end
