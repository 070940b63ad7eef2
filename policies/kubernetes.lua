-- Kubernetes targets (c.kind == "kubectl"; c.kubectl says what the
-- invocation does: verb, resources (normalised: po -> pods), names,
-- namespace, exec_command, flags). Credential-escaping flags and verbs
-- (--kubeconfig, --token, config, proxy, port-forward, cp, edit, plugins,
-- files on the bastion host) are refused by the bastion before this runs.
--   * developers (principal "dev"): read-only verbs only;
--   * delete, scale and rollout in production namespaces wait for "oncall";
--   * exec/attach/debug only into non-production namespaces;
--   * secrets read as YAML/JSON have their data values masked.
local commands = import("commands")

local PRODUCTION = { web = true, payments = true, ["kube-system"] = true, ["*"] = true }

local READ_ONLY = {
  get = true, describe = true, logs = true, top = true, explain = true, events = true,
  ["api-resources"] = true, ["api-versions"] = true, version = true, ["cluster-info"] = true,
  ["auth can-i"] = true, ["auth whoami"] = true, ["rollout status"] = true, ["rollout history"] = true,
  wait = true,
}

local CHANGES_RUNNING = { delete = true, scale = true, drain = true, cordon = true }

-- Secret values in -o yaml (key: base64) and -o json ("key": "base64").
local SECRET_DATA = {
  patterns = { [[(?m)^(\s+[\w.-]+: )[A-Za-z0-9+/]{4,}={0,2}$]], [[("[\w.-]+": ")[A-Za-z0-9+/]{4,}={0,2}(")]] },
  replacement = "****",
}

local function has(list, x)
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end

function on_command(c)
  if c.kind ~= "kubectl" then return nil end
  local k = c.kubectl
  local verb = k.verb
  local prod = PRODUCTION[k.namespace] == true

  if commands.has(c.principals, "dev") and not READ_ONLY[verb] then
    return deny("developers have read-only access: kubectl " .. verb .. " is not allowed")
  end
  if verb == "exec" or verb == "attach" or verb == "debug" then
    if prod then return deny(verb .. " is only allowed into non-production namespaces") end
  end
  if prod and (CHANGES_RUNNING[verb] or verb:find("^rollout ") and not READ_ONLY[verb]) then
    return review{ reason = "kubectl " .. verb .. " in production namespace " .. k.namespace,
                   approvers = { "oncall" } }
  end
  if has(k.resources, "secrets") then return allow{ mask = SECRET_DATA } end
  return allow()
end
