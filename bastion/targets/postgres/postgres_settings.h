// A postgres target's settings and held credential, as its config reads them.
#pragma once
#include <cstdint>
#include <string>

#include "common/secret_file.h"
#include "config/config.h"

namespace bastion {

struct PostgresSettings : TargetSettings {
  std::string host;            // host name, address, or a socket folder
  int port = 5432;
  std::string dbname;
  std::string service;         // or a libpq service (pg_service.conf)
  std::string sslmode;         // libpq sslmode; default "prefer"
  std::string sslrootcert;
  int connect_timeout = 10;    // seconds
  int64_t row_limit = 100000;  // rows shown per statement; 0 = no cap
  int statement_timeout = 0;   // seconds; 0 = the server's setting
};

struct PostgresCredential : HeldCredential {
  std::string user;           // may come from the service
  std::string password_file;  // the password, alone in a file only bastiond can read
  std::string passfile;       // or a libpq password file (.pgpass format)
  HeldSecret password;        // password_file's first line
  HeldSecret passfile_text;   // passfile's content
};


inline const PostgresSettings& postgres_settings(const TargetConfig& t) {
  return kind_part<PostgresSettings>(t.settings.get());
}

}  // namespace bastion
