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
--   * changes in production namespaces (delete, evict, scale, patch, apply...):
--     oncall, or an approved invocation;
--   * paths that are not resources (/metrics, /logs, /debug): oncall only;
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
  -- Paths that are not resources (/metrics, /logs/..., /debug/...; API
  -- discovery never reaches the policy): node logs and server internals.
  if r.resource == "" then
    if commands.has(c.principals, "oncall") then return allow() end
    return deny("the API server's " .. r.path .. " is for oncall only")
  end
  -- Cluster-wide requests (no namespace) count as production.
  local prod = r.namespace == "" or PRODUCTION[r.namespace] == true
  local what = r.verb .. " " .. r.resource .. (r.subresource ~= "" and "/" .. r.subresource or "")
  if commands.has(c.principals, "dev") and not API_READ[r.verb] then
    return deny("developers have read-only access: " .. what .. " is not allowed")
  end
  if API_CONNECT[r.verb] and prod then
    return deny(r.verb .. " is only allowed into non-production namespaces")
  end
  -- Any change in production (an eviction is a delete by another name;
  -- scale, patch, apply...) needs oncall, or a kubectl invocation a human
  -- approved at the first layer. A user's own kubectl has no invocation.
  if prod and not API_READ[r.verb] and not API_CONNECT[r.verb]
     and not commands.has(c.principals, "oncall") and not r.approved then
    local change = (r.resource == "pods" and r.subresource == "eviction") and "evicting" or
                   (r.verb == "delete" or r.verb == "deletecollection") and "deleting" or "changing"
    return deny(change .. " in production namespace " .. (r.namespace ~= "" and r.namespace or "(cluster)") ..
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
  -- Every change in production waits for oncall (the API layer refuses it
  -- otherwise, so asking here first gives a reviewable request).
  if prod and not READ_ONLY[verb] then
    return review{ reason = "kubectl " .. verb .. " in production namespace " .. k.namespace,
                   approvers = { "oncall" } }
  end
  if has(k.resources, "secrets") then return allow{ mask = SECRET_DATA } end
  return allow()
end
