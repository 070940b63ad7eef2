#include "targets/ssh/sftp_facts.h"

#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace bastion {
namespace {

bool sets_attrs(const std::string& op) { return op == "setstat" || op == "fsetstat" || op == "lsetstat"; }

bool parse_mode(const std::string& s, std::vector<std::string>& out, std::string& error) {
  out = split_commas(s);
  for (const auto& m : out)
    if (!is_sftp_mode(m)) return error = "not an open mode: " + m + " (read, write, append, create, truncate, exclusive)", false;
  return true;
}

bool parse_attrs(const std::string& s, std::map<std::string, std::string>& out, std::string& error) {
  static const std::set<std::string> keys = {"size", "uid", "gid", "perm", "atime", "mtime"};
  out.clear();
  for (const auto& kv : split_commas(s)) {
    const auto eq = kv.find('=');
    const std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (!keys.count(k)) return error = "not an attribute: " + k + " (size, uid, gid, perm, atime, mtime)", false;
    const char* digits = k == "perm" ? "01234567" : "0123456789";
    if (v.empty() || v.size() > 20 || v.find_first_not_of(digits) != std::string::npos)
      return error = "attribute " + k + ": not a" + (k == "perm" ? "n octal" : "") + " number: " + v, false;
    out[k] = v;
  }
  return true;
}

}  // namespace

bool is_sftp_op(const std::string& op) {
  static const std::set<std::string> ops = {"open",    "remove",   "rename",   "posix-rename", "mkdir",
                                            "rmdir",   "setstat",  "fsetstat", "lsetstat",     "symlink",
                                            "hardlink", "copy-data", "extended"};
  return ops.count(op) > 0;
}

bool is_sftp_mode(const std::string& mode) {
  static const std::set<std::string> modes = {"read", "write", "append", "create", "truncate", "exclusive"};
  return modes.count(mode) > 0;
}

std::string sftp_text(const SftpOp& o) {
  std::string t = o.op + " " + o.path;
  if (!o.target.empty()) t += " -> " + o.target;
  if (!o.mode.empty()) t += " " + join(o.mode, ",");
  if (sets_attrs(o.op) && !o.attrs.empty()) {
    std::vector<std::string> kv;
    for (const auto& [k, v] : o.attrs) kv.push_back(k + "=" + v);
    t += " " + join(kv, ",");
  }
  return t;
}

bool parse_sftp_op(const std::string& text, const CommandOptions& options, SftpOp& out, std::string& error) {
  std::vector<std::string> w;
  std::istringstream in(text);
  for (std::string t; in >> t;) w.push_back(t);
  out = SftpOp{};
  if (!w.empty()) out.op = w[0];
  std::size_t rest = 2;
  if (w.size() >= 4 && w[2] == "->") {
    out.target = w[3];
    rest = 4;
  }
  if (w.size() >= 2) out.path = w[1];
  if (w.size() > rest + 1) return error = "expected OP PATH [-> TARGET] [MODE,...|ATTR=VALUE,...]: " + text, false;
  if (w.size() == rest + 1) {
    const bool ok = w[rest].find('=') != std::string::npos ? parse_attrs(w[rest], out.attrs, error)
                                                            : parse_mode(w[rest], out.mode, error);
    if (!ok) return false;
  }
  auto opt = [&](const char* k) { return options.find(k); };
  if (auto it = opt("op"); it != options.end()) out.op = it->second;
  if (auto it = opt("path"); it != options.end()) out.path = it->second;
  // "to", not "target": a case's target is the session's.
  if (auto it = opt("to"); it != options.end()) out.target = it->second;
  if (auto it = opt("mode"); it != options.end() && !parse_mode(it->second, out.mode, error)) return false;
  if (auto it = opt("attrs"); it != options.end() && !parse_attrs(it->second, out.attrs, error)) return false;
  if (!is_sftp_op(out.op))
    return error = "not an sftp operation: \"" + out.op +
                   "\" (open, remove, rename, posix-rename, mkdir, rmdir, setstat, fsetstat, lsetstat, symlink, "
                   "hardlink, copy-data, extended)",
           false;
  if (out.path.empty()) return error = "sftp " + out.op + ": no path", false;
  if (!out.mode.empty() && out.op != "open") return error = "sftp " + out.op + ": only open has a mode", false;
  return true;
}

void SftpFacts::describe(FactWriter& out) const {
  out.text("op", op.op);
  out.text("path", op.path);
  out.text("target", op.target);
  out.list("mode", op.mode);
  out.map("attrs", op.attrs);
}

std::string SftpFacts::audit_details() const {
  nlohmann::json j = {{"op", op.op}, {"path", op.path}};
  if (!op.target.empty()) j["target"] = op.target;
  if (!op.mode.empty()) j["mode"] = op.mode;
  if (!op.attrs.empty()) j["attrs"] = op.attrs;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace bastion
