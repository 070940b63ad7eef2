#include <catch2/catch.hpp>

#include <cstdint>

#include <poll.h>
#include <unistd.h>

#include "common/wake_list.h"

using namespace bastion;

namespace {

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

}  // namespace

TEST_CASE("wake_all makes every listed waker readable until it drains", "[wake_list]") {
  WakeList list;
  WakeList::Waker a(list), b(list);
  REQUIRE(a.fd() >= 0);
  REQUIRE(b.fd() >= 0);
  CHECK(list.size() == 2);
  CHECK_FALSE(readable(a.fd()));
  list.wake_all();
  list.wake_all();  // twice before the sleeper looks: still one drain
  CHECK(readable(a.fd()));
  CHECK(readable(b.fd()));
  a.drain();
  CHECK_FALSE(readable(a.fd()));
  CHECK(readable(b.fd()));
}

TEST_CASE("a waker leaves the list with its lifetime", "[wake_list]") {
  WakeList list;
  {
    WakeList::Waker a(list);
    CHECK(list.size() == 1);
  }
  CHECK(list.size() == 0);
  list.wake_all();  // writes to nothing that was closed
}
