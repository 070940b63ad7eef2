-- Kubernetes targets, decided in two layers:
--  1. c.kind == "kubectl": the invocation as typed (c.kubectl: verb,
--     resources, names, namespace, exec_command, flags). The friendly layer:
--     it refuses early with a clear message and holds production changes
--     for "oncall" approval. Credential-escaping flags and verbs are refused
--     by the bastion before this runs.
--  2. c.kind == "kube_request": each Kubernetes API request kubectl then
--     makes (c.kube: verb, group, version, resource, subresource, namespace,
--     name, command, path, method, invocation, approved, own_kubectl). The
--     layer that holds: what kubectl actually does, whatever its argv said.
--     Users' own kubectl (through `ssh -N -L 6443:TARGET:443`) meets only
--     this layer (own_kubectl = true, no invocation).
--   * developers (principal "dev"): read-only (get, list, watch);
--   * deletes in production namespaces: oncall, or an approved invocation;
--   * exec/attach/port-forward only into non-production namespaces;
--   * Secrets are readable only masked (values replaced in the API response).
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

-- Every Secret in a response is masked when the decision masks (mask =
-- SECRET_DATA below also covers the terminal output of the invocation).
local API_READ = { get = true, list = true, watch = true }
local API_CONNECT = { exec = true, attach = true, portforward = true, proxy = true }

local function on_kube_request(c)
  local r = c.kube
  -- Cluster-wide requests (no namespace) count as production.
  local prod = r.namespace == "" or PRODUCTION[r.namespace] == true
  local what = r.verb .. " " .. r.resource .. (r.subresource ~= "" and "/" .. r.subresource or "")
  if commands.has(c.principals, "dev") and not API_READ[r.verb] then
    return deny("developers have read-only access: " .. what .. " is not allowed")
  end
  if API_CONNECT[r.verb] and prod then
    return deny(r.verb .. " is only allowed into non-production namespaces")
  end
  if prod and (r.verb == "delete" or r.verb == "deletecollection")
     and not commands.has(c.principals, "oncall") and not r.approved then
    return deny("deleting in production namespace " .. (r.namespace ~= "" and r.namespace or "(cluster)") ..
                " needs oncall or an approved kubectl invocation")
  end
  if r.resource == "secrets" then return allow{ mask = SECRET_DATA } end
  return allow()
end

function on_command(c)
  if c.kind == "kube_request" then return on_kube_request(c) end
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
