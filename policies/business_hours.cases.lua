local prod = { env = "prod" }
cases = {
  -- 2026-11-30 is a Monday; Berlin is UTC+1 in winter.
  { name = "Monday 10:00 Berlin", hook = "on_session", labels = prod, principals = { "ops" },
    time = "2026-11-30T09:00:00Z", expect = "allow" },
  { name = "Monday 08:30 Berlin", hook = "on_session", labels = prod, principals = { "ops" },
    time = "2026-11-30T07:30:00Z", expect = "deny", reason = "Mon-Fri 09:00-18:00" },
  { name = "Monday 18:00 Berlin (end is exclusive)", hook = "on_session", labels = prod, principals = { "ops" },
    time = "2026-11-30T17:00:00Z", expect = "deny" },
  { name = "Saturday noon", hook = "on_session", labels = prod, principals = { "ops" },
    time = "2026-12-05T11:00:00Z", expect = "deny" },
  { name = "on-call at night", hook = "on_session", labels = prod, principals = { "ops", "oncall" },
    time = "2026-12-05T02:00:00Z", expect = "allow" },
  { name = "non-prod at night", hook = "on_session", labels = { env = "test" }, principals = { "ops" },
    time = "2026-12-05T02:00:00Z", expect = "allow" },
  { name = "summer time: Monday 2026-06-01 08:30 Berlin is 06:30Z", hook = "on_session", labels = prod,
    principals = { "ops" }, time = "2026-06-01T06:30:00Z", expect = "deny" },
  { name = "summer time: 09:30 Berlin is 07:30Z", hook = "on_session", labels = prod,
    principals = { "ops" }, time = "2026-06-01T07:30:00Z", expect = "allow" },
}
