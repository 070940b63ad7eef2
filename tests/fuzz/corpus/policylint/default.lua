-- A sensible default for remote hosts.
--  * Only principal "ops" may run commands (others: no opinion -> default deny).
--  * Production (targets labelled env = "prod") is an ALLOW-LIST, the same for
--    `ssh web1 CMD` (c.kind "exec") and each line typed in a shell
--    (c.kind "shell_line"): read-only programs pass (commands.readonly, with
--    their arguments checked); sudo and known changes (systemctl
--    restart/reload, apt) need a review; lines the bastion cannot resolve
--    (opaque parts), interpreters, `... | sh`, lines that change later lines
--    (alias, PATH=...) and writes into files are denied, and so is everything
--    else, with a message saying how to ask for access. A deny-list cannot
--    protect production: see "Shell deny-lists are guard rails" in
--    bastion-policy(5).
--  * SFTP on production: files may be read, nothing else (c.kind "sftp").
--  * Elsewhere: privilege escalation (sudo, su, ...) needs a review, unanalysable
--    lines are denied, and so are shell lines that change what later lines
--    run (bind, alias, PROMPT_COMMAND=...); the rest is allowed.
--  * Typed without echo (c.shell.hidden, a password): only at a known password
--    prompt. Lines typed while another program runs (c.shell.nested) are
--    judged like any other line: that flag can be faked.
-- Every part of a compound line is checked: `ls; rm -rf /` is denied as a whole.
local commands = import("commands")

local function decide(verdict, reason)
  if verdict == "deny" then return deny(reason) end
  if verdict == "review" then return review{ reason = reason, approvers = { "oncall" }, timeout = 600 } end
  return allow()
end

-- The permissive rules for targets other than production (and, as before,
-- for command kinds without a shell command line, e.g. kubectl).
local function guard_rail(c, prod)
  if c.parse_error then
    return deny("cannot analyse this command line: " .. c.parse_error)
  end
  for _, part in ipairs(c.parts) do
    local prog = commands.part_program(part)
    local who = commands.escalation_of(part)
    -- In a brokered shell a line that rebinds keys, defines aliases or
    -- functions, or sets PROMPT_COMMAND/PATH changes what later lines run
    -- (a key bound to accept-line submits with no Enter for the bastion to
    -- hold): not on any target.
    if c.kind == "shell_line" and part.changes_shell then
      return deny("`" .. (prog or part.argv[1] or "?") .. "` changes what later lines run, which the bastion "
        .. "cannot follow in a brokered shell")
    end
    if who then
      return review{ reason = who .. " needs approval", approvers = { "oncall" }, timeout = 600 }
    end
    if prod and prog and commands.destructive[prog] then
      return deny(prog .. " is not allowed on production targets")
    end
  end
  return allow()
end

function on_command(c)
  -- SQL statements are for the database policy (postgres.lua) to judge.
  if c.kind == "sql" then return nil end
  if not commands.has(c.principals, "ops") then
    return nil
  end
  local prod = c.target.labels.env == "prod"
  if c.kind == "shell_line" then
    local hidden = commands.hidden_line_problem(c)
    if hidden then return deny(hidden) end
    if c.shell and c.shell.hidden then return allow() end  -- a password: no text to judge
    if prod and c.shell and c.shell.fullscreen then
      return deny("full-screen programs are not available on production")
    end
  end
  if c.kind == "sftp" then
    if not prod then return allow() end
    local ok, why = commands.sftp_read_only(c)
    if ok then return allow() end
    return deny(why .. " (production is read-only over sftp)")
  end
  -- The session channel itself; on production its lines and sftp
  -- operations are decided one by one (shell_line, sftp).
  if c.kind == "shell" then return allow() end
  if c.kind == "subsystem" then
    if prod and c.text ~= "sftp" then return deny("only the sftp subsystem is available on production") end
    return allow()
  end
  if prod and (c.kind == "exec" or c.kind == "shell_line") then
    if c.kind == "exec" and commands.brokered_shell(c) then return allow() end  -- each line is decided
    return decide(commands.judge_prod(c))
  end
  return guard_rail(c, prod)
end
