-- Read-only access for principal "viewer": the allow-list of read-only
-- programs (commands.readonly, arguments checked), no writes into files, no
-- interpreters or lines the bastion cannot resolve, no shells; over sftp only
-- files opened for reading. Everyone else: allowed.
local commands = import("commands")

function on_command(c)
  if not commands.has(c.principals, "viewer") then return allow() end
  if c.kind == "sftp" then
    local ok, why = commands.sftp_read_only(c)
    if ok then return allow() end
    return deny("read-only access: " .. why)
  end
  -- The sftp channel: each operation is then decided above.
  if c.kind == "subsystem" and c.text == "sftp" then return allow() end
  if c.kind ~= "exec" and c.kind ~= "shell_line" then
    return deny("read-only access: interactive shells are not available")
  end
  if c.kind == "shell_line" then
    local hidden = commands.hidden_line_problem(c)
    if hidden then return deny("read-only access: " .. hidden) end
  end
  local verdict, why = commands.judge_prod(c, "read-only")
  if verdict ~= "allow" then return deny("read-only access: " .. why) end
  return allow()
end
