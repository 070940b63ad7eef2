-- Everything allowed, with secrets masked in the output before the user or
-- the recording sees them. Patterns are RE2 (linear time) and match within a line.
local secrets = {
  patterns = {
    [[AKIA[0-9A-Z]{16}]],                                  -- AWS access key IDs
    [[(?i)bearer [A-Za-z0-9._~+/-]{16,}=*]],               -- bearer tokens
    [[(?i)((?:password|passwd|secret|token)\s*[=:]\s*)\S+]], -- key=value secrets (the key is kept)
    [[\b(?:\d[ -]?){13,16}\b]],                            -- card numbers
    [[-----BEGIN [A-Z ]*PRIVATE KEY-----]],                -- private key headers
  },
  replacement = "[MASKED]",
}

function on_command(c)
  return allow{ mask = secrets }
end
