#include "targets/postgres/wire/pg_wire_startup.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace bastion::pgwire {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

StartupVerdict fatal(std::string sqlstate, std::string message) {
  StartupVerdict v;
  v.sqlstate = std::move(sqlstate);
  v.message = std::move(message);
  return v;
}

}  // namespace

bool is_utf8_name(std::string_view v) {
  std::string n;
  for (char c : v)
    if (c != '-' && c != '_') n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n == "utf8" || n == "unicode";
}

StartupVerdict check_startup(const StartupPacket& p, const std::string& target_db) {
  // Settings that change nothing a policy decides or a mask relies on.
  static constexpr std::array<const char*, 4> kPassed = {"datestyle", "timezone", "intervalstyle", "extra_float_digits"};
  StartupVerdict v;
  std::string database;
  for (const auto& [raw_name, value] : p.params) {
    const std::string name = lower(raw_name);
    if (name == "user") {
      v.user = value;
    } else if (name == "database") {
      database = value;
    } else if (name == "replication") {
      const std::string r = lower(value);
      if (r != "false" && r != "off" && r != "no" && r != "0")
        return fatal("28000", "bastion: replication connections are not allowed through the bastion");
    } else if (name == "options") {
      // `-c role=...`, `-c session_authorization=...` and the like are side doors.
      if (!value.empty())
        return fatal("42501", "bastion: startup options are not allowed through the bastion (set harmless "
                              "settings with SET, which the policy decides)");
    } else if (name == "application_name") {
      v.application_name = value.substr(0, 63);
    } else if (name == "client_encoding") {
      // The bastion reads SQL and masks text as UTF-8: the connection is
      // UTF8 whatever was asked (the client learns it by ParameterStatus).
    } else if (std::find(kPassed.begin(), kPassed.end(), name) != kPassed.end()) {
      v.settings.emplace_back(name, value);
    } else if (name.rfind("_pq_.", 0) == 0) {
      // Protocol extensions: not offered (the server would answer NegotiateProtocolVersion).
    } else {
      return fatal("42501", "bastion: the startup parameter \"" + raw_name +
                                "\" is not allowed through the bastion (use SET, which the policy decides)");
    }
  }
  if (!database.empty() && !target_db.empty() && database != target_db)
    return fatal("3D000", "bastion: this target serves database \"" + target_db + "\", not \"" + database + "\"");
  if (!database.empty() && target_db.empty())
    return fatal("3D000", "bastion: this target's database is set by its libpq service; connect without dbname");
  v.ok = true;
  return v;
}

}  // namespace bastion::pgwire
