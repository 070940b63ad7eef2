-- PostgreSQL targets (c.kind == "sql"; c.sql says what the statement does,
-- as the real PostgreSQL parser sees it, and what it cannot see).
--   * analysts (principal "analyst"): connect with the target's "readonly"
--     credential (a database role with SELECT-only grants: PostgreSQL itself
--     refuses their writes, whatever the SQL text hides), personal data masked;
--   * everyone else connects with the target's default credential;
--   * statements whose effect the text does not show (c.sql.opaque: DO, CALL,
--     EXECUTE, functions outside the side-effect-free catalog, CREATE
--     FUNCTION/RULE/TRIGGER, ...) are denied to analysts and wait for a review
--     by "dba-lead" for everyone else below "dba-admin";
--   * session settings that would undo a read-only role or hide activity
--     (role, session_authorization, RESET ALL, log_*, ...) are denied below
--     "dba-admin";
--   * DROP, TRUNCATE and ALTER wait for a review by "dba-lead";
--   * UPDATE/DELETE without WHERE is refused, also inside a CTE or PREPARE;
--   * personal data is masked for everyone but "pii-reader";
--   * SQL that does not parse is refused (it cannot be judged).
-- The database role the bastion logs in with is the real boundary: the
-- classifier reads SQL text, and the server runs code the text does not show.
local commands = import("commands")

-- Result columns masked before anyone sees them (user, recording, logs).
-- Output patterns apply too (e.g. API keys pasted into free-text columns).
local PII = { columns = { "email", ["customers.ssn"] = "last:4", phone = "hash" },
              patterns = { [[sk_live_[0-9A-Za-z]+]] }, replacement = "[key]" }

-- Principals whose statements only the database role bounds (see bastion-policy(5)).
local ADMIN = "dba-admin"

-- Values PostgreSQL reads as true for a boolean setting.
local TRUE_WORDS = { on = true, ["true"] = true, tru = true, tr = true, t = true, yes = true, ye = true,
                     y = true, ["1"] = true }

-- search_path with pg_catalog after another schema makes an unqualified
-- function name (lower, count, ...) resolve to a user's function of that name.
local function shadows_catalog(value)
  local v = value:lower()
  local at = v:find("pg_catalog", 1, true)
  return at ~= nil and not v:match('^%s*"?pg_catalog')
end

-- Why changing this setting is refused, or nil: settings that undo a
-- read-only database role or hide what the session does.
local function refused_setting(s, analyst)
  local n = s.name
  if n == "role" or n == "session_authorization" then return "changing role is not allowed" end
  if n == "all" then return "resetting every setting is not allowed" end
  if n:sub(1, 4) == "log_" or n == "session_replication_role" then
    return "changing " .. n .. " would hide activity"
  end
  if n == "default_transaction_read_only" or n == "transaction_read_only" then
    if s.reset or not TRUE_WORDS[s.value:lower()] then return "turning off read-only is not allowed" end
  end
  if n == "search_path" and (analyst or shadows_catalog(s.value)) then
    return "changing search_path is not allowed"
  end
  return nil
end

local function no_where(q)
  if not q.writes_data or q.has_where then return nil end
  if q.statement == "update" or q.statement == "delete" then
    return q.statement:upper() .. " without WHERE would change every row"
  end
  return "an UPDATE or DELETE without WHERE inside this " .. q.statement:upper() .. " would change every row"
end

-- For everyone below ADMIN: settings and statements the text cannot show.
local function below_admin(q, analyst)
  for _, s in ipairs(q.sets) do
    local why = refused_setting(s, analyst)
    if why then return deny(why .. " (" .. s.name .. ")") end
  end
  if not q.opaque then return nil end
  local what = "the bastion cannot see what this statement does: " .. table.concat(q.opaque_reasons, "; ")
  if analyst then return deny(what) end
  local nw = no_where(q)
  if nw then return deny(nw) end
  return review{ reason = what, approvers = { "dba-lead" } }
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

  local analyst = commands.has(c.principals, "analyst")
  if not commands.has(c.principals, ADMIN) then
    local d = below_admin(q, analyst)
    if d then return d end
  end

  if analyst then
    if q.writes_data then
      local what = q.statement
      if what == "select" or what == "explain" then what = "a write inside " .. what end
      return deny("read-only access: " .. what .. " is not allowed")
    end
    return allow{ mask = PII, row_limit = 10000 }
  end

  if q.statement == "drop" or q.statement == "truncate" or q.statement == "alter" then
    return review{ reason = q.statement:upper() .. " needs a second person", approvers = { "dba-lead" } }
  end
  local nw = no_where(q)
  if nw then return deny(nw) end
  if commands.has(c.principals, "pii-reader") then return allow() end
  return allow{ mask = PII }
end
