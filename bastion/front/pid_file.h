// `pid_file`: written once bastiond listens, removed when it exits. A file
// that names a live process refuses the start (another bastiond, most
// likely); one naming a dead process is replaced.
#pragma once
#include <memory>
#include <string>

namespace bastion {

class PidFile {
 public:
  static std::unique_ptr<PidFile> create(const std::string& path, std::string& error);
  ~PidFile();  // removes the file if it still holds this process's pid
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

 private:
  explicit PidFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace bastion
