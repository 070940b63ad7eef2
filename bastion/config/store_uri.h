// The `store` key: a PostgreSQL connection URI without a password (the
// password lives in store_password_file or libpq's passfile, never in the
// config, which bastiond logs paths and keys of and admins copy around).
#pragma once
#include <string>

namespace bastion {

// True for "postgresql://[user@]host[:port]/db[?params]" (or postgres://)
// with no password in it; false + why otherwise.
bool valid_store_uri(const std::string& uri, std::string& why);

}  // namespace bastion
