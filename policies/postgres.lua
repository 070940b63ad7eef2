-- PostgreSQL targets (c.kind == "sql"; c.sql says what the statement does,
-- as the real PostgreSQL parser sees it).
--   * analysts (principal "analyst"): connect with the target's "readonly"
--     credential (a database role with SELECT-only grants: PostgreSQL itself
--     refuses their writes, whatever the SQL text hides), no side-effect
--     functions, personal data masked;
--   * everyone else connects with the target's default credential;
--   * DROP, TRUNCATE and ALTER wait for a review by "dba-lead";
--   * UPDATE/DELETE without WHERE is refused;
--   * personal data is masked for everyone but "pii-reader";
--   * SQL that does not parse is refused (it cannot be judged).
local commands = import("commands")

-- Result columns masked before anyone sees them (user, recording, logs).
-- Output patterns apply too (e.g. API keys pasted into free-text columns).
local PII = { columns = { "email", ["customers.ssn"] = "last:4", phone = "hash" },
              patterns = { [[sk_live_[0-9A-Za-z]+]] }, replacement = "[key]" }

-- Functions that change something even inside a SELECT.
local SIDE_EFFECTS = {
  pg_terminate_backend = true, pg_cancel_backend = true, set_config = true, nextval = true,
  setval = true, pg_reload_conf = true, pg_rotate_logfile = true, pg_read_file = true,
  pg_read_binary_file = true, pg_ls_dir = true, lo_import = true, lo_export = true,
  lo_unlink = true, dblink = true, dblink_exec = true, pg_advisory_lock = true,
  pg_create_restore_point = true, pg_switch_wal = true,
}

local function side_effect(q)
  for _, f in ipairs(q.functions) do
    local name = f:lower():match("([^.]+)$")
    if SIDE_EFFECTS[name] then return name end
  end
  return nil
end

local function changes_role(c)
  local t = c.text:lower()
  return t:find("role", 1, true) or t:find("session authorization", 1, true)
end

-- The database role is the boundary the classifier cannot be: a target
-- without a "readonly" credential refuses analysts (never a fallback).
function on_session(s)
  if commands.has(s.principals, "analyst") then return allow{ credential = "readonly" } end
  return nil
end

function on_command(c)
  if c.kind ~= "sql" then return nil end
  local q = c.sql
  if q.parse_error then return deny("SQL that does not parse cannot be judged: " .. q.parse_error) end
  if q.copy_program then return deny("COPY ... PROGRAM runs programs on the database server") end

  if commands.has(c.principals, "analyst") then
    if q.writes_data then
      local what = q.statement
      if what == "select" or what == "explain" then what = "a write inside " .. what end
      return deny("read-only access: " .. what .. " is not allowed")
    end
    local fn = side_effect(q)
    if fn then return deny("read-only access: " .. fn .. "() changes the server") end
    if (q.statement == "set" or q.statement == "reset") and changes_role(c) then
      return deny("read-only access: changing role is not allowed")
    end
    return allow{ mask = PII, row_limit = 10000 }
  end

  if q.statement == "drop" or q.statement == "truncate" or q.statement == "alter" then
    return review{ reason = q.statement:upper() .. " needs a second person", approvers = { "dba-lead" } }
  end
  if (q.statement == "update" or q.statement == "delete") and not q.has_where then
    return deny(q.statement:upper() .. " without WHERE would change every row")
  end
  if commands.has(c.principals, "pii-reader") then return allow() end
  return allow{ mask = PII }
end
