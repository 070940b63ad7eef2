-- Shared helpers and command lists, imported by the example policies: import("commands").
local M = {}

-- Commands that destroy data or take a host down.
M.destructive = {
  rm = true, shred = true, mkfs = true, dd = true, wipefs = true, fdisk = true, parted = true,
  shutdown = true, reboot = true, halt = true, poweroff = true, init = true,
  ["mkfs.ext4"] = true, ["mkfs.xfs"] = true, truncate = true,
}

-- Commands that change who you are.
M.escalation = { sudo = true, su = true, doas = true, pkexec = true, runuser = true }

-- The program a simple command runs: "/usr/bin/rm" -> "rm", skipping
-- leading VAR=value assignments and `env`/`command`/`exec`/`nohup` wrappers.
function M.program(argv)
  local i = 1
  while argv[i] do
    local w = argv[i]
    if w:find("=", 1, true) and not w:find("/", 1, true) then
      i = i + 1
    elseif w == "env" or w == "command" or w == "exec" or w == "nohup" or w == "time" or w == "nice" then
      i = i + 1
    else
      return (w:gsub("^.*/", "")), i
    end
  end
  return nil, i
end

-- True when `list` (e.g. c.principals) contains `value`.
function M.has(list, value)
  for _, v in ipairs(list) do
    if v == value then return true end
  end
  return false
end

return M
