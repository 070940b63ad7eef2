// A PostgreSQL server message made fit for bastiond's log when the statement
// read masked columns: the server quotes the values it complains about
// ("invalid input syntax for type integer: \"alice@example.com\"", "Key
// (email)=(alice@example.com) already exists"), so every quoted or
// parenthesised run is replaced. A message the statement's own code wrote
// (RAISE, SQLSTATE class P0 and user-defined codes) can hold anything and
// is not kept at all.
#pragma once
#include <string>
#include <string_view>

namespace bastion {

// "" when the message cannot be kept (see above).
std::string redact_server_message(std::string_view sqlstate, std::string_view message);

}  // namespace bastion
