// Reading and writing a whole (small) file: configs, policies, KRLs, case tables, and
// (through secret_file.h) held credentials.
#pragma once
#include <sys/stat.h>

#include <string>

namespace bastion {

// Opens `path` for reading without blocking on a FIFO or a device and
// checks, on the file actually opened, that it is a regular file. Returns
// the descriptor (with `st` filled) or -1 with `why` set.
int open_regular_file(const std::string& path, struct stat& st, std::string& why);

// Reads `fd` to its end into `out` (appending); false on a read error.
bool read_all(int fd, std::string& out);

// False when the file cannot be opened or is not a regular file (a FIFO or
// a device would block the reader, or never end); `out` then stays empty.
bool read_file(const std::string& path, std::string& out);
// The same, with the reason when it fails: the OS's ("No such file or
// directory", "Permission denied") or "not a regular file".
bool read_file(const std::string& path, std::string& out, std::string& why);

// Writes `text` to `path` (mode `mode`, synced) so a reader never sees half
// of it: through PATH.tmp and a rename, or, when `exclusive`, straight into
// a file that must not exist yet (two processes never both write it).
// False with `error` (naming the file and the OS's reason).
bool write_file_atomic(const std::string& path, const std::string& text, mode_t mode, bool exclusive,
                       std::string& error);

}  // namespace bastion
