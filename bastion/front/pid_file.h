// `pid_file`: written once bastiond listens, removed when it exits, and held
// under an exclusive flock for bastiond's whole life. The lock, not the pid
// written in it, says whether a bastiond runs: a pid can be reused by any
// program after a crash, a lock dies with its process. A file locked by
// another process refuses the start; an unlocked one is stale and replaced.
#pragma once
#include <memory>
#include <string>

namespace bastion {

class PidFile {
 public:
  static std::unique_ptr<PidFile> create(const std::string& path, std::string& error);
  ~PidFile();  // removes the file if it is still ours, then drops the lock
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

 private:
  PidFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;  // open (and locked) for our life
};

}  // namespace bastion
