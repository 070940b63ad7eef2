-- Shared helpers and command lists, imported by the example policies: import("commands").
local M = {}

-- Commands that destroy data or take a host down (a guard rail for
-- permissive targets; production uses the allow-list below instead).
M.destructive = {
  rm = true, shred = true, mkfs = true, dd = true, wipefs = true, fdisk = true, parted = true,
  shutdown = true, reboot = true, halt = true, poweroff = true, init = true,
  ["mkfs.ext4"] = true, ["mkfs.xfs"] = true, truncate = true,
}

-- Commands that change who you are.
M.escalation = { sudo = true, su = true, doas = true, pkexec = true, runuser = true }

-- Programs that only read, with no shell escape and no pager, allowed on
-- production as long as check_args below finds nothing wrong. Never add a
-- pager or a tool that runs commands (less, more, man, vim, git, tar, rsync,
-- ssh, awk, sed, python...): see "Shell deny-lists are guard rails" in
-- bastion-policy(5).
M.readonly = {
  ls = true, cat = true, head = true, tail = true, grep = true, wc = true, df = true, du = true,
  free = true, uptime = true, ps = true, id = true, hostname = true, uname = true, date = true,
  whoami = true, stat = true, ss = true, ip = true, echo = true, pwd = true, ["true"] = true,
  find = true, journalctl = true, systemctl = true,
}

-- Wrappers that change nothing but how a read-only program runs: `nice ls`
-- is as harmless as `ls`. Others (flock creates its file, nohup writes
-- nohup.out, chroot/nsenter change the world the program sees) are not.
M.harmless_wrappers = {
  nice = true, ionice = true, timeout = true, stdbuf = true, setsid = true, env = true,
  command = true, exec = true, time = true, xargs = true, busybox = true,
}

-- Programs that read a password with echo off: a hidden line typed while one
-- of them runs is an answer to its prompt.
M.secret_prompts = { sudo = true, su = true, ssh = true, mysql = true, psql = true, passwd = true, gpg = true }

-- The program a simple command runs: "/usr/bin/rm" -> "rm", skipping
-- leading VAR=value assignments and `env`/`command`/`exec`/`nohup` wrappers.
-- Prefer part_program(part), which uses the parser's unwrapping.
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

-- The program of a part of c.parts: the parser's (wrappers removed), or the
-- old word-based guess when the part is opaque.
function M.part_program(part)
  return part.program or (M.program(part.argv))
end

-- The escalation a part goes through (sudo, su, doas, runuser, pkexec),
-- wrapped or not (`nice sudo rm`), or nil.
function M.escalation_of(part)
  for _, w in ipairs(part.wrappers) do
    if M.escalation[w] then return w end
  end
  local prog = M.part_program(part)
  if prog and M.escalation[prog] then return prog end
  if part.sudo then return "sudo" end
end

-- True when `list` (e.g. c.principals) contains `value`.
function M.has(list, value)
  for _, v in ipairs(list) do
    if v == value then return true end
  end
  return false
end

local function starts(s, prefix) return s:sub(1, #prefix) == prefix end

-- A short-option cluster ("-tanK") holding one of `letters`.
local function short_has(w, letters)
  return w:match("^%-[^%-]") ~= nil and w:find("[" .. letters .. "]", 2) ~= nil
end

-- `--NAME` or `--NAME=VALUE` spelling long option `name`, abbreviated or
-- not: getopt_long takes any unambiguous prefix (`ss --di=F` is --diag=F),
-- and an ambiguous one is an error, so any prefix counts.
local function long_opt(w, name)
  local given = w:match("^%-%-([^=]+)")
  return given ~= nil and name:sub(1, #given) == given
end

-- Per-program argument checks for the read-only list: a reason when the
-- arguments make the program change something (or run something), else nil.
local arg_checks = {}

function arg_checks.find(args)
  for i = 2, #args do
    local w = args[i]
    if w == "-exec" or w == "-execdir" or w == "-ok" or w == "-okdir" or w == "-delete" or w == "-fls"
        or starts(w, "-fprint") then
      return "find " .. w .. " runs or changes something"
    end
  end
end

function arg_checks.date(args)
  local i = 2
  while args[i] do
    local w = args[i]
    if long_opt(w, "set") or short_has(w, "s") then return "date --set changes the clock" end
    if w == "-d" or w == "-f" or w == "-r" or w == "--date" or w == "--file" or w == "--reference" then
      i = i + 1  -- its value
    elseif not starts(w, "-") and not starts(w, "+") then
      return "date with an operand sets the clock"
    end
    i = i + 1
  end
end

function arg_checks.hostname(args)
  for i = 2, #args do
    local w = args[i]
    if not starts(w, "-") or short_has(w, "Fb") or long_opt(w, "file") or long_opt(w, "boot") then
      return "hostname with a name or a file sets the host name"
    end
  end
end

function arg_checks.ss(args)
  for i = 2, #args do
    local w = args[i]
    if short_has(w, "KD") or long_opt(w, "kill") or long_opt(w, "diag") then
      return "ss --kill and --diag change sockets or write a file"
    end
  end
end

-- ip: only options that format output, then OBJECT [show|list|get].
local ip_options = {
  ["-4"] = true, ["-6"] = true, ["-0"] = true, ["-br"] = true, ["-brief"] = true, ["-c"] = true,
  ["-color"] = true, ["-s"] = true, ["-stats"] = true, ["-statistics"] = true, ["-d"] = true,
  ["-details"] = true, ["-h"] = true, ["-human"] = true, ["-j"] = true, ["-json"] = true, ["-p"] = true,
  ["-pretty"] = true, ["-o"] = true, ["-oneline"] = true, ["-t"] = true, ["-timestamp"] = true,
}
local ip_verbs = { show = true, list = true, lst = true, ls = true, get = true }
function arg_checks.ip(args)
  local i = 2
  while args[i] and starts(args[i], "-") do
    if not ip_options[args[i]] then return "ip " .. args[i] .. " is not a display option" end
    i = i + 1
  end
  if not args[i] then return nil end  -- `ip` alone prints usage
  if args[i] == "netns" and args[i + 1] ~= "list" and args[i + 1] ~= "ls" then
    return "ip netns runs commands in or changes namespaces"
  end
  local verb = args[i + 1]
  if verb and not ip_verbs[verb] then
    return "ip " .. args[i] .. " " .. verb .. " changes the network"
  end
end

-- journalctl: its pager is less (`!cmd` runs a shell), and some options
-- change the journal.
local journal_changes = {
  ["--rotate"] = true, ["--flush"] = true, ["--sync"] = true, ["--relinquish-var"] = true,
  ["--smart-relinquish-var"] = true, ["--setup-keys"] = true, ["--update-catalog"] = true,
}
function arg_checks.journalctl(args)
  local no_pager = false
  for i = 2, #args do
    local w = args[i]
    if w == "--no-pager" then no_pager = true end
    for name in pairs(journal_changes) do
      if long_opt(w, name:sub(3)) then return "journalctl " .. w .. " changes the journal" end
    end
    if long_opt(w, "vacuum-size") or long_opt(w, "vacuum-files") or long_opt(w, "vacuum-time") then
      return "journalctl " .. w .. " changes the journal"
    end
    -- (--cursor itself only reads: an exact name wins over an abbreviation)
    if long_opt(w, "cursor-file") and not w:match("^%-%-cursor=") and w ~= "--cursor" then
      return "journalctl --cursor-file writes a file"
    end
  end
  if not no_pager then return "journalctl needs --no-pager (its pager runs shell commands)" end
end

-- The first word after the program that is not an option (a verb).
local function first_operand(args)
  for i = 2, #args do
    if not starts(args[i], "-") then return args[i] end
  end
end

-- systemctl: status only, without a pager and on this host. Only options
-- known to take no value (and -n N) are accepted: the value of any other
-- (`-p status restart`) would be taken for the verb.
local systemctl_flags = {
  ["--no-pager"] = true, ["-l"] = true, ["--full"] = true, ["-a"] = true, ["--all"] = true, ["-q"] = true,
  ["--quiet"] = true, ["--no-legend"] = true, ["--plain"] = true, ["--system"] = true,
}
function arg_checks.systemctl(args)
  local no_pager = false
  local verb
  local i = 2
  while args[i] do
    local w = args[i]
    local lines = w:match("^%-n%d+$") or w:match("^%-%-lines=%d+$")
    if w == "--no-pager" then no_pager = true end
    if short_has(w, "HM") or long_opt(w, "host") or long_opt(w, "machine") then
      return "systemctl on another host or machine"
    elseif w == "-n" or w == "--lines" then
      if not (args[i + 1] or ""):match("^%d+$") then return "systemctl " .. w .. " needs a number" end
      i = i + 1
    elseif starts(w, "-") and not lines and not systemctl_flags[w] then
      return "systemctl option " .. w .. " is not known to be read-only"
    elseif not starts(w, "-") and not verb then
      verb = w
    end
    i = i + 1
  end
  if verb ~= "status" then return "systemctl " .. tostring(verb) .. " is not read-only" end
  if not no_pager then return "systemctl status needs --no-pager (its pager runs shell commands)" end
end

-- Programs whose check reads their arguments: those must be known words,
-- not globs or run-time expansions (a file named -delete makes `find . *`
-- destructive; one named --vacuum-size=1 does the same to journalctl).
local checks_args = { find = true, date = true, hostname = true, ss = true, ip = true, journalctl = true,
                      systemctl = true }

-- The words of the part before its program (wrappers and their options).
local function wrapper_words(part)
  local out = {}
  for i = 1, #part.argv - #(part.args or {}) do out[#out + 1] = part.argv[i] end
  return out
end

local function writes_files(part)
  for _, target in ipairs(part.writes) do
    if target ~= "/dev/null" then return target end
  end
end

local shells = { sh = true, bash = true, dash = true, zsh = true, ksh = true, ash = true, mksh = true }

-- A bare shell reading its script from stdin, when the bastion decides each
-- of its lines (c.lines_decided): `ssh web1 bash < script`.
function M.brokered_shell(c)
  if not c.lines_decided or #c.parts ~= 1 then return false end
  local p = c.parts[1]
  return p.program ~= nil and shells[p.program] == true and p.reads_script == true and not p.pipe_into_shell
    and #p.writes == 0 and #p.redirects == 0 and #p.wrappers == 0
end

local function ask(c)
  return "ask for access with `ssh access@bastion request " .. c.target.name .. " --for 30m --reason ...`"
end

-- The production allow-list for one command line (c.kind "exec" or
-- "shell_line"). Returns "allow", or "deny"/"review" and a reason. Every part
-- counts, nested ones included; a deny anywhere wins over a review.
-- `list` names the allow-list in messages (default "production").
function M.judge_prod(c, list)
  list = list or "production"
  local function not_listed(what) return what .. " is not on the " .. list .. " allow-list; " .. ask(c) end
  if c.parse_error then return "deny", "cannot analyse this command line: " .. c.parse_error end
  local review_reason
  for _, part in ipairs(c.parts) do
    local prog = part.program
    local shown = prog or part.argv[1] or "?"
    if part.opaque then
      return "deny", "cannot tell what `" .. table.concat(part.argv, " ") .. "` runs: " .. part.opaque
    end
    if part.pipe_into_shell then return "deny", "piping into " .. shown .. " runs code the bastion cannot see" end
    if part.interpreter then return "deny", shown .. " runs code the bastion cannot see" end
    if part.changes_shell then return "deny", "`" .. table.concat(part.argv, " ") .. "` changes what later commands run" end
    local target = writes_files(part)
    if target then return "deny", "output redirection into " .. target .. " is not allowed" end
    if prog then
      local args = part.args or {}
      local verdict, why
      if part.sudo then
        verdict, why = "review", prog .. " as " .. part.sudo.user .. " needs approval"
      elseif (prog == "systemctl" and (first_operand(args) == "restart" or first_operand(args) == "reload"))
          or prog == "apt" or prog == "apt-get" then
        verdict, why = "review", prog .. " " .. tostring(first_operand(args)) .. " changes production and needs approval"
      elseif not M.readonly[prog] then
        return "deny", not_listed("`" .. prog .. "`")
      else
        for _, w in ipairs(part.wrappers) do
          if not M.harmless_wrappers[w] then return "deny", not_listed("`" .. w .. "` (running " .. prog .. ")") end
        end
        if M.has(part.wrappers, "time") then  -- /usr/bin/time -o FILE writes FILE
          for _, w in ipairs(wrapper_words(part)) do
            -- -o FILE, -oFILE, -ao FILE (a cluster of time's flags), --out=FILE
            if w:match("^%-[pavq]*o") or long_opt(w, "output") then return "deny", "`time -o` writes a file" end
          end
        end
        if checks_args[prog] and (part.globs or part.dynamic_args) then
          return "deny", prog .. " with arguments that expand at run time"
        end
        local check = arg_checks[prog]
        local problem = check and check(args)
        if problem then return "deny", problem .. "; " .. ask(c) end
      end
      if verdict == "review" and not review_reason then review_reason = why end
    end
  end
  if review_reason then return "review", review_reason end
  return "allow"
end

-- c.shell says a shell line was typed with echo off (a password). Such a
-- line is allowed only as the answer to a known password prompt: its text is
-- never shown, so it must not be a command.
function M.hidden_line_problem(c)
  local sh = c.shell
  if not (sh and sh.hidden) then return nil end
  if sh.nested and M.secret_prompts[sh.program] then return nil end
  return "input typed without echo is allowed only at a password prompt (sudo, su, ssh, mysql, psql, passwd, gpg)"
end

local read_modes = { read = true }

-- c.kind "sftp": only opening a file for reading is read-only.
function M.sftp_read_only(c)
  local f = c.sftp
  if not f then return false, "this sftp operation cannot be analysed" end
  if f.op ~= "open" then return false, "sftp " .. tostring(f.op) .. " changes files" end
  for _, m in ipairs(f.mode or {}) do
    if not read_modes[m] then return false, "sftp open for " .. m .. " changes files" end
  end
  if not M.has(f.mode or {}, "read") then return false, "sftp open without read" end
  return true
end

return M
