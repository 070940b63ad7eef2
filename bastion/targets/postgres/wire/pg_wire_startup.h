// What a wire client's StartupMessage may ask for. The SSH certificate
// authenticated the user and the policy chose the credential, so the
// user name is only recorded; the database must be the target's; session
// settings that could change who runs or what is decided (options, role,
// replication) are refused, and only harmless ones reach the server.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "targets/postgres/wire/pg_wire_messages.h"

namespace bastion::pgwire {

struct StartupVerdict {
  bool ok = false;
  std::string sqlstate, message;  // the FATAL the client gets when !ok
  std::string user;               // as the client named it (audit and log only)
  std::string application_name;
  std::vector<std::pair<std::string, std::string>> settings;  // DateStyle, TimeZone, ... for upstream
};

// Whether an encoding name is UTF8 as PostgreSQL spells it ("UTF8", "utf-8", "Unicode").
bool is_utf8_name(std::string_view name);

// `target_db`: the database the target serves ("" when its libpq service names it).
StartupVerdict check_startup(const StartupPacket& p, const std::string& target_db);

}  // namespace bastion::pgwire
