// What the config reader needs of a target kind: the keys a target of that
// kind takes, how its settings and held credentials are read, and what
// `bastiond --check` checks. Each kind (bastion/targets/<kind>/) implements
// it; the config knows kinds only through this interface.
#pragma once
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_reader.h"

namespace bastion {

struct TargetConfig;

// A kind's own settings (host, port, ...) and one held credential (user,
// key, password, ...): the kind defines both.
struct TargetSettings {
  virtual ~TargetSettings() = default;
  // An admin's `recording = "off"` (kinds that offer it): channels run and
  // are decided and audited, but no asciicast is written.
  virtual bool recording_off() const { return false; }
};
struct HeldCredential {
  virtual ~HeldCredential() = default;
};

class TargetSchema {
 public:
  virtual ~TargetSchema() = default;
  // The config's `type = "..."`.
  virtual const char* type() const = 0;
  // Keys a target of this kind takes besides type, allow, labels, policy,
  // approvers and credentials (the credential "default"'s keys included).
  virtual std::set<std::string> keys() const = 0;
  // Keys a credential is made of: inside `credentials` exactly these.
  virtual std::set<std::string> credential_keys() const = 0;
  // Top-level keys whose presence makes the credential "default".
  virtual std::set<std::string> default_credential_keys() const { return credential_keys(); }
  virtual std::shared_ptr<const TargetSettings> read_settings(const TableReader& r) const = 0;
  // True when the settings alone make a default credential (a libpq service naming the user).
  virtual bool settings_make_default_credential(const TargetSettings&) const { return false; }
  // One credential: the target's top level (`top_level`) or an entry of its
  // `credentials`; the same keys, files and mode checks for both.
  virtual std::shared_ptr<const HeldCredential> read_credential(const TableReader& r, const TargetSettings& s,
                                                                bool top_level, bool check_files) const = 0;
  // With check_files, once the credentials are read: the files the settings name.
  virtual void check_setting_files(const TableReader&, const TargetSettings&) const {}
  // `bastiond --check`: problems in what load read (keys libssh cannot
  // load, missing programs), and warnings (once per `seen` key).
  virtual void check_files(const TargetConfig&, std::vector<std::string>&) const {}
  virtual void check_warnings(const TargetConfig&, std::set<std::string>& /*seen*/, std::vector<std::string>&) const {}
};

// The kinds a config may use, by type name.
class TargetSchemas {
 public:
  virtual ~TargetSchemas() = default;
  virtual const TargetSchema* schema(std::string_view type) const = 0;
  // In registration order, for messages.
  virtual std::vector<std::string> types() const = 0;
};

}  // namespace bastion
