// What a command source parsed out of one command (a statement's reads and
// writes, an invocation's verb, an API request's resource), for
// the policy (`c.<field>`) and the audit row's `details`. The target kind
// that parses a command owns its facts; the policy only reads them through
// FactWriter, so policy code knows no target kind.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bastion {

// Builds one read-only table for the policy. Records are tables inside a
// list (c.<field>.sets = { {name=, value=, reset=}, ... }).
class FactWriter {
 public:
  virtual ~FactWriter() = default;
  virtual void text(const char* key, std::string_view value) = 0;
  virtual void flag(const char* key, bool value) = 0;
  virtual void list(const char* key, const std::vector<std::string>& values) = 0;
  virtual void map(const char* key, const std::map<std::string, std::string>& values) = 0;
  virtual void begin_records(const char* key) = 0;
  virtual void begin_record() = 0;
  virtual void end_record() = 0;
  virtual void end_records() = 0;
};

class CommandFacts {
 public:
  virtual ~CommandFacts() = default;
  // The context field policies read them from (c.<field>), one per command kind.
  virtual const char* field() const = 0;
  virtual void describe(FactWriter& out) const = 0;
  // JSON for the audit row's `details` (what an auditor searches for).
  virtual std::string audit_details() const = 0;
};

}  // namespace bastion
