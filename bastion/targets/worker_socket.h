// A tunnel executor's end of the socketpair to an in-process worker (the
// HTTP target's relay thread, the kubectl target's API proxy): client bytes
// queue here up to a bound and go to the worker as it takes them; the
// client's EOF becomes shutdown(SHUT_WR) once they are all sent; the
// worker's bytes are read without blocking, at most a budget per pass.
//
// It says which poll events should wake the session loop: POLLIN while
// output is wanted, POLLOUT while input waits for room. Without POLLOUT, a
// request's last bytes left queued after the client went quiet would wait
// for an unrelated wake-up while the worker waits for them.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace bastion {

class WorkerSocket {
 public:
  // The poll events on fd the session loop should wake for (0: none).
  using Watch = std::function<void(int fd, short events)>;
  // Owns `fd` from now on.
  WorkerSocket(int fd, std::size_t max_pending, Watch watch);
  ~WorkerSocket();
  WorkerSocket(const WorkerSocket&) = delete;
  WorkerSocket& operator=(const WorkerSocket&) = delete;

  bool is_open() const { return fd_ >= 0; }
  // Room for more client bytes: 0 once closed, after EOF, or while
  // max_pending bytes wait. Also sends what waits, if the worker has room.
  std::size_t capacity();
  // Queues `data` and sends what the worker takes now; false once closed or
  // after EOF. A worker that closed its end drops what waits.
  bool write(std::string_view data);
  // No more client bytes: the worker sees EOF once the queue is sent.
  void send_eof();
  // Sends what waits, as far as the worker has room (each pass calls it).
  void flush();
  void set_output_wanted(bool wanted);

  enum class Read { budget_spent, would_block, closed };
  // Reads the worker's bytes into `sink`, at most `budget`. `closed`: the
  // worker ended the connection (or it failed); the socket is then closed.
  Read read(std::size_t budget, const std::function<void(std::string_view)>& sink);
  // Stops watching, drops what waits and closes the socket.
  void close();

 private:
  void update_watch();

  int fd_;
  const std::size_t max_pending_;
  Watch watch_;
  std::string pending_;
  bool eof_in_ = false, eof_sent_ = false, output_wanted_ = false;
  short watched_ = 0;
};

}  // namespace bastion
