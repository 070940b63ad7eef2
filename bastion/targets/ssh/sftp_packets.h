// The SFTP v3 wire format (draft-ietf-secsh-filexfer-02, as OpenSSH speaks
// it), as far as the bastion must read it to decide each file operation:
// framing of a byte stream into packets (both directions), decoding of the
// requests it decides and of the replies it accounts for, and the STATUS
// reply it sends for a refused request. Pure code: no libssh, no policy.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace bastion::sftp {

// OpenSSH's SFTP_MAX_MSG_LENGTH: the largest packet (type + body, without
// the 4 length bytes) either side may send.
constexpr uint32_t kMaxPacket = 256 * 1024;

// Packet types (v3).
enum Type : uint8_t {
  kInit = 1, kVersion = 2, kOpen = 3, kClose = 4, kRead = 5, kWrite = 6, kLstat = 7, kFstat = 8,
  kSetstat = 9, kFsetstat = 10, kOpendir = 11, kReaddir = 12, kRemove = 13, kMkdir = 14, kRmdir = 15,
  kRealpath = 16, kStat = 17, kRename = 18, kReadlink = 19, kSymlink = 20,
  kStatus = 101, kHandle = 102, kData = 103, kName = 104, kAttrs = 105,
  kExtended = 200, kExtendedReply = 201,
};

// STATUS codes (v3).
enum Status : uint32_t {
  kOk = 0, kEof = 1, kNoSuchFile = 2, kPermissionDenied = 3, kFailure = 4, kBadMessage = 5,
  kNoConnection = 6, kConnectionLost = 7, kOpUnsupported = 8,
};

// OPEN pflags.
enum Pflags : uint32_t {
  kFxfRead = 0x01, kFxfWrite = 0x02, kFxfAppend = 0x04, kFxfCreat = 0x08, kFxfTrunc = 0x10, kFxfExcl = 0x20,
};

// ATTRS flags.
enum AttrFlags : uint32_t {
  kAttrSize = 0x1, kAttrUidGid = 0x2, kAttrPermissions = 0x4, kAttrAcModTime = 0x8, kAttrExtended = 0x80000000u,
};

// Splits one direction of the stream into packets. A packet is returned
// whole, with its 4 length bytes, so it can be relayed as it came.
class Framer {
 public:
  enum class Next { packet, need_more, error };
  void feed(std::string_view bytes);
  // The next complete packet, valid until the next feed() or take_rest().
  // error: a length of 0 or above kMaxPacket (see error()); the stream
  // cannot be framed any further.
  Next next(std::string_view& packet);
  // Bytes not handed out yet (0: at a packet boundary).
  std::size_t held() const { return buf_.size() - off_; }
  // Everything held, for relaying a truncated tail as it is.
  std::string take_rest();
  const std::string& error() const { return error_; }

 private:
  std::string buf_;
  std::size_t off_ = 0;
  std::string error_;
};

struct Attrs {
  uint32_t flags = 0;
  std::optional<uint64_t> size;
  std::optional<uint32_t> uid, gid, perm, atime, mtime;
  uint32_t extended_count = 0;
  // What a policy and the audit see: size, uid, gid, perm (octal), atime, mtime.
  std::map<std::string, std::string> facts() const;
};

// One client request, with the fields the bastion needs. `payload` is the
// packet without its length.
struct Request {
  uint8_t type = 0;
  uint32_t id = 0;  // INIT: the client's version
  std::string path, path2;      // OPEN MKDIR ... (path); RENAME SYMLINK hardlink (both)
  uint32_t pflags = 0;          // OPEN
  Attrs attrs;                  // OPEN MKDIR SETSTAT FSETSTAT lsetstat
  std::string handle, handle2;  // CLOSE READ WRITE FSETSTAT FSTAT READDIR; copy-data (read, write)
  uint64_t offset = 0;          // READ WRITE, copy-data (read offset)
  uint64_t length = 0;          // READ (asked), WRITE (data bytes), copy-data (read length)
  std::string extended;         // EXTENDED: the request name
};

// Decodes a request as OpenSSH's sftp-server does (trailing bytes are
// ignored, as it ignores them). Fields of requests the bastion relays
// without deciding (STAT, READDIR, harmless extended ones) are not read
// beyond the id. False + why for a request whose fields do not decode, or
// a path or handle with a NUL byte (the server would read a shorter one).
bool decode_request(std::string_view payload, Request& out, std::string& error);

// One reply from the server, with what the bastion accounts for.
struct Reply {
  uint8_t type = 0;
  uint32_t id = 0;       // VERSION: the server's version
  uint32_t status = 0;   // STATUS
  std::string message;   // STATUS
  std::string handle;    // HANDLE
  uint64_t data_len = 0; // DATA
};
bool decode_reply(std::string_view payload, Reply& out, std::string& error);

// A whole STATUS packet (length included), lang tag "".
std::string encode_status(uint32_t id, uint32_t code, std::string_view message);

}  // namespace bastion::sftp
