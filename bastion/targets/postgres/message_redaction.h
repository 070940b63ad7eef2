// A PostgreSQL server message made fit for bastiond's log when the statement
// read masked columns: the server quotes the values it complains about
// ("invalid input syntax for type integer: \"alice@example.com\"", "Key
// (email)=(alice@example.com) already exists"), so every quoted or
// parenthesised run is replaced. A message code in the database may have
// written (anything raised inside a function or DO block: it has a CONTEXT,
// and RAISE may choose any SQLSTATE), a notice or warning, or a code outside
// PostgreSQL's own error classes, can hold anything and is not kept at all.
#pragma once
#include <string>
#include <string_view>

namespace bastion {

// "" when the message cannot be kept (see above).
std::string redact_server_message(std::string_view sqlstate, std::string_view message, std::string_view context);

}  // namespace bastion
