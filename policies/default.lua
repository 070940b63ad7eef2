-- A sensible default for remote hosts.
--  * Only principal "ops" may run commands (others: no opinion -> default deny).
--  * On targets labelled env = "prod", obviously destructive commands are denied.
--  * Privilege escalation (sudo, su, ...) needs a human approval (review).
--  * Lines the bastion cannot analyse (unbalanced quotes) are denied.
-- Every part of a compound line is checked: `ls; rm -rf /` is denied as a whole.
local commands = import("commands")

function on_command(c)
  -- SQL statements are for the database policy (postgres.lua) to judge.
  if c.kind == "sql" then return nil end
  if not commands.has(c.principals, "ops") then
    return nil
  end
  if c.parse_error then
    return deny("cannot analyse this command line: " .. c.parse_error)
  end
  local prod = c.target.labels.env == "prod"
  for _, part in ipairs(c.parts) do
    local prog = commands.program(part.argv)
    if prog and commands.escalation[prog] then
      return review{ reason = prog .. " needs approval", approvers = { "oncall" }, timeout = 600 }
    end
    if prod and prog and commands.destructive[prog] then
      return deny(prog .. " is not allowed on production targets")
    end
    if prod and prog == "systemctl" and (part.argv[2] == "stop" or part.argv[2] == "disable") then
      return deny("stopping services on production needs a change ticket")
    end
  end
  return allow()
end
