// What the bastion read from one SFTP request it decides (command kind
// "sftp"), as policies read it (c.sftp) and the audit row records it.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "policy/command_facts.h"
#include "policy/command_parser.h"

namespace bastion {

struct SftpOp {
  // open remove rename posix-rename mkdir rmdir setstat fsetstat lsetstat
  // symlink hardlink copy-data (extended: an unknown extended request).
  std::string op;
  // The file the operation acts on; for rename, symlink and hardlink the
  // source (for symlink: what the new link points to).
  std::string path;
  // rename, symlink, hardlink: the name created; copy-data: the file written.
  std::string target;
  std::vector<std::string> mode;  // open: read write append create truncate exclusive
  std::map<std::string, std::string> attrs;  // present attributes: size uid gid perm (octal) atime mtime
};

// The operations the bastion decides, and the names of an open's mode.
bool is_sftp_op(const std::string& op);
bool is_sftp_mode(const std::string& mode);
// "OP PATH[ -> TARGET][ MODE,...|ATTR=V,...]": the audit text. Attributes
// are in it for the setstat family only (they are the whole operation).
std::string sftp_text(const SftpOp& op);

// An operation as `bastionctl policy test --kind sftp` and policy cases
// give it: the audit text ("open /srv/a write,create", "rename a -> b",
// "setstat f perm=0600"), with a case's fields op, path, to (the target
// path), mode ("read,write") and attrs ("perm=0600,size=0") on top (for
// paths with spaces). False + why when it is not an operation.
bool parse_sftp_op(const std::string& text, const CommandOptions& options, SftpOp& out, std::string& error);

class SftpFacts : public CommandFacts {
 public:
  explicit SftpFacts(SftpOp o) : op(std::move(o)) {}
  const char* field() const override { return "sftp"; }
  void describe(FactWriter& out) const override;
  std::string audit_details() const override;
  const SftpOp op;
};

}  // namespace bastion
