#include "common/listener_thread.h"

#include <httplib.h>

#include <chrono>

#include "common/log.h"

namespace bastion {

void ListenerThread::start(httplib::Server& http, std::string name) {
  http_ = &http;
  thread_ = std::thread([this, name = std::move(name)] {
    if (!http_->listen_after_bind()) log_error(name + ": the listener stopped");
    finished_ = true;
  });
}

void ListenerThread::stop() {
  if (!thread_.joinable()) return;
  while (!finished_) {
    http_->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  thread_.join();
}

ListenerThread::~ListenerThread() { stop(); }

}  // namespace bastion
