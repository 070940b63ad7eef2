-- Just-in-time: no standing privilege for the dangerous things.
--   * DROP and TRUNCATE on a database wait for a "dba-lead";
--   * sudo/su on a host waits for "oncall" (two of them on env = "prod");
--   * users on a time-boxed access grant (ssh access@bastion request ...)
--     get read-only SQL and no shells, whatever their grant says.
-- The held command runs exactly as submitted once approved, in the same
-- session, once; the requester never approves their own.
local commands = import("commands")

function on_command(c)
  if c.kind == "sql" then
    local q = c.sql
    if q.statement == "drop" or q.statement == "truncate" then
      return review{ reason = q.statement:upper() .. " needs a dba-lead", approvers = { "dba-lead" }, timeout = 900 }
    end
    if c.grant and q.writes_data then
      return deny("access grant #" .. c.grant.id .. " is read-only")
    end
    return nil
  end
  if c.kind == "exec" or c.kind == "shell" or c.kind == "shell_line" then
    if c.grant and c.kind == "shell" then
      return deny("access grant #" .. c.grant.id .. " allows commands, not shells")
    end
    for _, part in ipairs(c.parts) do
      local prog = commands.escalation_of(part)
      if prog then
        local prod = c.target.labels.env == "prod"
        return review{ reason = prog .. " needs oncall", approvers = { "oncall" },
                       min_approvals = prod and 2 or 1, timeout = 600 }
      end
    end
  end
  return nil
end
