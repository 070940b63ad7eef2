-- Production targets (label env = "prod") only during business hours in
-- Berlin, except for principal "oncall". Decided once per session.
local commands = import("commands")

function on_session(s)
  if s.target.labels.env ~= "prod" or commands.has(s.principals, "oncall") then
    return nil
  end
  if bastion.within("Mon-Fri 09:00-18:00", "Europe/Berlin") then
    -- Outside on-call, keep production sessions short and quiet ones closed.
    return allow{ idle_timeout = 900, max_session_length = 4 * 3600 }
  end
  return deny("production access is limited to Mon-Fri 09:00-18:00 Europe/Berlin (ask on-call)")
end

function on_command(c)
  return allow()
end
